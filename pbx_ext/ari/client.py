"""ARI REST client: one explicit, typed method per ARI operation we use.

Every path, parameter name and placement (query string or JSON body) below was checked against
what Asterisk 22.10.1 describes at ``/ari/api-docs/<resource>.json`` and then exercised against
it. The rules that follow from that description:

- all scalar parameters go in the query string, under ARI's spelling (``appArgs``,
  ``channelId``, ``external_host``: the API mixes camelCase and snake_case);
- only ``variables`` goes in a JSON body: ``{"variables": {"NAME": "value"}}``;
- list parameters (``media``, ``channel``, bridge ``type``) are one comma-separated value;
  Asterisk does not merge repeated keys;
- ids and names in the path are percent-encoded, ``/`` included.

Errors: ``AriNotFound`` (404), ``AriConflict`` (409), ``AriError`` for any other non-2xx status
(``status`` tells which: 400 bad parameter, 412 channel in the wrong state, 422 e.g. "Channel
not in this bridge"), ``AriUnavailable`` when Asterisk cannot be reached or does not answer in
time, ``ProtocolError`` when it answers with JSON of the wrong shape.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from pbx_ext.ari._common import ari_root, basic_auth_header, quote_segment
from pbx_ext.ari.errors import AriConflict, AriError, AriNotFound, AriUnavailable, ProtocolError
from pbx_ext.ari.models import (
    Application,
    AsteriskInfo,
    Bridge,
    Channel,
    Endpoint,
    Playback,
    parse_variable,
)
from pbx_ext.ari.wsrest import Unsupported, WebSocketRest

logger = logging.getLogger(__name__)

_Query = Mapping[str, str | int | bool | Sequence[str] | None]


def _path(*segments: str) -> str:
    return "/" + "/".join(quote_segment(s) for s in segments)


def _query(params: _Query) -> dict[str, str]:
    """ARI's query string: ``None`` leaves the parameter out (Asterisk applies its default),
    booleans are ``true``/``false``, lists are joined with commas."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | str):
            out[name] = str(value)
        else:
            out[name] = ",".join(value)
    return out


def _args(app_args: str | Sequence[str]) -> str | None:
    """Stasis arguments travel as one comma-separated ``appArgs`` string and arrive split on
    commas in ``StasisStart.args``; an argument containing a comma cannot survive that."""
    items = [app_args] if isinstance(app_args, str) else list(app_args)
    for item in items:
        if "," in item:
            raise ValueError(f"a Stasis argument cannot contain a comma: {item!r}")
    return ",".join(items) if items else None


