"""The ARI event websocket, as an async iterator of typed events that survives Asterisk restarts.

    stream = EventStream("http://127.0.0.1:8088", "pbx", secret, "pbx")
    async with stream:
        async for event in stream:
            match event:
                case Connected():
                    await reconcile()          # events sent while we were away are lost
                case StasisStart(channel=channel, args=args):
                    ...
                case Disconnected(reason=reason):
                    log.warning("ARI down: %s", reason)

Rules of the stream:

- It connects to ``ws(s)://host/ari/events?app=<app>&subscribeAll=<bool>`` with the basic-auth
  header (never credentials in the query string) and a websocket heartbeat, so a peer that is
  gone without closing the TCP connection is noticed within ``1.5 * heartbeat`` seconds.
- ``Connected()`` is yielded after each successful connection, the first one included;
  ``Disconnected(reason)`` when a connection that had been up drops. Failed connection
  attempts are only logged.
- Then it waits ``backoff.delay(attempt)`` (exponential, with jitter) and connects again,
  forever, until ``close()``. A connection that stayed up ``backoff.stable_after`` seconds
  resets the attempt count, so one drop after a long good run retries fast while a server that
  accepts and drops at once is not hammered.
- A frame that is not a valid ARI event is logged and skipped; it never ends the stream.
- One reader task per stream reads the socket continuously into a queue, whatever the consumer
  is doing: a slow handler never delays the websocket pongs, nor makes Asterisk drop us for not
  reading. ``close()`` cancels that task and awaits it; iteration then ends. If the task dies of
  an unexpected error, iteration re-raises it instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Self

import aiohttp

from pbx_ext.ari._common import basic_auth_header, events_url
from pbx_ext.ari.errors import AriError, ProtocolError
from pbx_ext.ari.models import Connected, Disconnected, StreamEvent, parse_frame

logger = logging.getLogger(__name__)


class Backoff:
    """Reconnect delays: ``initial * factor**attempt`` capped at ``maximum``, minus a random
    share of up to ``jitter`` of it, so many clients restarted together do not reconnect in
    step. Pure but for the injected ``rng``:

    >>> b = Backoff(rng=random.Random(1), jitter=0.0)
    >>> [b.delay(n) for n in range(8)]
    [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    """

    def __init__(
        self,
        *,
        initial: float = 0.25,
        maximum: float = 10.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        stable_after: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= maximum or factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("Backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.stable_after = stable_after
        self._rng = rng if rng is not None else random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry)."""
        # Past 64 doublings every delay is capped anyway; this keeps ``**`` from overflowing.
        base = min(self.maximum, self.initial * self.factor ** min(max(attempt, 0), 64))
        return base * (1.0 - self.jitter * self._rng.random())


class _End:
    """Queue sentinel: the reader task has finished."""


_END: Final = _End()

Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], float]


class EventStream:
    """Async iterator over the events of one Stasis application (see the module docstring).

    ``base_url`` is Asterisk's HTTP server root (``http://127.0.0.1:8088``), as for
    ``AriClient``. ``subscribe_all`` asks for every event of the system, not only those of
    channels and bridges the app owns or subscribed to. ``sleep`` and ``clock`` are injectable
    for tests; ``session`` lets the caller share an ``aiohttp.ClientSession`` (not closed here).
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        subscribe_all: bool = False,
        backoff: Backoff | None = None,
        heartbeat: float = 10.0,
        connect_timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if not app:
            raise ValueError("an ARI application name is required")
        self._url = events_url(base_url)
        self._params = {"app": app, "subscribeAll": "true" if subscribe_all else "false"}
        self._headers = {"Authorization": basic_auth_header(username, password)}
        self._backoff = backoff if backoff is not None else Backoff()
        self._heartbeat = heartbeat
        self._connect_timeout = connect_timeout
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._queue: asyncio.Queue[StreamEvent | _End] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The websocket URL with its query string (it holds no secret)."""
        return str(self._url.with_query(self._params))

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reader task (iteration starts it too). Needs a running event loop."""
        if self._closed:
            raise AriError("this EventStream is closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"ari-events:{self._params['app']}"
            )

    async def close(self) -> None:
        """Stop: cancel the reader task, wait for it, end the iteration. Safe to call twice."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            # wait() does not raise the task's CancelledError here, but a cancellation of
            # close() itself still propagates.
            await asyncio.wait([task])
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        if not self._closed:
            self.start()
        return self

    async def __anext__(self) -> StreamEvent:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # every later call ends too
            task = self._task
            if task is not None:
                await asyncio.wait([task])
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise AriError(f"the ARI event reader failed: {failure!r}") from failure
            raise StopAsyncIteration
        return item

    # -- the reader task --------------------------------------------------------------------

    async def _run(self) -> None:
        session = self._session
        owned = session is None
        try:
            if session is None:
                # No total timeout: it would cut a websocket that is meant to stay open.
                session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout)
                )
            await self._reconnect_forever(session)
        finally:
            if owned and session is not None:
                await session.close()
            self._queue.put_nowait(_END)

    async def _reconnect_forever(self, session: aiohttp.ClientSession) -> None:
        attempt = 0
        while True:
            ws = await self._connect(session)
            if ws is not None:
                up_since = self._clock()
                reason = await self._pump(ws)
                logger.warning("ARI event websocket %s lost: %s", self._url, reason)
                self._queue.put_nowait(Disconnected(reason))
                if self._clock() - up_since >= self._backoff.stable_after:
                    attempt = 0
            delay = self._backoff.delay(attempt)
            attempt += 1
            logger.debug("reconnecting to %s in %.2f s", self._url, delay)
            await self._sleep(delay)

    async def _connect(
        self, session: aiohttp.ClientSession
    ) -> aiohttp.ClientWebSocketResponse | None:
        try:
            async with asyncio.timeout(self._connect_timeout):
                ws = await session.ws_connect(
                    self._url,
                    params=self._params,
                    headers=self._headers,
                    heartbeat=self._heartbeat,
                )
        except aiohttp.WSServerHandshakeError as exc:
            # 401: wrong ARI user or password; 404: ARI not enabled. Retrying is still right:
            # an admin may fix ari.conf and reload without restarting us.
            logger.error("ARI refused the event websocket %s: HTTP %s", self._url, exc.status)
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning("cannot reach ARI at %s: %s", self._url, str(exc) or repr(exc))
            return None
        logger.info("ARI event websocket connected: %s", self._url)
        self._queue.put_nowait(Connected())
        return ws

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Read until the socket ends; return why it ended."""
        try:
            while True:
                try:
                    message = await ws.receive()
                except (aiohttp.ClientError, OSError) as exc:
                    return f"error: {exc!r}"
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._deliver(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    logger.warning("skipping a binary frame on the ARI event websocket")
                elif message.type is aiohttp.WSMsgType.ERROR:
                    return f"error: {ws.exception()!r}"
                elif message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    return f"closed (code {ws.close_code})"
                # PING/PONG are answered and consumed by aiohttp (autoping).
        finally:
            await ws.close()

    def _deliver(self, text: str) -> None:
        try:
            event = parse_frame(text)
        except ProtocolError as exc:
            logger.warning("skipping a malformed ARI event: %s: %.200r", exc, text)
            return
        self._queue.put_nowait(event)
