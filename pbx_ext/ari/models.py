"""ARI resources and events as typed, frozen dataclasses, parsed from Asterisk's JSON.

No I/O here: the REST client and the event stream hand JSON in, and get these values out.
Field names and shapes follow Asterisk's own description of the API
(``/ari/api-docs/{channels,bridges,endpoints,playbacks,events}.json`` on Asterisk 22), checked
against events captured from Asterisk 22.10.1 (``tests/data/ari/``).

Parsing rules, the same for every type:

- keys Asterisk may add in a later version are ignored;
- a key that ARI documents as optional, or that older versions leave out, gets a neutral
  default (``""``, ``()``, ``None``); e.g. ``soft`` is simply absent from a
  ``ChannelHangupRequest`` for a hard hangup;
- a key we cannot do without (an id, an event's ``type``/``application``/``timestamp``), or any
  key whose value has the wrong JSON type, raises ``ProtocolError`` naming the field;
- an event whose ``type`` we do not model becomes ``UnknownEvent`` carrying the raw JSON: new
  Asterisk versions add events, and that must never break the stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

from pbx_ext.ari.errors import ProtocolError

# -- JSON field readers ------------------------------------------------------------------------
# Each takes the object, the key and a label for error messages ("Channel.id").

_MISSING: Any = object()


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = data.get(key, _MISSING)
    if (value is _MISSING or value is None) and default is not None:
        return default
    if not isinstance(value, str):
        raise ProtocolError(f"{what}.{key}: expected a string, got {_kind(value)}")
    return value


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    if data.get(key) is None:
        return None
    return _str(data, key, what)


def _int(data: Mapping[str, Any], key: str, what: str, default: int | None = None) -> int:
    value = data.get(key, _MISSING)
    if (value is _MISSING or value is None) and default is not None:
        return default
    # bool is an int in Python, never in ARI's JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{what}.{key}: expected an integer, got {_kind(value)}")
    return value


def _opt_int(data: Mapping[str, Any], key: str, what: str) -> int | None:
    if data.get(key) is None:
        return None
    return _int(data, key, what)


def _bool(data: Mapping[str, Any], key: str, what: str, default: bool) -> bool:
    value = data.get(key, _MISSING)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        raise ProtocolError(f"{what}.{key}: expected true or false, got {_kind(value)}")
    return value


def _str_tuple(data: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = data.get(key, _MISSING)
    if value is _MISSING:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProtocolError(f"{what}.{key}: expected a list of strings, got {_kind(value)}")
    return tuple(value)


def _time(data: Mapping[str, Any], key: str, what: str) -> datetime:
    text = _str(data, key, what)
    try:
        # Asterisk writes "2026-11-25T23:40:02.459+0000"; Python 3.11 reads the +HHMM offset.
        return datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(f"{what}.{key}: not an ISO 8601 time: {text!r}") from None


def _opt_time(data: Mapping[str, Any], key: str, what: str) -> datetime | None:
    if data.get(key) is None:
        return None
    return _time(data, key, what)


def _str_map(data: Mapping[str, Any], key: str, what: str) -> Mapping[str, str]:
    value = _object(data.get(key, {}), f"{what}.{key}")
    if not all(isinstance(v, str) for v in value.values()):
        raise ProtocolError(f"{what}.{key}: expected string values")
    return MappingProxyType(dict(value))


def _kind(value: object) -> str:
    return "nothing" if value is _MISSING else type(value).__name__


# -- Resources ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerId:
    """ARI ``CallerID``: ``{"name": "Alice", "number": "1001"}``; both may be empty."""

    name: str
    number: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallerId:
        data = _object(data, "CallerID")
        return cls(
            name=_str(data, "name", "CallerID", ""), number=_str(data, "number", "CallerID", "")
        )


_NO_CALLER = CallerId(name="", number="")


@dataclass(frozen=True, slots=True)
class DialplanCep:
    """Where a channel is in the dialplan, e.g. ``from-users,100,1`` running ``Stasis``."""

    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DialplanCep:
        what = "DialplanCEP"
        data = _object(data, what)
        return cls(
            context=_str(data, "context", what, ""),
            exten=_str(data, "exten", what, ""),
            priority=_int(data, "priority", what, 0),
            app_name=_str(data, "app_name", what, ""),
            app_data=_str(data, "app_data", what, ""),
        )


# A channel name is "<tech>/<resource>-<8 lowercase hex digits>", and for Local channels
# ";1" or ";2" after that (Asterisk's ast_channel_alloc formats the sequence with "%08x").
# The resource itself may contain dashes ("PJSIP/trunk-prov-0000000a"), so only this exact
# tail is removed.
_CHANNEL_SEQUENCE = re.compile(r"-[0-9a-fA-F]{8}(?:;[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class Channel:
    """ARI ``Channel``. ``channelvars`` holds only the variables listed in ari.conf's
    ``channelvars`` option; it is empty otherwise."""

    id: str
    name: str
    state: str
    caller: CallerId = _NO_CALLER
    connected: CallerId = _NO_CALLER
    accountcode: str = ""
    dialplan: DialplanCep | None = None
    creationtime: datetime | None = None
    language: str = ""
    channelvars: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    protocol_id: str = ""
    """The SIP Call-ID for a PJSIP channel, ``""`` for others."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Channel:
        what = "Channel"
        data = _object(data, what)
        dialplan = data.get("dialplan")
        return cls(
            id=_str(data, "id", what),
            name=_str(data, "name", what),
            state=_str(data, "state", what),
            caller=CallerId.from_json(data["caller"]) if "caller" in data else _NO_CALLER,
            connected=CallerId.from_json(data["connected"]) if "connected" in data else _NO_CALLER,
            accountcode=_str(data, "accountcode", what, ""),
            dialplan=DialplanCep.from_json(dialplan) if dialplan is not None else None,
            creationtime=_opt_time(data, "creationtime", what),
            language=_str(data, "language", what, ""),
            channelvars=_str_map(data, "channelvars", what),
            protocol_id=_str(data, "protocol_id", what, ""),
        )

    @property
    def endpoint_name(self) -> str:
        """The endpoint this channel belongs to: ``PJSIP/1001-0000000a`` -> ``PJSIP/1001``,
        ``PJSIP/trunk-prov-0000000a`` -> ``PJSIP/trunk-prov``,
        ``Local/100@from-users-00000000;2`` -> ``Local/100@from-users``.
        A name without the sequence suffix is returned unchanged."""
        return _CHANNEL_SEQUENCE.sub("", self.name, count=1)