def _list(value: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ProtocolError(f"{what}: expected a JSON list of objects")
    return value


def _variables(variables: Mapping[str, str] | None) -> dict[str, Any] | None:
    return None if variables is None else {"variables": dict(variables)}


# Asterisk's HTTP server takes a limited number of sessions (http.conf sessionlimit, 100 by
# default, 200 as pbx-ext generates it); beyond it, it drops connections. Stay well under.
MAX_CONNECTIONS = 32


class _Http:
    """The request exchange: URL, auth header, timeout, and the mapping of failures to errors.
    Over the request websockets (``ws``) when set and the request can go that way, over HTTP
    otherwise."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        session: aiohttp.ClientSession | None,
        timeout: float,
    ) -> None:
        self._root = str(ari_root(base_url))
        self._headers = {"Authorization": basic_auth_header(username, password)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self.ws: WebSocketRest | None = None

    async def request(
        self,
        method: str,
        path: str,
        params: _Query | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON body, or ``None`` for 204 No Content."""
        if self.ws is not None and self.ws.usable and self.ws.accepts(method, body):
            if self._closed:
                raise AriError("the ARI client is closed", method=method, path=path)
            try:
                status, text = await self.ws.request(method, path, _query(params or {}))
            except Unsupported:
                pass  # nothing was sent: HTTP it is
            else:
                return self._decode(status, text, method, path)
        session = self._get_session(method, path)
        url = URL(self._root + path, encoded=True)
        try:
            for attempt in (1, 2):
                try:
                    async with session.request(
                        method,
                        url,
                        params=_query(params or {}),
                        json=body,
                        headers=self._headers,
                        timeout=self._timeout,
                    ) as response:
                        status = response.status
                        # ARI always answers UTF-8 JSON; a broken byte must not crash us.
                        text = (await response.read()).decode("utf-8", errors="replace")
                    break
                except aiohttp.ServerDisconnectedError:
                    # Asterisk closed a kept-alive connection just as it was reused (idle
                    # timeout, or its session limit under load): the request never ran
                    # there, so send it once more on a fresh connection.
                    if attempt == 2:
                        raise
        except TimeoutError:
            raise AriUnavailable(
                f"no answer within {self._timeout_s:g} s", method=method, path=path
            ) from None
        except aiohttp.ClientError as exc:
            raise AriUnavailable(str(exc) or type(exc).__name__, method=method, path=path) from exc
        return self._decode(status, text, method, path)

    @staticmethod
    def _decode(status: int, text: str, method: str, path: str) -> Any:
        logger.debug("ARI %s %s -> %d", method, path, status)
        if 200 <= status < 300:
            if not text:
                return None
            try:
                return json.loads(text)
            except ValueError:
                raise ProtocolError(
                    "answer is not JSON", status=status, method=method, path=path
                ) from None
        raise _error(status, text, method, path)

    def _get_session(self, method: str, path: str) -> aiohttp.ClientSession:
        if self._closed:
            raise AriError("the ARI client is closed", method=method, path=path)
        if self._session is None:
            # Created here, inside the running event loop, as aiohttp requires.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
            )
        return self._session

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.ws is not None:
            await self.ws.close()
        if self._owns_session and self._session is not None:
            await self._session.close()


def _error(status: int, text: str, method: str, path: str) -> AriError:
    """Asterisk's error body is ``{"message": "Channel not found"}``; but a failed originate
    answers 500 ``{"error": "Allocation failed"}`` (seen on 22.10.1), and some errors have no
    body at all."""
    message = text.strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        pass
    else:
        if isinstance(decoded, Mapping):
            for key in ("message", "error"):
                if isinstance(decoded.get(key), str):
                    message = decoded[key]
                    break
    message = message or f"HTTP {status}"
    cls = {404: AriNotFound, 409: AriConflict}.get(status, AriError)
    return cls(message, status=status, method=method, path=path)


class _Api:
    def __init__(self, http: _Http, app: str) -> None:
        self._http = http
        self._app = app


