"""ARI JSON -> typed models, on event frames captured from Asterisk 22.10.1.

Every ``tests/data/ari/event_*.json`` is one frame exactly as Asterisk sent it on the event
websocket (app ``devapp``, ari.conf ``channelvars = PBX_STATE,PROBE_VAR``), recorded while a
scratch probe drove Local channels, bridges, playbacks, sipp calls (RFC 2833 DTMF, re-INVITE
hold) and a sipp REGISTER. ``transcript_sipp_call.json`` is every frame of one sipp call, in
order. ``rest_*.json`` are REST answers recorded with curl against the same Asterisk.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pbx_ext.ari import (
    Application,
    ApplicationReplaced,
    AriError,
    AsteriskInfo,
    Bridge,
    BridgeCreated,
    BridgeDestroyed,
    Channel,
    ChannelCallerId,
    ChannelConnectedLine,
    ChannelCreated,
    ChannelDestroyed,
    ChannelDialplan,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelHold,
    ChannelLeftBridge,
    ChannelStateChange,
    ChannelTalkingFinished,
    ChannelTalkingStarted,
    ChannelUnhold,
    ChannelVarset,
    Dial,
    Endpoint,
    EndpointStateChange,
    Event,
    Playback,
    PlaybackContinuing,
    PlaybackFinished,
    PlaybackStarted,
    ProtocolError,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    parse_event,
    parse_frame,
)
from pbx_ext.ari.models import parse_variable

DATA = Path(__file__).resolve().parent.parent / "data" / "ari"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def event(name: str) -> Event:
    return parse_event(load(f"event_{name}.json"))


# The class each captured frame must parse to; the file name says where it came from.
EXPECTED: dict[str, type] = {
    "ApplicationReplaced": ApplicationReplaced,
    "BridgeCreated": BridgeCreated,
    "BridgeDestroyed": BridgeDestroyed,
    "ChannelCallerId": ChannelCallerId,
    "ChannelConnectedLine": ChannelConnectedLine,
    "ChannelCreated": ChannelCreated,
    "ChannelDestroyed_pjsip": ChannelDestroyed,
    "ChannelDestroyed_rejected": ChannelDestroyed,
    "ChannelDialplan": ChannelDialplan,
    "ChannelDtmfReceived": ChannelDtmfReceived,
    "ChannelEnteredBridge": ChannelEnteredBridge,
    "ChannelHangupRequest_hard": ChannelHangupRequest,
    "ChannelHangupRequest_soft": ChannelHangupRequest,
    "ChannelHold": ChannelHold,
    "ChannelLeftBridge": ChannelLeftBridge,
    "ChannelStateChange": ChannelStateChange,
    "ChannelTalkingFinished": ChannelTalkingFinished,
    "ChannelTalkingStarted": ChannelTalkingStarted,
    "ChannelUnhold": ChannelUnhold,
    "ChannelVarset": ChannelVarset,
    "ChannelVarset_global": ChannelVarset,
    "ContactStatusChange": UnknownEvent,
    "DeviceStateChanged": UnknownEvent,
    "Dial_answer_with_caller": Dial,
    "Dial_originate_start": Dial,
    "EndpointStateChange_online": EndpointStateChange,
    "PlaybackContinuing": PlaybackContinuing,
    "PlaybackFinished": PlaybackFinished,
    "PlaybackFinished_failed": PlaybackFinished,
    "PlaybackStarted": PlaybackStarted,
    "StasisEnd": StasisEnd,
    "StasisStart_external_media": StasisStart,
    "StasisStart_originate_args": StasisStart,
    "StasisStart_pjsip": StasisStart,
    "StasisStart_snoop": StasisStart,
}


def test_every_captured_event_has_an_expectation() -> None:
    captured = {p.name.removeprefix("event_").removesuffix(".json") for p in DATA.glob("event_*")}
    assert captured == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_event_parses_to_its_type(name: str) -> None:
    raw = load(f"event_{name}.json")
    parsed = parse_event(raw)
    assert type(parsed) is EXPECTED[name]
    assert parsed.application == "devapp"
    assert isinstance(parsed.timestamp, datetime)
    assert parsed.timestamp.tzinfo is not None
    # The same frame as websocket text parses the same way.
    assert parse_frame(json.dumps(raw)) == parsed


def test_stasis_start_from_a_sip_phone() -> None:
    ev = event("StasisStart_pjsip")
    assert isinstance(ev, StasisStart)
    assert ev.args == ("100",)
    assert ev.replace_channel is None
    assert ev.asterisk_id == "02:fc:00:00:00:01"
    assert ev.timestamp == datetime(2026, 11, 25, 23, 45, 32, 29000, tzinfo=UTC)
    ch = ev.channel
    assert ch.id == "1795650332.20"
    assert ch.name == "PJSIP/1001-00000002"
    assert ch.endpoint_name == "PJSIP/1001"
    assert ch.state == "Ring"
    assert (ch.caller.name, ch.caller.number) == ("Alice", "1001")
    assert ch.protocol_id == "1-20360@127.0.0.1"
    assert ch.dialplan is not None
    assert (ch.dialplan.context, ch.dialplan.exten, ch.dialplan.priority) == (
        "from-users",
        "100",
        1,
    )
    assert (ch.dialplan.app_name, ch.dialplan.app_data) == ("Stasis", "devapp,100")
    assert dict(ch.channelvars) == {"PBX_STATE": "", "PROBE_VAR": ""}
    assert ch.language == "en"


def test_stasis_start_args_from_originate() -> None:
    ev = event("StasisStart_originate_args")
    assert isinstance(ev, StasisStart)
    assert ev.args == ("first", "second")
    assert ev.channel.endpoint_name == "Local/100@from-users"


def test_hangup_request_soft_key_is_absent_for_a_hard_hangup() -> None:
    soft = event("ChannelHangupRequest_soft")
    hard = event("ChannelHangupRequest_hard")
    assert isinstance(soft, ChannelHangupRequest)
    assert isinstance(hard, ChannelHangupRequest)
    assert (soft.cause, soft.soft) == (32, True)
    assert "soft" not in load("event_ChannelHangupRequest_hard.json")
    assert (hard.cause, hard.soft) == (21, False)


def test_channel_destroyed_carries_the_q850_cause() -> None:
    ev = event("ChannelDestroyed_rejected")
    assert isinstance(ev, ChannelDestroyed)
    assert (ev.cause, ev.cause_txt) == (21, "Call Rejected")
    assert ev.channel.id == "p-c1"


def test_dtmf_from_rfc2833() -> None:
    ev = event("ChannelDtmfReceived")
    assert isinstance(ev, ChannelDtmfReceived)
    assert (ev.digit, ev.duration_ms) == ("#", 280)
    assert ev.channel.endpoint_name == "PJSIP/1001"


def test_varset_on_a_channel_and_global() -> None:
    on_channel = event("ChannelVarset")
    global_ = event("ChannelVarset_global")
    assert isinstance(on_channel, ChannelVarset)
    assert isinstance(global_, ChannelVarset)
    assert (on_channel.variable, on_channel.value) == ("PBX_STATE", "talking")
    assert on_channel.channel is not None
    assert (global_.variable, global_.value, global_.channel) == ("PROBE_GLOBAL", "g3", None)


def test_dial_without_and_with_caller() -> None:
    start = event("Dial_originate_start")
    answered = event("Dial_answer_with_caller")
    assert isinstance(start, Dial)
    assert isinstance(answered, Dial)
    # An ARI originate dials with no caller channel; dialing starts with an empty status.
    assert (start.caller, start.dialstatus, start.dialstring) == (None, "", "100@from-users")
    assert start.forwarded is None
    assert answered.dialstatus == "ANSWER"
    assert answered.caller is not None
    assert answered.caller.name == "Local/300@dial-test-00000004;2"
    assert answered.peer.endpoint_name == "Local/200@echo-test"


def test_bridge_events() -> None:
    entered = event("ChannelEnteredBridge")
    left = event("ChannelLeftBridge")
    destroyed = event("BridgeDestroyed")
    assert isinstance(entered, ChannelEnteredBridge)
    assert isinstance(left, ChannelLeftBridge)
    assert isinstance(destroyed, BridgeDestroyed)
    assert entered.bridge.channels == (entered.channel.id,)
    assert entered.bridge.id == "p-b1"
    assert (entered.bridge.bridge_type, entered.bridge.technology) == ("mixing", "simple_bridge")
    assert (entered.bridge.name, entered.bridge.creator) == ("probe-bridge", "Stasis")
    assert left.channel.id not in left.bridge.channels
    assert destroyed.bridge.channels == ()


def test_playback_events() -> None:
    started = event("PlaybackStarted")
    continuing = event("PlaybackContinuing")
    done = event("PlaybackFinished")
    failed = event("PlaybackFinished_failed")
    assert isinstance(started, PlaybackStarted)
    assert isinstance(continuing, PlaybackContinuing)
    assert isinstance(done, PlaybackFinished)
    assert isinstance(failed, PlaybackFinished)
    assert started.playback.state == "playing"
    assert started.playback.target_uri.startswith("bridge:")
    assert continuing.playback.next_media_uri == "sound:beep"
    assert done.playback.state == "done"
    assert (failed.playback.state, failed.playback.media_uri) == (
        "failed",
        "sound:no-such-sound-file",
    )


def test_hold_talking_endpoint_events() -> None:
    hold = event("ChannelHold")
    talked = event("ChannelTalkingFinished")
    online = event("EndpointStateChange_online")
    assert isinstance(hold, ChannelHold)
    assert hold.musicclass == "default"
    assert isinstance(talked, ChannelTalkingFinished)
    assert talked.duration == 1241
    assert isinstance(online, EndpointStateChange)
    assert (online.endpoint.name, online.endpoint.state) == ("PJSIP/1001", "online")


def test_unknown_event_keeps_the_raw_json() -> None:
    ev = event("ContactStatusChange")
    assert isinstance(ev, UnknownEvent)
    assert ev.type == "ContactStatusChange"
    assert ev.application == "devapp"
    assert ev.raw["contact_info"]["aor"] == "1001"
    assert ev.timestamp is not None


def test_sip_call_transcript_as_the_app_saw_it() -> None:
    """One sipp call (Stasis, answer, DTMF 1 and #, a beep, ARI hangup), in order."""
    events = [parse_event(frame) for frame in load("transcript_sipp_call.json")]
    assert [type(e).__name__ for e in events] == [
        "StasisStart",
        "ChannelStateChange",
        "ChannelDtmfReceived",
        "ChannelDtmfReceived",
        "PlaybackStarted",
        "PlaybackFinished",
        *["ChannelVarset"] * 5,  # RTPAUDIOQOS* set by chan_pjsip at hangup
        "ChannelHangupRequest",
        "StasisEnd",
    ]
    # A SIP channel that entered Stasis from the dialplan and was hung up over ARI: no
    # ChannelDestroyed reaches the app (only subscribeAll sees it). StasisEnd is the end.
    states = [e.channel.state for e in events if isinstance(e, StasisStart | ChannelStateChange)]
    assert states == ["Ring", "Up"]
    digits = [e.digit for e in events if isinstance(e, ChannelDtmfReceived)]
    assert digits == ["1", "#"]


def describe(ev: Event) -> str:
    """How handlers are meant to look: match on the event type, keyword patterns."""
    match ev:
        case StasisStart(channel=Channel(endpoint_name=endpoint), args=args):
            return f"call from {endpoint} to {','.join(args)}"
        case ChannelDtmfReceived(digit=digit):
            return f"dtmf {digit}"
        case StasisEnd():
            return "gone"
        case _:
            return "other"


def test_events_match_on_type() -> None:
    events = [parse_event(frame) for frame in load("transcript_sipp_call.json")]
    assert [describe(e) for e in events if describe(e) != "other"] == [
        "call from PJSIP/1001 to 100",
        "dtmf 1",
        "dtmf #",
        "gone",
    ]


@pytest.mark.parametrize(
    ("name", "endpoint"),
    [
        ("PJSIP/1001-0000000a", "PJSIP/1001"),
        ("PJSIP/trunk-prov-0000000a", "PJSIP/trunk-prov"),
        ("PJSIP/trunk-prov-deadbeef-00000001", "PJSIP/trunk-prov-deadbeef"),
        ("PJSIP/a-b-c", "PJSIP/a-b-c"),  # no sequence suffix: unchanged
        ("PJSIP/trunk-0000000", "PJSIP/trunk-0000000"),  # 7 digits is not a suffix
        ("PJSIP/1001-0000000A", "PJSIP/1001"),
        ("Local/100@from-users-00000003;2", "Local/100@from-users"),
        ("Local/100@from-users-00000003;1", "Local/100@from-users"),
        ("Snoop/p-a2-00000000", "Snoop/p-a2"),
        # externalMedia channels end in a pointer, not a sequence: left alone.
        ("UnicastRTP/127.0.0.1:40000-0x7f700001ce50", "UnicastRTP/127.0.0.1:40000-0x7f700001ce50"),
    ],
)
def test_endpoint_name(name: str, endpoint: str) -> None:
    assert Channel(id="x", name=name, state="Up").endpoint_name == endpoint


def test_models_are_frozen() -> None:
    ev = event("StasisEnd")
    assert isinstance(ev, StasisEnd)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.channel.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.channel.channelvars["PBX_STATE"] = "x"  # type: ignore[index]


# -- tolerance and malformed shapes ------------------------------------------------------------

MINIMAL_CHANNEL = {"id": "c1", "name": "PJSIP/1001-00000001", "state": "Up"}


def test_extra_keys_and_missing_optional_keys_are_tolerated() -> None:
    raw = {
        "type": "StasisStart",
        "application": "devapp",
        "timestamp": "2026-11-25T23:45:32.029+0000",
        "channel": {**MINIMAL_CHANNEL, "a_future_field": {"x": 1}},
        "something_new": [1, 2],
    }
    ev = parse_event(raw)
    assert isinstance(ev, StasisStart)
    assert ev.args == ()
    assert ev.asterisk_id is None
    assert ev.channel.caller.number == ""
    assert ev.channel.dialplan is None
    assert ev.channel.creationtime is None
    assert dict(ev.channel.channelvars) == {}


def test_unknown_type_never_raises() -> None:
    ev = parse_event({"type": "SomethingFromAsterisk30", "timestamp": "not a time"})
    assert isinstance(ev, UnknownEvent)
    assert (ev.type, ev.application, ev.timestamp) == ("SomethingFromAsterisk30", "", None)


BASE = {"application": "devapp", "timestamp": "2026-11-25T23:45:32.029+0000"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (["not", "an", "object"], "event"),
        ({"application": "devapp"}, "event.type"),
        ({"type": 7}, "event.type"),
        ({"type": "StasisEnd", "timestamp": BASE["timestamp"]}, "StasisEnd.application"),
        ({"type": "StasisEnd", "application": "devapp"}, "StasisEnd.timestamp"),
        ({**BASE, "type": "StasisEnd", "timestamp": "yesterday"}, "StasisEnd.timestamp"),
        ({**BASE, "type": "StasisEnd"}, "StasisEnd.channel"),
        ({**BASE, "type": "StasisEnd", "channel": []}, "StasisEnd.channel"),
        ({**BASE, "type": "StasisEnd", "channel": {"id": 5, "name": "x", "state": "Up"}}, "id"),
        ({**BASE, "type": "StasisStart", "channel": MINIMAL_CHANNEL, "args": "100"}, "args"),
        (
            {**BASE, "type": "ChannelDestroyed", "channel": MINIMAL_CHANNEL, "cause": "16"},
            "cause",
        ),
        (
            {**BASE, "type": "ChannelDestroyed", "channel": MINIMAL_CHANNEL, "cause": True},
            "cause",
        ),
        (
            {**BASE, "type": "ChannelHangupRequest", "channel": MINIMAL_CHANNEL, "soft": 1},
            "soft",
        ),
        ({**BASE, "type": "PlaybackStarted", "playback": {"id": "p"}}, "Playback.state"),
        ({**BASE, "type": "Dial", "caller": MINIMAL_CHANNEL}, "Dial.peer"),
        (
            {**BASE, "type": "StasisEnd", "channel": {**MINIMAL_CHANNEL, "channelvars": {"A": 1}}},
            "channelvars",
        ),
    ],
)
def test_malformed_shapes_raise_protocol_error(raw: Any, field: str) -> None:
    with pytest.raises(ProtocolError, match=field):
        parse_event(raw)


