"""ARI requests over websockets: our side of the exchange, against an in-process server.

What is checked here is the frame we build, how answers and failures map to results and
errors, and the fall back to HTTP. That Asterisk answers these frames as shown was checked
against Asterisk 22.10.1 (``tests/functional/test_ari_websocket.py``), not here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import test_utils, web

from pbx_ext.ari import AriClient, AriNotFound, AriUnavailable, wsrest

DATA = Path(__file__).resolve().parent.parent / "data" / "ari"
BRIDGE = (DATA / "rest_bridges_get.json").read_text()
BRIDGE_ID = json.loads(BRIDGE)["id"]
APPLICATION = (DATA / "rest_applications_get.json").read_text()


@dataclass
class Peer:
    """An ARI endpoint: websocket frames per ``mode``, HTTP answered 200 with a bridge."""

    mode: str = "answer"  # answer | silent | close-after-probe
    frames: list[dict[str, Any]] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    http: list[str] = field(default_factory=list)

    async def events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.apps.append(request.query["app"])
        async for message in ws:
            frame = json.loads(message.data)
            self.frames.append(frame)
            if self.mode == "silent":
                continue
            if self.mode == "close-after-probe" and frame["uri"] != "asterisk/ping":
                await ws.close()
                break
            answer: dict[str, Any] = {
                "type": "RESTResponse",
                "request_id": frame["request_id"],
                "status_code": 200,
                "reason_phrase": "OK",
                "uri": frame["uri"],
            }
            if frame["uri"] == "bridges/missing":
                answer |= {"status_code": 404, "message_body": '{"message":"Bridge not found"}'}
            elif frame["uri"].startswith("bridges"):
                answer |= {"content_type": "application/json", "message_body": BRIDGE}
            elif frame["uri"] != "asterisk/ping":
                answer |= {"status_code": 204, "reason_phrase": "No Content"}
            # An event-like frame first: it must be ignored, not taken for the answer.
            await ws.send_str('{"type": "ApplicationReplaced", "application": "x"}')
            await ws.send_str(json.dumps(answer))
        return ws

    async def rest(self, request: web.Request) -> web.Response:
        self.http.append(f"{request.method} {request.raw_path}")
        text = APPLICATION if "applications" in request.path else BRIDGE
        return web.Response(text=text, content_type="application/json")


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, str]]:
    state = Peer()
    app = web.Application()
    app.router.add_get("/ari/events", state.events)
    app.router.add_route("*", "/ari/{tail:.*}", state.rest)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url(""))
    finally:
        await server.close()


def client(url: str, timeout: float = 2.0) -> AriClient:
    return AriClient(url, "dev", "devpass", "devapp", timeout=timeout, rest_over_websocket=True)


async def test_requests_travel_as_frames_with_the_path_and_query_of_http(
    peer: tuple[Peer, str],
) -> None:
    state, url = peer
    async with client(url) as ari:
        bridge = await ari.bridges.create("mixing", bridge_id="b 1", name="pbx-ext call")
        await ari.channels.hangup("chan/1", "busy")
    assert bridge.id == BRIDGE_ID
    assert state.http == []
    # A fresh socket is probed first; one request at a time: all on the first socket.
    probe = {"type": "RESTRequest", "request_id": "1", "method": "GET", "uri": "asterisk/ping"}
    assert state.frames[0] == probe
    create, hangup = (f for f in state.frames if f["uri"] != "asterisk/ping")
    assert create["method"] == "POST"
    assert create["uri"] == "bridges"
    assert {q["name"]: q["value"] for q in create["query_strings"]} == {
        "type": "mixing",
        "bridgeId": "b 1",
        "name": "pbx-ext call",
    }
    # Ids stay percent-encoded in the path, as over HTTP ("/" included).
    assert hangup["uri"] == "channels/chan%2F1"
    assert hangup["query_strings"] == [{"name": "reason", "value": "busy"}]
    assert state.apps == ["devapp-rest-0"]


async def test_errors_map_as_over_http(peer: tuple[Peer, str]) -> None:
    _, url = peer
    async with client(url) as ari:
        with pytest.raises(AriNotFound, match="Bridge not found") as info:
            await ari.bridges.get("missing")
    assert (info.value.status, info.value.method, info.value.path) == (
        404,
        "GET",
        "/bridges/missing",
    )


async def test_requests_with_a_body_go_over_http(peer: tuple[Peer, str]) -> None:
    state, url = peer
    async with client(url) as ari:
        await ari.applications.set_event_filter(allowed=["StasisStart"])
    assert state.frames == []
    assert state.http == ["PUT /ari/applications/devapp/eventFilter"]


async def test_an_asterisk_that_does_not_answer_frames_is_served_over_http(
    peer: tuple[Peer, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    state, url = peer
    state.mode = "silent"
    monkeypatch.setattr(wsrest, "PROBE_TIMEOUT", 0.1)
    with caplog.at_level(logging.WARNING):
        async with client(url) as ari:
            first = await ari.bridges.get("b1")
            second = await ari.bridges.get("b2")
    assert (first.id, second.id) == (BRIDGE_ID, BRIDGE_ID)
    assert state.http == ["GET /ari/bridges/b1", "GET /ari/bridges/b2"]
    assert [f["uri"] for f in state.frames] == ["asterisk/ping"]  # probed once, not again
    assert "does not answer ARI requests over websockets" in caplog.text
    assert "using HTTP for ARI requests" in caplog.text


async def test_websockets_are_tried_again_a_while_after_a_fall_back(
    peer: tuple[Peer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = peer
    state.mode = "silent"
    monkeypatch.setattr(wsrest, "PROBE_TIMEOUT", 0.1)
    monkeypatch.setattr(wsrest, "RETRY_AFTER", 0.2)
    async with client(url) as ari:
        await ari.bridges.get("b1")  # over HTTP
        state.mode = "answer"  # Asterisk upgraded meanwhile
        await asyncio.sleep(0.3)
        await ari.bridges.get("b2")
    assert state.http == ["GET /ari/bridges/b1"]
    assert [f["uri"] for f in state.frames][-1] == "bridges/b2"


async def test_a_socket_lost_mid_request_fails_it_and_the_next_request_reconnects(
    peer: tuple[Peer, str],
) -> None:
    state, url = peer
    state.mode = "close-after-probe"
    async with client(url) as ari:
        with pytest.raises(AriUnavailable, match="websocket devapp-rest-0 closed"):
            await ari.channels.answer("c1")
        state.mode = "answer"
        await ari.channels.answer("c1")
    assert state.apps == ["devapp-rest-0", "devapp-rest-0"]
    assert state.http == []


async def test_no_answer_in_time_is_unavailable(peer: tuple[Peer, str]) -> None:
    state, url = peer
    async with client(url, timeout=0.2) as ari:
        await ari.channels.answer("c1")  # the probe went through: frames are answered
        state.mode = "silent"
        with pytest.raises(AriUnavailable, match=r"no answer within 0\.2 s"):
            await ari.channels.answer("c1")


async def test_unreachable_asterisk_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}") as ari:
        with pytest.raises(AriUnavailable) as info:
            await ari.channels.answer("c1")
    assert (info.value.method, info.value.path) == ("POST", "/channels/c1/answer")


async def test_closed_client_refuses_requests(peer: tuple[Peer, str]) -> None:
    _, url = peer
    ari = client(url)
    await ari.channels.answer("c1")
    await ari.close()
    await ari.close()
    with pytest.raises(Exception, match="closed"):
        await ari.channels.answer("c1")


async def test_requests_in_flight_share_the_sockets(peer: tuple[Peer, str]) -> None:
    state, url = peer
    async with client(url) as ari:
        await asyncio.gather(*(ari.channels.answer(f"c{i}") for i in range(40)))
    assert sorted(set(state.apps)) == sorted(f"devapp-rest-{i}" for i in range(16))
    answered = [f["uri"] for f in state.frames if f["uri"] != "asterisk/ping"]
    assert sorted(answered) == sorted(f"channels/c{i}/answer" for i in range(40))
