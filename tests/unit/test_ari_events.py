"""EventStream's reconnect loop and Backoff, against a tiny in-process websocket server.

This tests our loop (what it yields, how long it waits, how it stops), not Asterisk: the
server just accepts, sends a few captured frames and hangs up, or refuses, as scripted. The
same loop was run against the real Asterisk 22.10.1 (stopped, killed -9 and SIGSTOPped under
it) by hand; see the ARI client's report.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, test_utils, web

from pbx_ext.ari import (
    AriError,
    Backoff,
    ChannelDtmfReceived,
    Connected,
    Disconnected,
    EventStream,
    StasisEnd,
    StasisStart,
    StreamEvent,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "ari"


def frame(name: str) -> str:
    return (DATA / f"event_{name}.json").read_text()


# -- Backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(jitter=0.0)
    assert [backoff.delay(n) for n in range(8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_jitter_stays_in_range_and_follows_the_rng() -> None:
    first = Backoff(jitter=0.5, rng=random.Random(7))
    again = Backoff(jitter=0.5, rng=random.Random(7))
    delays = [first.delay(n) for n in range(12)]
    assert delays == [again.delay(n) for n in range(12)]
    bases = [min(10.0, 0.25 * 2**n) for n in range(12)]
    assert all(base / 2 <= d <= base for d, base in zip(delays, bases, strict=True))
    assert len(set(delays[6:])) > 1  # capped delays still differ between attempts


def test_backoff_survives_huge_attempt_counts() -> None:
    assert Backoff(jitter=0.0).delay(10_000) == 10.0
    assert Backoff(jitter=0.0).delay(-3) == 0.25


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0.0}, {"initial": 20.0}, {"factor": 0.5}, {"jitter": 1.5}],
)
def test_backoff_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Backoff"):
        Backoff(**kwargs)


# -- a scripted websocket server ---------------------------------------------------------------


@dataclass
class Refuse:
    status: int


@dataclass
class Send:
    """Accept, send these frames, then close (or keep the connection open with ``hold``)."""

    frames: list[str | bytes] = field(default_factory=list)
    hold: bool = False
    until: asyncio.Event | None = None


@dataclass
class Silent:
    """Accept, then never answer a ping."""


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeAsterisk:
    script: list[Refuse | Send | Silent]
    clock: FakeClock = field(default_factory=FakeClock)
    requests: list[tuple[dict[str, str], str | None]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.query), request.headers.get("Authorization")))
        step = self.script.pop(0) if self.script else Send(hold=True)
        if isinstance(step, Refuse):
            return web.json_response({"message": "Authentication required"}, status=step.status)
        ws = web.WebSocketResponse(autoping=not isinstance(step, Silent))
        await ws.prepare(request)
        if isinstance(step, Silent):
            async for message in ws:  # pings arrive here, unanswered
                assert message.type is WSMsgType.PING
            return ws
        for item in step.frames:
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_str(item)
        if step.hold:
            async for _ in ws:  # until the client goes away
                pass
        if step.until is not None:
            await step.until.wait()
        await ws.close()
        return ws


@pytest.fixture
async def server_url() -> AsyncIterator[tuple[FakeAsterisk, str]]:
    fake = FakeAsterisk(script=[])
    app = web.Application()
    app.router.add_get("/ari/events", fake.handle)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url(""))
    finally:
        await server.close()


class SleepRecorder:
    """Injected in place of asyncio.sleep: records the delay, waits no time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


async def take(stream: EventStream, count_connected: int) -> list[StreamEvent]:
    """Everything the stream yields until the ``count_connected``-th Connected."""
    seen: list[StreamEvent] = []
    async with asyncio.timeout(5):
        async for event in stream:
            seen.append(event)
            if sum(isinstance(e, Connected) for e in seen) == count_connected:
                return seen
    raise AssertionError(f"stream ended early: {seen}")


