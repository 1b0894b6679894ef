"""AriClient's HTTP handling, against an in-process aiohttp server.

This checks our side only: the request we build (path encoding, query, JSON body, auth header)
and how answers map to results and errors. The answer bodies are the ones Asterisk 22.10.1
gave (``tests/data/ari/rest_*.json``). That the paths and parameters are what Asterisk expects
was checked against the real Asterisk, not here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import test_utils, web

from pbx_ext.ari import (
    AriClient,
    AriConflict,
    AriError,
    AriNotFound,
    AriUnavailable,
    ProtocolError,
)
from pbx_ext.errors import AsteriskError, PbxError

DATA = Path(__file__).resolve().parent.parent / "data" / "ari"


def body(name: str) -> str:
    return (DATA / f"rest_{name}.json").read_text()


@dataclass
class Seen:
    method: str
    raw_path: str
    query: dict[str, str]
    json: Any
    authorization: str | None


@dataclass
class FakeAri:
    """Answers every request with the next scripted (status, body); records what it got."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.seen.append(
            Seen(
                method=request.method,
                raw_path=request.raw_path.split("?")[0],
                query=dict(request.query),
                json=json.loads(text) if text else None,
                authorization=request.headers.get("Authorization"),
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        status, payload = self.answers.pop(0) if self.answers else (204, "")
        if status == 204:
            return web.Response(status=204)
        return web.Response(status=status, text=payload, content_type="application/json")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAri, str]]:
    ari = FakeAri()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ari.handle)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield ari, str(server.make_url(""))
    finally:
        await server.close()


@pytest.fixture
async def client(fake: tuple[FakeAri, str]) -> AsyncIterator[AriClient]:
    async with AriClient(fake[1], "dev", "devpass", "devapp", timeout=2.0) as ari:
        yield ari