class ChannelsApi(_Api):
    """``/channels``: https://docs.asterisk.org/Latest_API/API_Documentation/Asterisk_REST_Interface/Channels_REST_API/"""

    async def list(self) -> builtins.list[Channel]:
        data = await self._http.request("GET", "/channels")
        return [Channel.from_json(item) for item in _list(data, "GET /channels")]

    async def get(self, channel_id: str) -> Channel:
        return Channel.from_json(await self._http.request("GET", _path("channels", channel_id)))

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | Sequence[str] = (),
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,  # noqa: ASYNC109 (Asterisk's dial timeout, not ours)
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | Sequence[str] | None = None,
    ) -> Channel:
        """Dial ``endpoint``; once it answers it goes to the dialplan (``context``/``extension``/
        ``priority``/``label``) or, when none of those is given, into Stasis ``app`` (this
        client's application by default). ``timeout`` is seconds, -1 for none (ARI: 30)."""
        dialplan = (context, extension, priority, label) != (None, None, None, None)
        if dialplan and app is not None:
            raise ValueError("originate goes either to the dialplan or to an app, not both")
        query: _Query = {
            "endpoint": endpoint,
            "app": None if dialplan else (app or self._app),
            "appArgs": _args(app_args),
            "context": context,
            "extension": extension,
            "priority": priority,
            "label": label,
            "callerId": caller_id,
            "timeout": timeout,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        data = await self._http.request("POST", "/channels", query, _variables(variables))
        return Channel.from_json(data)

    async def create(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | Sequence[str] = (),
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | Sequence[str] | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Create a channel without dialing it (``POST /channels/create``); it is in Stasis
        ``app`` at once, and ``dial()`` starts the call."""
        query: _Query = {
            "endpoint": endpoint,
            "app": app or self._app,
            "appArgs": _args(app_args),
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        data = await self._http.request("POST", "/channels/create", query, _variables(variables))
        return Channel.from_json(data)

    async def dial(
        self,
        channel_id: str,
        *,
        caller: str | None = None,
        timeout: int | None = None,  # noqa: ASYNC109 (Asterisk's dial timeout, not ours)
    ) -> None:
        """Dial a channel made by ``create()``. ``caller`` is the id of the calling channel
        (its connected line is copied); ``timeout`` in seconds, 0 (the default) for none."""
        query: _Query = {"caller": caller, "timeout": timeout}
        await self._http.request("POST", _path("channels", channel_id, "dial"), query)

    async def answer(self, channel_id: str) -> None:
        await self._http.request("POST", _path("channels", channel_id, "answer"))

    async def ring(self, channel_id: str) -> None:
        """Indicate ringing to the caller (SIP 180)."""
        await self._http.request("POST", _path("channels", channel_id, "ring"))

    async def ring_stop(self, channel_id: str) -> None:
        await self._http.request("DELETE", _path("channels", channel_id, "ring"))

    async def progress(self, channel_id: str) -> None:
        """Indicate call progress (SIP 183, early media)."""
        await self._http.request("POST", _path("channels", channel_id, "progress"))

    async def hangup(
        self, channel_id: str, reason: str = "normal", *, reason_code: int | None = None
    ) -> None:
        """``reason``: normal, busy, congestion, no_answer, timeout, rejected, unallocated,
        normal_unspecified, number_incomplete, codec_mismatch, interworking, failure,
        answered_elsewhere. ``reason_code`` (a Q.850 cause) replaces it when given."""
        query: _Query = (
            {"reason_code": reason_code} if reason_code is not None else {"reason": reason}
        )
        await self._http.request("DELETE", _path("channels", channel_id), query)

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Leave Stasis and go on in the dialplan (where the channel was, unless told).
        Asterisk does not check that the target exists (204, then the channel hangs up)."""
        query: _Query = {
            "context": context,
            "extension": extension,
            "priority": priority,
            "label": label,
        }
        await self._http.request("POST", _path("channels", channel_id, "continue"), query)

    async def move(self, channel_id: str, app: str, app_args: str | Sequence[str] = ()) -> None:
        """Move the channel to another Stasis application."""
        query: _Query = {"app": app, "appArgs": _args(app_args)}
        await self._http.request("POST", _path("channels", channel_id, "move"), query)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Redirect the channel's far end elsewhere (SIP 302 before answer, REFER after)."""
        query: _Query = {"endpoint": endpoint}
        await self._http.request("POST", _path("channels", channel_id, "redirect"), query)

    async def get_var(self, channel_id: str, variable: str) -> str:
        """A channel variable or function (``CALLERID(num)``); ``AriNotFound`` if unset."""
        query: _Query = {"variable": variable}
        path = _path("channels", channel_id, "variable")
        return parse_variable(await self._http.request("GET", path, query))

    async def set_var(self, channel_id: str, variable: str, value: str) -> None:
        query: _Query = {"variable": variable, "value": value}
        await self._http.request("POST", _path("channels", channel_id, "variable"), query)

    async def play(
        self,
        channel_id: str,
        media: str | Sequence[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> Playback:
        """Play media URIs (``sound:hello-world``, ``digits:1234``, ``tone:ring``...) in order.
        A missing sound file is not an error here: ``PlaybackFinished`` reports ``failed``."""
        query: _Query = {
            "media": [media] if isinstance(media, str) else media,
            "playbackId": playback_id,
            "lang": lang,
            "offsetms": offsetms,
            "skipms": skipms,
        }
        data = await self._http.request("POST", _path("channels", channel_id, "play"), query)
        return Playback.from_json(data)

    async def hold(self, channel_id: str) -> None:
        """Tell the channel's bridge peers it is on hold (they hear music on hold)."""
        await self._http.request("POST", _path("channels", channel_id, "hold"))

    async def unhold(self, channel_id: str) -> None:
        await self._http.request("DELETE", _path("channels", channel_id, "hold"))

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        query: _Query = {"mohClass": moh_class}
        await self._http.request("POST", _path("channels", channel_id, "moh"), query)

    async def stop_moh(self, channel_id: str) -> None:
        await self._http.request("DELETE", _path("channels", channel_id, "moh"))

    async def start_silence(self, channel_id: str) -> None:
        await self._http.request("POST", _path("channels", channel_id, "silence"))

    async def stop_silence(self, channel_id: str) -> None:
        await self._http.request("DELETE", _path("channels", channel_id, "silence"))

    async def mute(self, channel_id: str, direction: str = "both") -> None:
        """``direction``: both, in (what the channel sends us) or out."""
        query: _Query = {"direction": direction}
        await self._http.request("POST", _path("channels", channel_id, "mute"), query)

    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        query: _Query = {"direction": direction}
        await self._http.request("DELETE", _path("channels", channel_id, "mute"), query)

    async def send_dtmf(
        self,
        channel_id: str,
        dtmf: str,
        *,
        before: int | None = None,
        between: int | None = None,
        duration: int | None = None,
        after: int | None = None,
    ) -> None:
        """Send DTMF digits (0-9, A-D, *, #); times in milliseconds (ARI: 0/100/100/0)."""
        query: _Query = {
            "dtmf": dtmf,
            "before": before,
            "between": between,
            "duration": duration,
            "after": after,
        }
        await self._http.request("POST", _path("channels", channel_id, "dtmf"), query)

    async def external_media(
        self,
        *,
        format: str,
        app: str | None = None,
        external_host: str | None = None,
        encapsulation: str | None = None,
        transport: str | None = None,
        connection_type: str | None = None,
        direction: str | None = None,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        data: str | None = None,
        transport_data: str | None = None,
    ) -> Channel:
        """Create a channel whose media goes to/from ``external_host`` (``127.0.0.1:40000``).

        ``format``: ulaw, alaw, slin16, opus...; ``encapsulation``: rtp (default),
        audiosocket or none (websocket); ``transport``: udp (default), tcp or websocket;
        ``connection_type``: client (default) or server (websocket only). For RTP the channel
        variables ``UNICASTRTP_LOCAL_ADDRESS``/``_PORT`` tell where Asterisk listens."""
        query: _Query = {
            "app": app or self._app,
            "external_host": external_host,
            "format": format,
            "encapsulation": encapsulation,
            "transport": transport,
            "connection_type": connection_type,
            "direction": direction,
            "channelId": channel_id,
            "data": data,
            "transport_data": transport_data,
        }
        response = await self._http.request(
            "POST", "/channels/externalMedia", query, _variables(variables)
        )
        return Channel.from_json(response)

    async def snoop(
        self,
        channel_id: str,
        *,
        app: str | None = None,
        spy: str | None = None,
        whisper: str | None = None,
        app_args: str | Sequence[str] = (),
        snoop_id: str | None = None,
    ) -> Channel:
        """A channel that hears (``spy``) and/or speaks into (``whisper``) another one; each is
        none (ARI's default), both, in or out."""
        query: _Query = {
            "app": app or self._app,
            "spy": spy,
            "whisper": whisper,
            "appArgs": _args(app_args),
            "snoopId": snoop_id,
        }
        data = await self._http.request("POST", _path("channels", channel_id, "snoop"), query)
        return Channel.from_json(data)


class BridgesApi(_Api):
    """``/bridges``: https://docs.asterisk.org/Latest_API/API_Documentation/Asterisk_REST_Interface/Bridges_REST_API/"""

    async def create(
        self,
        type: str | Sequence[str] = "mixing",
        bridge_id: str | None = None,
        name: str | None = None,
    ) -> Bridge:
        """``type``: mixing, holding, dtmf_events, proxy_media, video_sfu, video_single,
        sdp_label; several combine (``("mixing", "dtmf_events")``)."""
        query: _Query = {
            "type": [type] if isinstance(type, str) else type,
            "bridgeId": bridge_id,
            "name": name,
        }
        return Bridge.from_json(await self._http.request("POST", "/bridges", query))

    async def list(self) -> builtins.list[Bridge]:
        data = await self._http.request("GET", "/bridges")
        return [Bridge.from_json(item) for item in _list(data, "GET /bridges")]

    async def get(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self._http.request("GET", _path("bridges", bridge_id)))

    async def destroy(self, bridge_id: str) -> None:
        """Destroy the bridge; channels in it stay in Stasis."""
        await self._http.request("DELETE", _path("bridges", bridge_id))

    async def add_channel(
        self,
        bridge_id: str,
        channel_ids: str | Sequence[str],
        *,
        role: str | None = None,
        absorb_dtmf: bool | None = None,
        mute: bool | None = None,
        inhibit_connected_line_updates: bool | None = None,
    ) -> None:
        """Add channels; ``ChannelEnteredBridge`` confirms each. An unknown channel gives
        status 400 (not 404), a channel not in Stasis 422. Asterisk answers 204 but adds only
        one of the two halves of one Local channel pair."""
        query: _Query = {
            "channel": [channel_ids] if isinstance(channel_ids, str) else channel_ids,
            "role": role,
            "absorbDTMF": absorb_dtmf,
            "mute": mute,
            "inhibitConnectedLineUpdates": inhibit_connected_line_updates,
        }
        await self._http.request("POST", _path("bridges", bridge_id, "addChannel"), query)

    async def remove_channel(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        """``AriError`` with status 422 if a channel is not in the bridge."""
        query: _Query = {"channel": [channel_ids] if isinstance(channel_ids, str) else channel_ids}
        await self._http.request("POST", _path("bridges", bridge_id, "removeChannel"), query)

    async def play(
        self,
        bridge_id: str,
        media: str | Sequence[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
        offsetms: int | None = None,
        skipms: int | None = None,
    ) -> Playback:
        """Play media to every channel in the bridge."""
        query: _Query = {
            "media": [media] if isinstance(media, str) else media,
            "playbackId": playback_id,
            "lang": lang,
            "offsetms": offsetms,
            "skipms": skipms,
        }
        data = await self._http.request("POST", _path("bridges", bridge_id, "play"), query)
        return Playback.from_json(data)

    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        query: _Query = {"mohClass": moh_class}
        await self._http.request("POST", _path("bridges", bridge_id, "moh"), query)

    async def stop_moh(self, bridge_id: str) -> None:
        await self._http.request("DELETE", _path("bridges", bridge_id, "moh"))


class EndpointsApi(_Api):
    """``/endpoints``"""

    async def list(self) -> builtins.list[Endpoint]:
        data = await self._http.request("GET", "/endpoints")
        return [Endpoint.from_json(item) for item in _list(data, "GET /endpoints")]

    async def list_by_tech(self, tech: str) -> builtins.list[Endpoint]:
        data = await self._http.request("GET", _path("endpoints", tech))
        return [Endpoint.from_json(item) for item in _list(data, f"GET /endpoints/{tech}")]

    async def get(self, tech: str, resource: str) -> Endpoint:
        return Endpoint.from_json(
            await self._http.request("GET", _path("endpoints", tech, resource))
        )


class ApplicationsApi(_Api):
    """``/applications``"""

    async def list(self) -> builtins.list[Application]:
        data = await self._http.request("GET", "/applications")
        return [Application.from_json(item) for item in _list(data, "GET /applications")]

    async def get(self, name: str | None = None) -> Application:
        """The application (this client's by default): what it is subscribed to."""
        path = _path("applications", name or self._app)
        return Application.from_json(await self._http.request("GET", path))

    async def subscribe(
        self, event_sources: str | Sequence[str], name: str | None = None
    ) -> Application:
        """Subscribe to ``channel:<id>``, ``bridge:<id>``, ``endpoint:PJSIP/1001`` (or
        ``endpoint:PJSIP`` for all), ``deviceState:<name>``."""
        query: _Query = {
            "eventSource": [event_sources] if isinstance(event_sources, str) else event_sources
        }
        path = _path("applications", name or self._app, "subscription")
        return Application.from_json(await self._http.request("POST", path, query))

    async def unsubscribe(
        self, event_sources: str | Sequence[str], name: str | None = None
    ) -> Application:
        query: _Query = {
            "eventSource": [event_sources] if isinstance(event_sources, str) else event_sources
        }
        path = _path("applications", name or self._app, "subscription")
        return Application.from_json(await self._http.request("DELETE", path, query))

    async def set_event_filter(
        self, allowed: Sequence[str] = (), disallowed: Sequence[str] = (), name: str | None = None
    ) -> Application:
        """Only these event types reach the app (``PUT /applications/{name}/eventFilter``):
        fewer frames to send, read and parse. Empty lists lift the filter."""
        body = {
            "allowed": [{"type": kind} for kind in allowed],
            "disallowed": [{"type": kind} for kind in disallowed],
        }
        path = _path("applications", name or self._app, "eventFilter")
        return Application.from_json(await self._http.request("PUT", path, None, body))


class AsteriskApi(_Api):
    """``/asterisk``"""

    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self._http.request("GET", "/asterisk/info"))

    async def get_variable(self, variable: str) -> str:
        """A global variable (``""`` if unset).

        Dialplan functions are not evaluated here: ``PJSIP_DIAL_CONTACTS(1001)`` or
        ``LEN(abc)`` read as ``""`` (22.10.1). Read functions with ``channels.get_var`` on a
        channel, where they are evaluated."""
        query: _Query = {"variable": variable}
        return parse_variable(await self._http.request("GET", "/asterisk/variable", query))

    async def set_variable(self, variable: str, value: str) -> None:
        query: _Query = {"variable": variable, "value": value}
        await self._http.request("POST", "/asterisk/variable", query)

    async def reload_module(self, name: str) -> None:
        """Reload a module, e.g. ``res_pjsip.so`` after writing pjsip.conf."""
        await self._http.request("PUT", _path("asterisk", "modules", name))


class PlaybacksApi(_Api):
    """``/playbacks``"""

    async def get(self, playback_id: str) -> Playback:
        return Playback.from_json(await self._http.request("GET", _path("playbacks", playback_id)))

    async def stop(self, playback_id: str) -> None:
        await self._http.request("DELETE", _path("playbacks", playback_id))

    async def control(self, playback_id: str, operation: str) -> None:
        """``operation``: restart, pause, unpause, reverse, forward."""
        query: _Query = {"operation": operation}
        await self._http.request("POST", _path("playbacks", playback_id, "control"), query)


class AriClient:
    """ARI REST client for one Stasis application.

    ``base_url`` is Asterisk's HTTP server root, e.g. ``http://127.0.0.1:8088`` (``/ari`` is
    added). Pass ``session`` to share an ``aiohttp.ClientSession`` (it is then not closed
    here); otherwise one is created on first use and closed by ``close()``. ``timeout`` bounds
    each request, in seconds. ``rest_over_websocket`` sends the requests that can go that way
    as websocket frames (``wsrest``), with HTTP for the others and for an Asterisk too old.

        async with AriClient("http://127.0.0.1:8088", "pbx", secret, "pbx") as ari:
            bridge = await ari.bridges.create()
            await ari.bridges.add_channel(bridge.id, [caller.id, callee.id])
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 5.0,
        rest_over_websocket: bool = False,
    ) -> None:
        if not app:
            raise ValueError("an ARI application name is required")
        self.app = app
        self._http = _Http(base_url, username, password, session=session, timeout=timeout)
        if rest_over_websocket:
            self._http.ws = WebSocketRest(base_url, username, password, app, timeout=timeout)
        self.channels = ChannelsApi(self._http, app)
        self.bridges = BridgesApi(self._http, app)
        self.endpoints = EndpointsApi(self._http, app)
        self.applications = ApplicationsApi(self._http, app)
        self.asterisk = AsteriskApi(self._http, app)
        self.playbacks = PlaybacksApi(self._http, app)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the request websockets, and the HTTP session if this client made it. Safe to
        call twice."""
        await self._http.close()