def kinds(events: list[StreamEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


# -- the stream --------------------------------------------------------------------------------


async def test_history_across_server_closes(
    server_url: tuple[FakeAsterisk, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = server_url
    fake.script = [
        Send(
            [
                frame("StasisStart_pjsip"),
                "{not json",
                b"\x00binary",
                '{"type": "StasisEnd", "application": "devapp"}',  # no timestamp, no channel
                frame("StasisEnd"),
            ]
        ),
        Send([frame("ChannelDtmfReceived")]),
    ]
    sleep = SleepRecorder()
    stream = EventStream(url, "dev", "devpass", "devapp", backoff=Backoff(jitter=0.0), sleep=sleep)
    async with stream:
        with caplog.at_level(logging.WARNING, logger="pbx_ext.ari.events"):
            events = await take(stream, count_connected=3)
    assert kinds(events) == [
        "Connected",
        "StasisStart",
        "StasisEnd",
        "Disconnected",
        "Connected",
        "ChannelDtmfReceived",
        "Disconnected",
        "Connected",
    ]
    assert isinstance(events[1], StasisStart)
    assert events[1].channel.endpoint_name == "PJSIP/1001"
    assert isinstance(events[2], StasisEnd)
    assert isinstance(events[5], ChannelDtmfReceived)
    disconnected = events[3]
    assert isinstance(disconnected, Disconnected)
    assert "closed" in disconnected.reason
    # Two short-lived connections: the wait grows.
    assert sleep.delays == [0.25, 0.5]
    # Malformed frames were logged and skipped, the stream went on.
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 3
    query, authorization = fake.requests[0]
    assert query == {"app": "devapp", "subscribeAll": "false"}
    assert authorization == "Basic " + base64.b64encode(b"dev:devpass").decode()


async def test_refused_handshakes_back_off_without_yielding(
    server_url: tuple[FakeAsterisk, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = server_url
    fake.script = [Refuse(401), Refuse(503), Send([])]
    sleep = SleepRecorder()
    stream = EventStream(
        url, "dev", "wrong", "devapp", subscribe_all=True, backoff=Backoff(jitter=0.0), sleep=sleep
    )
    async with stream:
        with caplog.at_level(logging.ERROR, logger="pbx_ext.ari.events"):
            events = await take(stream, count_connected=2)
    assert kinds(events) == ["Connected", "Disconnected", "Connected"]
    assert sleep.delays == [0.25, 0.5, 1.0]
    assert "HTTP 401" in caplog.text
    assert fake.requests[0][0] == {"app": "devapp", "subscribeAll": "true"}


async def test_a_connection_that_stayed_up_resets_the_backoff(
    server_url: tuple[FakeAsterisk, str],
) -> None:
    fake, url = server_url
    drop = asyncio.Event()
    fake.script = [Refuse(500), Send([], until=drop), Send([])]
    sleep = SleepRecorder()
    clock = FakeClock()
    backoff = Backoff(jitter=0.0, stable_after=10.0)
    stream = EventStream(url, "dev", "devpass", "devapp", backoff=backoff, sleep=sleep, clock=clock)
    connected = 0
    async with stream, asyncio.timeout(5):
        async for event in stream:
            if isinstance(event, Connected):
                connected += 1
                if connected == 1:  # the connection stays up a minute, then drops
                    clock.now += 60.0
                    drop.set()
                elif connected == 3:
                    break
    # refused: 0.25; up 60 s then dropped: back to 0.25; up 0 s then dropped: 0.5
    assert sleep.delays == [0.25, 0.25, 0.5]


async def test_close_while_waiting_to_reconnect(server_url: tuple[FakeAsterisk, str]) -> None:
    fake, url = server_url
    fake.script = [Send([])]
    sleep_cancelled = asyncio.Event()

    async def sleep_forever(delay: float) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            sleep_cancelled.set()

    stream = EventStream(url, "dev", "devpass", "devapp", sleep=sleep_forever)
    seen: list[StreamEvent] = []
    async for event in stream:
        seen.append(event)
        if isinstance(event, Disconnected):
            break
    await stream.close()
    assert sleep_cancelled.is_set()
    await stream.close()  # twice is fine
    assert [e async for e in stream] == []
    assert kinds(seen) == ["Connected", "Disconnected"]


async def test_close_ends_a_consumer_waiting_for_events(
    server_url: tuple[FakeAsterisk, str],
) -> None:
    _, url = server_url
    stream = EventStream(url, "dev", "devpass", "devapp")
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in stream:
            seen.append(event)

    async with asyncio.TaskGroup() as tasks:
        consumer = tasks.create_task(consume())
        await asyncio.sleep(0.2)  # connected, then nothing arrives
        await stream.close()
    assert consumer.done()
    assert kinds(seen) == ["Connected"]


async def test_cancelling_the_consumer_is_not_swallowed(
    server_url: tuple[FakeAsterisk, str],
) -> None:
    _, url = server_url
    async with EventStream(url, "dev", "devpass", "devapp") as stream:

        async def consume() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_an_unexpected_failure_is_raised_not_hung(
    server_url: tuple[FakeAsterisk, str],
) -> None:
    fake, url = server_url
    fake.script = [Send([])]

    async def broken_sleep(delay: float) -> None:
        raise RuntimeError("boom")

    async with EventStream(url, "dev", "devpass", "devapp", sleep=broken_sleep) as stream:
        seen: list[StreamEvent] = []

        async def consume() -> None:
            async with asyncio.timeout(5):
                async for event in stream:
                    seen.append(event)

        with pytest.raises(AriError, match="boom") as info:
            await consume()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert kinds(seen) == ["Connected", "Disconnected"]


async def test_heartbeat_notices_a_peer_that_stopped_answering(
    server_url: tuple[FakeAsterisk, str],
) -> None:
    fake, url = server_url
    fake.script = [Silent()]
    sleep = SleepRecorder()
    stream = EventStream(url, "dev", "devpass", "devapp", heartbeat=0.2, sleep=sleep)
    async with stream:
        events = await take(stream, count_connected=2)
    assert kinds(events) == ["Connected", "Disconnected", "Connected"]
    disconnected = events[1]
    assert isinstance(disconnected, Disconnected)
    assert "PONG" in disconnected.reason


def test_url_holds_no_secret() -> None:
    stream = EventStream("https://pbx.example:8089/asterisk/", "dev", "s3cret", "pbx")
    assert stream.url == "wss://pbx.example:8089/asterisk/ari/events?app=pbx&subscribeAll=false"