async def test_basic_auth_header_and_no_credentials_in_the_url(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    ari, _ = fake
    ari.answers.append((200, body("channels_list")))
    channels = await client.channels.list()
    assert [c.id for c in channels] == ["r-a2", "r-a1"]
    seen = ari.seen[0]
    assert (seen.method, seen.raw_path, seen.query) == ("GET", "/ari/channels", {})
    assert seen.authorization == "Basic " + base64.b64encode(b"dev:devpass").decode()


async def test_path_segments_are_percent_encoded(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    ari, _ = fake
    await client.channels.hangup("a/b c?d", "busy")
    assert ari.seen[0].raw_path == "/ari/channels/a%2Fb%20c%3Fd"
    assert ari.seen[0].query == {"reason": "busy"}


async def test_originate_query_and_variables_body(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    ari, _ = fake
    ari.answers.append((200, body("originate")))
    channel = await client.channels.originate(
        "PJSIP/1001",
        app_args=["first", "second"],
        caller_id='"Reception" <600>',
        timeout=20,
        channel_id="call-1",
        other_channel_id="call-1b",
        variables={"CALLERID(name)": "Reception", "PBX_CALL": "1"},
    )
    assert channel.id == "r-a1"
    seen = ari.seen[0]
    assert (seen.method, seen.raw_path) == ("POST", "/ari/channels")
    assert seen.query == {
        "endpoint": "PJSIP/1001",
        "app": "devapp",
        "appArgs": "first,second",
        "callerId": '"Reception" <600>',
        "timeout": "20",
        "channelId": "call-1",
        "otherChannelId": "call-1b",
    }
    assert seen.json == {"variables": {"CALLERID(name)": "Reception", "PBX_CALL": "1"}}


async def test_originate_to_the_dialplan_sends_no_app(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    ari, _ = fake
    ari.answers.append((200, body("originate")))
    await client.channels.originate("PJSIP/1001", context="from-users", extension="100")
    assert ari.seen[0].query == {
        "endpoint": "PJSIP/1001",
        "context": "from-users",
        "extension": "100",
    }
    assert ari.seen[0].json is None
    with pytest.raises(ValueError, match="either"):
        await client.channels.originate("PJSIP/1001", app="devapp", context="from-users")


async def test_list_parameters_are_comma_joined(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    ari, _ = fake
    ari.answers.append((201, body("channels_play")))
    playback = await client.bridges.play("b 1", ["sound:beep", "digits:42"], playback_id="pb")
    assert playback.id == "r-pb"
    await client.bridges.add_channel("b1", ["c1", "c2"], absorb_dtmf=True, mute=False)
    seen = ari.seen
    assert seen[0].raw_path == "/ari/bridges/b%201/play"
    assert seen[0].query == {"media": "sound:beep,digits:42", "playbackId": "pb"}
    assert seen[1].query == {"channel": "c1,c2", "absorbDTMF": "true", "mute": "false"}


async def test_stasis_args_cannot_carry_commas(client: AriClient) -> None:
    with pytest.raises(ValueError, match="comma"):
        await client.channels.create("PJSIP/1001", app_args="a,b")


async def test_variable_answers(fake: tuple[FakeAri, str], client: AriClient) -> None:
    ari, _ = fake
    ari.answers.append((200, body("channels_variable")))
    assert await client.channels.get_var("c1", "CHANNEL(language)") == "en"
    assert ari.seen[0].query == {"variable": "CHANNEL(language)"}


@pytest.mark.parametrize(
    ("status", "name", "error", "message"),
    [
        (404, "err_404_channel", AriNotFound, "Channel not found"),
        (404, "err_404_resource", AriNotFound, "Resource not found"),
        (409, "err_409_bridge_exists", AriConflict, "Bridge with id 'r-b1' already exists"),
        (422, "err_422_not_in_bridge", AriError, "Channel not in this bridge"),
        (400, "err_400_dtmf", AriError, "DTMF is required"),
        (401, "err_401", AriError, "Authentication required"),
        (500, "err_500_originate", AriError, "Allocation failed"),
    ],
)
async def test_error_statuses_map_to_errors(
    fake: tuple[FakeAri, str],
    client: AriClient,
    status: int,
    name: str,
    error: type[AriError],
    message: str,
) -> None:
    ari, _ = fake
    ari.answers.append((status, body(name)))
    with pytest.raises(error) as info:
        await client.channels.answer("c1")
    exc = info.value
    assert type(exc) is error
    assert (exc.status, exc.method, exc.path, exc.message) == (
        status,
        "POST",
        "/channels/c1/answer",
        message,
    )
    assert isinstance(exc, AsteriskError)
    assert isinstance(exc, PbxError)
    assert str(status) in str(exc)
    assert "devpass" not in str(exc)


async def test_not_found_is_a_lookup_error(fake: tuple[FakeAri, str], client: AriClient) -> None:
    fake[0].answers.append((404, body("err_404_channel")))
    with pytest.raises(LookupError):
        await client.channels.get("gone")


async def test_error_without_a_json_body(fake: tuple[FakeAri, str], client: AriClient) -> None:
    fake[0].answers.append((503, ""))
    with pytest.raises(AriError) as info:
        await client.bridges.destroy("b1")
    assert (info.value.status, info.value.message) == (503, "HTTP 503")


async def test_success_with_a_body_that_is_not_json(
    fake: tuple[FakeAri, str], client: AriClient
) -> None:
    fake[0].answers.append((200, "<html>proxy error</html>"))
    with pytest.raises(ProtocolError):
        await client.channels.list()
    fake[0].answers.append((200, '{"not": "a list"}'))
    with pytest.raises(ProtocolError):
        await client.bridges.list()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_is_unavailable() -> None:
    async with AriClient(f"http://127.0.0.1:{closed_port()}", "dev", "devpass", "devapp") as ari:
        with pytest.raises(AriUnavailable) as info:
            await ari.asterisk.info()
    assert isinstance(info.value, ConnectionError)
    assert (info.value.method, info.value.path, info.value.status) == (
        "GET",
        "/asterisk/info",
        None,
    )


async def test_no_answer_in_time_is_unavailable(fake: tuple[FakeAri, str]) -> None:
    fake[0].delay = 1.0
    async with AriClient(fake[1], "dev", "devpass", "devapp", timeout=0.1) as ari:
        with pytest.raises(AriUnavailable, match=r"no answer within 0\.1 s"):
            await ari.channels.list()


async def test_close_is_idempotent_and_final(fake: tuple[FakeAri, str]) -> None:
    ari = AriClient(fake[1], "dev", "devpass", "devapp")
    await ari.channels.ring("c1")
    await ari.close()
    await ari.close()
    with pytest.raises(AriError, match="closed"):
        await ari.channels.ring("c1")


async def test_a_shared_session_is_left_open(fake: tuple[FakeAri, str]) -> None:
    async with aiohttp.ClientSession() as session:
        async with AriClient(fake[1], "dev", "devpass", "devapp", session=session) as ari:
            await ari.channels.answer("c1")
        assert not session.closed


def test_base_url_must_not_carry_credentials() -> None:
    with pytest.raises(ValueError, match="credentials"):
        AriClient("http://dev:devpass@127.0.0.1:8088", "dev", "devpass", "devapp")
    with pytest.raises(ValueError, match="http"):
        AriClient("ws://127.0.0.1:8088", "dev", "devpass", "devapp")