def test_protocol_error_is_a_value_error_and_an_ari_error() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_frame("{not json")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AriError)
    with pytest.raises(ProtocolError):
        parse_frame("[1, 2]")


# -- REST answers ------------------------------------------------------------------------------


def test_rest_resources_parse() -> None:
    channels = [Channel.from_json(c) for c in load("rest_channels_list.json")]
    assert {c.id for c in channels} == {"r-a1", "r-a2"}
    channel = Channel.from_json(load("rest_channels_get.json"))
    assert (channel.id, channel.state, channel.endpoint_name) == (
        "r-a1",
        "Up",
        "Local/100@from-users",
    )
    bridge = Bridge.from_json(load("rest_bridges_get.json"))
    assert (bridge.id, bridge.channels) == ("r-b1", ("r-a1",))
    assert [Endpoint.from_json(e).name for e in load("rest_endpoints_list.json")] == ["PJSIP/1001"]
    playback = Playback.from_json(load("rest_channels_play.json"))
    assert (playback.id, playback.state, playback.target_uri) == ("r-pb", "queued", "channel:r-a2")
    app = Application.from_json(load("rest_applications_get.json"))
    assert (app.name, app.channel_ids, app.bridge_ids) == ("devapp", ("r-a1", "r-a2"), ("r-b1",))
    info = AsteriskInfo.from_json(load("rest_asterisk_info.json"))
    assert info.version is not None
    assert info.version.startswith("22.10.1")
    assert info.default_language == "en"
    assert parse_variable(load("rest_channels_variable.json")) == "en"
    assert AsteriskInfo.from_json({}) == AsteriskInfo()