@dataclass(frozen=True, slots=True)
class Bridge:
    """ARI ``Bridge``; ``channels`` holds channel ids."""

    id: str
    technology: str
    bridge_type: str
    bridge_class: str
    name: str
    channels: tuple[str, ...]
    creator: str
    creationtime: datetime | None = None
    video_mode: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Bridge:
        what = "Bridge"
        data = _object(data, what)
        return cls(
            id=_str(data, "id", what),
            technology=_str(data, "technology", what, ""),
            bridge_type=_str(data, "bridge_type", what, ""),
            bridge_class=_str(data, "bridge_class", what, ""),
            name=_str(data, "name", what, ""),
            channels=_str_tuple(data, "channels", what),
            creator=_str(data, "creator", what, ""),
            creationtime=_opt_time(data, "creationtime", what),
            video_mode=_str(data, "video_mode", what, ""),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """ARI ``Endpoint``: ``PJSIP`` / ``1001``; ``state`` is online, offline or unknown."""

    technology: str
    resource: str
    state: str
    channel_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Endpoint:
        what = "Endpoint"
        data = _object(data, what)
        return cls(
            technology=_str(data, "technology", what),
            resource=_str(data, "resource", what),
            state=_str(data, "state", what, "unknown"),
            channel_ids=_str_tuple(data, "channel_ids", what),
        )

    @property
    def name(self) -> str:
        """``PJSIP/1001``, as ``Channel.endpoint_name`` spells it."""
        return f"{self.technology}/{self.resource}"


@dataclass(frozen=True, slots=True)
class Playback:
    """ARI ``Playback``. ``state``: queued, playing, continuing, done or failed;
    ``target_uri``: ``channel:<id>`` or ``bridge:<id>``."""

    id: str
    media_uri: str
    target_uri: str
    state: str
    language: str = ""
    next_media_uri: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Playback:
        what = "Playback"
        data = _object(data, what)
        return cls(
            id=_str(data, "id", what),
            media_uri=_str(data, "media_uri", what, ""),
            target_uri=_str(data, "target_uri", what, ""),
            state=_str(data, "state", what),
            language=_str(data, "language", what, ""),
            next_media_uri=_opt_str(data, "next_media_uri", what),
        )


@dataclass(frozen=True, slots=True)
class Application:
    """ARI ``Application``: what a Stasis application is subscribed to."""

    name: str
    channel_ids: tuple[str, ...]
    bridge_ids: tuple[str, ...]
    endpoint_ids: tuple[str, ...]
    device_names: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Application:
        what = "Application"
        data = _object(data, what)
        return cls(
            name=_str(data, "name", what),
            channel_ids=_str_tuple(data, "channel_ids", what),
            bridge_ids=_str_tuple(data, "bridge_ids", what),
            endpoint_ids=_str_tuple(data, "endpoint_ids", what),
            device_names=_str_tuple(data, "device_names", what),
        )


@dataclass(frozen=True, slots=True)
class AsteriskInfo:
    """The parts of ``GET /asterisk/info`` we use. Every part is optional in ARI (the ``only``
    parameter leaves sections out), hence the ``None`` defaults."""

    version: str | None = None
    entity_id: str | None = None
    default_language: str | None = None
    startup_time: datetime | None = None
    last_reload_time: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AsteriskInfo:
        what = "AsteriskInfo"
        data = _object(data, what)
        system = _object(data.get("system", {}), f"{what}.system")
        config = _object(data.get("config", {}), f"{what}.config")
        status = _object(data.get("status", {}), f"{what}.status")
        return cls(
            version=_opt_str(system, "version", f"{what}.system"),
            entity_id=_opt_str(system, "entity_id", f"{what}.system"),
            default_language=_opt_str(config, "default_language", f"{what}.config"),
            startup_time=_opt_time(status, "startup_time", f"{what}.status"),
            last_reload_time=_opt_time(status, "last_reload_time", f"{what}.status"),
        )


def parse_variable(data: Mapping[str, Any]) -> str:
    """ARI ``Variable``: ``{"value": "ringing"}`` -> ``"ringing"``."""
    return _str(_object(data, "Variable"), "value", "Variable")


# -- Events ------------------------------------------------------------------------------------
# Every event carries the application it was sent to and Asterisk's timestamp. The fields are
# keyword-only, so handlers match with keyword patterns:
#     match event:
#         case StasisStart(channel=channel, args=args): ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    application: str
    timestamp: datetime
    asterisk_id: str | None = None
    """Asterisk's entity id (its MAC-like ``02:fc:...``); tells instances in a cluster apart."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(_Event):
    """A channel entered our application; ``args`` are the ``Stasis(app,arg1,arg2)`` arguments.
    ``replace_channel`` is set when the channel replaces another one (a transfer)."""

    channel: Channel
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(_Event):
    """A channel left our application (hung up, or continued in the dialplan).

    Treat this as the end of the channel for the app: a channel that entered Stasis from the
    dialplan and is hung up gets no ``ChannelDestroyed`` after it unless the stream uses
    ``subscribe_all`` (seen on 22.10.1 with a PJSIP call hung up over ARI)."""

    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(_Event):
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(_Event):
    """``channel.state`` changed, e.g. ``Ring`` -> ``Up`` on answer."""

    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(_Event):
    """The channel is gone; ``cause`` is the Q.850 cause (16 normal clearing, 17 busy)."""

    channel: Channel
    cause: int
    cause_txt: str
    tech_cause: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(_Event):
    """Someone asked the channel to hang up. ``soft`` is true for an ARI or dialplan request
    (Asterisk leaves the key out otherwise); ``cause`` may be absent."""

    channel: Channel
    cause: int | None = None
    soft: bool = False
    tech_cause: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(_Event):
    """A DTMF digit ended on the channel (sent once per digit, after the key was released)."""

    channel: Channel
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDialplan(_Event):
    """The channel started a dialplan application."""

    channel: Channel
    dialplan_app: str
    dialplan_app_data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelVarset(_Event):
    """A variable was set; ``channel`` is ``None`` for a global variable."""

    variable: str
    value: str
    channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCallerId(_Event):
    channel: Channel
    caller_presentation: int
    caller_presentation_txt: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConnectedLine(_Event):
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHold(_Event):
    """The far end put the channel on hold (a SIP re-INVITE with ``sendonly``). ARI's own
    ``channels.hold`` does not raise it."""

    channel: Channel
    musicclass: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelUnhold(_Event):
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingStarted(_Event):
    """Sent only while the ``TALK_DETECT`` function is set on the channel."""

    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingFinished(_Event):
    """Sent once silence has lasted the ``TALK_DETECT`` threshold; that needs frames to keep
    flowing, so a channel that goes quiet by sending nothing never finishes talking."""

    channel: Channel
    duration: int
    """Milliseconds of talking."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(_Event):
    """A dial step. Asterisk sends one with ``dialstatus == ""`` when dialing starts, then one
    with the result (``ANSWER``, ``BUSY``, ``NOANSWER``, ``CANCEL``, ``CHANUNAVAIL``...).
    ``caller`` is ``None`` for an ARI originate and for ``channels.dial`` (even with its
    ``caller`` parameter, which only copies the connected line); it is set for a dialplan
    ``Dial()``."""

    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    forwarded: Channel | None = None
    dialstring: str = ""
    forward: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeCreated(_Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(_Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(_Event):
    """``bridge.channels`` already includes the channel.

    ARI's document marks ``channel`` optional, but Asterisk 22 (res/stasis/app.c) only builds
    this event when it has the channel, so it is required here."""

    bridge: Bridge
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(_Event):
    bridge: Bridge
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(_Event):
    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackContinuing(_Event):
    """The playback moved on to the next media URI of its list."""

    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(_Event):
    """``playback.state`` is ``done`` (or ``failed`` when the sound file does not exist)."""

    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStateChange(_Event):
    """An endpoint went online or offline (sent when subscribed to the endpoint)."""

    endpoint: Endpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationReplaced(_Event):
    """Another websocket registered the same application name; this connection will get no
    more events for it."""


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event type this module does not model; ``raw`` is the JSON as received."""

    type: str
    raw: Mapping[str, Any]
    application: str = ""
    timestamp: datetime | None = None


Event: TypeAlias = (
    StasisStart
    | StasisEnd
    | ChannelCreated
    | ChannelStateChange
    | ChannelDestroyed
    | ChannelHangupRequest
    | ChannelDtmfReceived
    | ChannelDialplan
    | ChannelVarset
    | ChannelCallerId
    | ChannelConnectedLine
    | ChannelHold
    | ChannelUnhold
    | ChannelTalkingStarted
    | ChannelTalkingFinished
    | Dial
    | BridgeCreated
    | BridgeDestroyed
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | PlaybackStarted
    | PlaybackContinuing
    | PlaybackFinished
    | EndpointStateChange
    | ApplicationReplaced
    | UnknownEvent
)


# -- Pseudo-events from the event stream (not sent by Asterisk) ----------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The event websocket is (again) connected. Events sent while it was down are lost, so
    the application reconciles its state with ``GET /channels`` and ``GET /bridges`` now."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The event websocket dropped; the stream reconnects by itself."""

    reason: str


StreamEvent: TypeAlias = Event | Connected | Disconnected


# -- Event parsing -----------------------------------------------------------------------------


def parse_event(data: Mapping[str, Any]) -> Event:
    """Turn one decoded ARI event into its typed form.

    >>> parse_event({"type": "StasisEnd", "application": "devapp",
    ...              "timestamp": "2026-11-25T23:40:07.784+0000",
    ...              "channel": {"id": "probe-a1", "name": "Local/100@from-users-00000000;1",
    ...                          "state": "Up"}}).channel.id
    'probe-a1'

    Unknown types give ``UnknownEvent``; a known type with a missing or mistyped field raises
    ``ProtocolError``.
    """
    data = _object(data, "event")
    kind = _str(data, "type", "event")
    if kind not in _PARSERS:
        return _unknown(kind, data)
    what = kind
    base: dict[str, Any] = {
        "application": _str(data, "application", what),
        "timestamp": _time(data, "timestamp", what),
        "asterisk_id": _opt_str(data, "asterisk_id", what),
    }
    return _PARSERS[kind](data, what, base)


def parse_frame(text: str | bytes) -> Event:
    """Parse one websocket text frame (one JSON object) into an event."""
    try:
        data = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError(f"event frame is not JSON: {exc}") from None
    return parse_event(_object(data, "event"))


def _unknown(kind: str, data: Mapping[str, Any]) -> UnknownEvent:
    application = data.get("application")
    try:
        timestamp = _opt_time(data, "timestamp", kind)
    except ProtocolError:
        timestamp = None
    return UnknownEvent(
        type=kind,
        raw=data,
        application=application if isinstance(application, str) else "",
        timestamp=timestamp,
    )


def _channel(data: Mapping[str, Any], key: str, what: str) -> Channel:
    if key not in data:
        raise ProtocolError(f"{what}.{key}: missing")
    return Channel.from_json(_object(data[key], f"{what}.{key}"))


def _opt_channel(data: Mapping[str, Any], key: str, what: str) -> Channel | None:
    value = data.get(key)
    return None if value is None else Channel.from_json(_object(value, f"{what}.{key}"))


def _bridge(data: Mapping[str, Any], key: str, what: str) -> Bridge:
    if key not in data:
        raise ProtocolError(f"{what}.{key}: missing")
    return Bridge.from_json(_object(data[key], f"{what}.{key}"))


def _playback(data: Mapping[str, Any], what: str) -> Playback:
    if "playback" not in data:
        raise ProtocolError(f"{what}.playback: missing")
    return Playback.from_json(_object(data["playback"], f"{what}.playback"))


# A parser gets the event JSON, its type name (for error messages) and the fields every event
# has (application, timestamp, asterisk_id), already read.
_Parser: TypeAlias = Callable[[Mapping[str, Any], str, dict[str, Any]], Event]


def _p_stasis_start(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return StasisStart(
        **b,
        channel=_channel(d, "channel", w),
        args=_str_tuple(d, "args", w),
        replace_channel=_opt_channel(d, "replace_channel", w),
    )


def _p_destroyed(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelDestroyed(
        **b,
        channel=_channel(d, "channel", w),
        cause=_int(d, "cause", w),
        cause_txt=_str(d, "cause_txt", w, ""),
        tech_cause=_opt_int(d, "tech_cause", w),
    )


def _p_hangup_request(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelHangupRequest(
        **b,
        channel=_channel(d, "channel", w),
        cause=_opt_int(d, "cause", w),
        soft=_bool(d, "soft", w, False),
        tech_cause=_opt_int(d, "tech_cause", w),
    )


def _p_dtmf(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelDtmfReceived(
        **b,
        channel=_channel(d, "channel", w),
        digit=_str(d, "digit", w),
        duration_ms=_int(d, "duration_ms", w, 0),
    )


def _p_dialplan(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelDialplan(
        **b,
        channel=_channel(d, "channel", w),
        dialplan_app=_str(d, "dialplan_app", w, ""),
        dialplan_app_data=_str(d, "dialplan_app_data", w, ""),
    )


def _p_varset(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelVarset(
        **b,
        channel=_opt_channel(d, "channel", w),
        variable=_str(d, "variable", w),
        value=_str(d, "value", w, ""),
    )


def _p_caller_id(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelCallerId(
        **b,
        channel=_channel(d, "channel", w),
        caller_presentation=_int(d, "caller_presentation", w, 0),
        caller_presentation_txt=_str(d, "caller_presentation_txt", w, ""),
    )


def _p_hold(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelHold(
        **b, channel=_channel(d, "channel", w), musicclass=_str(d, "musicclass", w, "")
    )


def _p_talking_finished(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return ChannelTalkingFinished(
        **b, channel=_channel(d, "channel", w), duration=_int(d, "duration", w, 0)
    )


def _p_dial(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    return Dial(
        **b,
        peer=_channel(d, "peer", w),
        dialstatus=_str(d, "dialstatus", w, ""),
        caller=_opt_channel(d, "caller", w),
        forwarded=_opt_channel(d, "forwarded", w),
        dialstring=_str(d, "dialstring", w, ""),
        forward=_str(d, "forward", w, ""),
    )


def _p_endpoint_state(d: Mapping[str, Any], w: str, b: dict[str, Any]) -> Event:
    if "endpoint" not in d:
        raise ProtocolError(f"{w}.endpoint: missing")
    return EndpointStateChange(**b, endpoint=Endpoint.from_json(_object(d["endpoint"], w)))


# The table of modelled event types: the JSON "type" discriminator -> its parser. Events whose
# only payload is one channel, bridge or playback share the three generic lambdas.
_PARSERS: dict[str, _Parser] = {
    "StasisStart": _p_stasis_start,
    "StasisEnd": lambda d, w, b: StasisEnd(**b, channel=_channel(d, "channel", w)),
    "ChannelCreated": lambda d, w, b: ChannelCreated(**b, channel=_channel(d, "channel", w)),
    "ChannelStateChange": lambda d, w, b: ChannelStateChange(
        **b, channel=_channel(d, "channel", w)
    ),
    "ChannelDestroyed": _p_destroyed,
    "ChannelHangupRequest": _p_hangup_request,
    "ChannelDtmfReceived": _p_dtmf,
    "ChannelDialplan": _p_dialplan,
    "ChannelVarset": _p_varset,
    "ChannelCallerId": _p_caller_id,
    "ChannelConnectedLine": lambda d, w, b: ChannelConnectedLine(
        **b, channel=_channel(d, "channel", w)
    ),
    "ChannelHold": _p_hold,
    "ChannelUnhold": lambda d, w, b: ChannelUnhold(**b, channel=_channel(d, "channel", w)),
    "ChannelTalkingStarted": lambda d, w, b: ChannelTalkingStarted(
        **b, channel=_channel(d, "channel", w)
    ),
    "ChannelTalkingFinished": _p_talking_finished,
    "Dial": _p_dial,
    "BridgeCreated": lambda d, w, b: BridgeCreated(**b, bridge=_bridge(d, "bridge", w)),
    "BridgeDestroyed": lambda d, w, b: BridgeDestroyed(**b, bridge=_bridge(d, "bridge", w)),
    "ChannelEnteredBridge": lambda d, w, b: ChannelEnteredBridge(
        **b, bridge=_bridge(d, "bridge", w), channel=_channel(d, "channel", w)
    ),
    "ChannelLeftBridge": lambda d, w, b: ChannelLeftBridge(
        **b, bridge=_bridge(d, "bridge", w), channel=_channel(d, "channel", w)
    ),
    "PlaybackStarted": lambda d, w, b: PlaybackStarted(**b, playback=_playback(d, w)),
    "PlaybackContinuing": lambda d, w, b: PlaybackContinuing(**b, playback=_playback(d, w)),
    "PlaybackFinished": lambda d, w, b: PlaybackFinished(**b, playback=_playback(d, w)),
    "EndpointStateChange": _p_endpoint_state,
    "ApplicationReplaced": lambda d, w, b: ApplicationReplaced(**b),
}
