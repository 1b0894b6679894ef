"""The Stasis application: one dispatcher task, one task per call.

The dispatcher reads the ARI event stream in order and never blocks on a call: it starts a
``Call`` for each caller channel that enters Stasis and hands every later event to the call
owning the channel (by channel id). After each (re)connection it reconciles with what
Asterisk reports, so a restart of pbx-ext (kill -9 included) loses no call:

- a bridge of ours (``<call id>-bridge``) holding the caller and one callee is adopted as a
  connected call; one left with a single channel is cleaned up (its channel hung up, the
  bridge destroyed) so nothing is left orphaned;
- a channel in our app that no call owns (a call that was ringing when the old process
  died) is hung up: the caller gets an immediate signal, rather than ringing forever;
- a tracked call whose channels vanished while the socket was down is told so;
- calls still "in progress" in the history but gone from Asterisk are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pbx_ext.app.call import BRIDGE_NAME, Call, Direction, Vanished, noted
from pbx_ext.app.routing import (
    Outbound,
    Reject,
    RejectReason,
    Route,
    route_from_trunk,
    route_from_user,
)
from pbx_ext.ari import (
    AriClient,
    AriError,
    AriNotFound,
    ChannelDestroyed,
    ChannelHangupRequest,
    Connected,
    Dial,
    Disconnected,
    Event,
    StasisEnd,
    StasisStart,
    StreamEvent,
)
from pbx_ext.errors import SiteError
from pbx_ext.history import CallHistory, HistoryError
from pbx_ext.site import Site, load_site

log = logging.getLogger(__name__)

BRIDGE_SUFFIX = "-bridge"
# The events calls act on. Asterisk sends an app every event of its channels and bridges
# (variables set, dialplan steps, connected-line updates...): several times as many frames,
# each to be read and parsed, for nothing.
CALL_EVENTS = (
    "StasisStart",
    "StasisEnd",
    "Dial",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ApplicationReplaced",
)


class SiteSource:
    """The applied site file, reloaded when it changes; a bad edit keeps the last good site."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._site: Site | None = None

    def current(self) -> Site:
        """The site to route with. Raises only when no site was ever loaded (at start)."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError as exc:
            if self._site is None:
                raise SiteError([f"{self.path}: cannot read the applied site: {exc}"]) from exc
            if self._stamp is not None:  # say it once, not at every call
                log.error("%s: %s; keeping the previous site", self.path, exc)
            self._stamp = None
            return self._site
        if stamp != self._stamp or self._site is None:
            try:
                self._site = load_site(self.path)
            except SiteError as exc:
                if self._site is None:
                    raise
                log.error("%s is invalid, keeping the previous site:\n%s", self.path, exc)
            self._stamp = stamp
        return self._site


@dataclass(frozen=True, slots=True)
class Caller:
    number: str
    name: str
    dialed: str


class CallControl:
    """Routes every call that enters the Stasis app (see the module docstring)."""

    def __init__(
        self,
        ari: AriClient,
        events: AsyncIterator[StreamEvent],
        sites: SiteSource,
        history: CallHistory,
    ) -> None:
        self._ari = ari
        self._events = events
        self._sites = sites
        self._history = history
        self._calls: dict[str, Call] = {}  # call id (the caller's channel id) → call
        self._by_channel: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    @property
    def calls(self) -> dict[str, Call]:
        return dict(self._calls)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            async for event in self._events:
                await self._dispatch(event, tg)

    async def _dispatch(self, event: StreamEvent, tg: asyncio.TaskGroup) -> None:
        log.debug("event %r", event)
        match event:
            case Connected():
                log.info("connected to Asterisk; reconciling calls")
                await self._reconcile(tg)
                self.connected.set()
            case Disconnected(reason=reason):
                self.connected.clear()
                log.warning("lost the ARI connection (%s); reconnecting", reason)
            case StasisStart(args=(("user" | "trunk") as kind, endpoint, *_), channel=channel):
                if channel.id not in self._by_channel:
                    try:
                        await self._new_call(kind, endpoint, event, tg)
                    except Exception:
                        # A bug in routing one call must not end the app, and with it the
                        # routing of every later call: this caller gets a failure (500).
                        log.exception("call %s could not be routed; hanging it up", channel.id)
                        with contextlib.suppress(AriError):
                            await self._ari.channels.hangup(channel.id, "failure")
                        self._note_unrouted(kind, event)
            case Dial(peer=peer):
                self._deliver(peer.id, event)
            case (
                StasisStart(channel=channel)
                | StasisEnd(channel=channel)
                | ChannelDestroyed(channel=channel)
                | ChannelHangupRequest(channel=channel)
            ):
                self._deliver(channel.id, event)
            case _:
                pass  # no call needs the other events

    def _deliver(self, channel_id: str, event: Event) -> None:
        call = self._by_channel.get(channel_id)
        if call is not None:
            call.deliver(event)

    # -- new calls ---------------------------------------------------------------------------

    async def _new_call(
        self, kind: str, endpoint: str, event: StasisStart, tg: asyncio.TaskGroup
    ) -> None:
        channel = event.channel
        dialed = channel.dialplan.exten if channel.dialplan is not None else ""
        site = self._sites.current()
        route: Route
        if kind == "user":
            user = site.user(endpoint)
            if user is None:
                route = Reject.because(RejectReason.UNKNOWN, f"no user {endpoint!r}")
                caller = Caller(endpoint, "", dialed)
            else:
                route = route_from_user(site, user, dialed)
                caller = Caller(user.extension, user.name, dialed)
            direction = Direction.OUTBOUND if isinstance(route, Outbound) else Direction.INTERNAL
        else:
            trunk = next((t for t in site.trunks if f"trunk-{t.name}" == endpoint), None)
            if trunk is None:
                route = Reject.because(RejectReason.UNKNOWN, f"no trunk {endpoint!r}")
            else:
                route = route_from_trunk(site, trunk, dialed)
            caller = Caller(
                _printable(channel.caller.number), _printable(channel.caller.name), dialed
            )
            direction = Direction.INBOUND
        noted(
            self._history.call_started,
            channel.id,
            channel.creationtime or datetime.now(UTC),
            caller.number,
            caller.name,
            caller.dialed,
            direction.value,
        )
        call = self._track(channel.id)
        tg.create_task(self._supervise(call, route), name=f"call:{channel.id}")

    def _note_unrouted(self, kind: str, event: StasisStart) -> None:
        """Record a call that failed before it could be routed, from what Asterisk says."""
        channel = event.channel
        now = datetime.now(UTC)
        noted(
            self._history.call_started,
            channel.id,
            channel.creationtime or now,
            _printable(channel.caller.number),
            _printable(channel.caller.name),
            channel.dialplan.exten if channel.dialplan is not None else "",
            (Direction.INBOUND if kind == "trunk" else Direction.INTERNAL).value,
        )
        noted(self._history.call_ended, channel.id, now, "failed", "pbx-ext could not route it")

    def _track(self, call_id: str) -> Call:
        call = Call(call_id, self._ari, self._history, self._register)
        self._calls[call_id] = call
        self._by_channel[call_id] = call
        return call

    def _register(self, channel_id: str, call: Call) -> None:
        self._by_channel[channel_id] = call

    async def _supervise(self, call: Call, route: Route | None) -> None:
        """Run one call; a bug in one call is logged and never takes the others down."""
        try:
            await call.run(route)
        except Exception:
            log.exception("call %s failed", call.call_id)
            # Nobody follows this call any more: end it rather than leave it ringing or
            # half-connected.
            for channel_id in call.channel_ids:
                with contextlib.suppress(AriError):
                    await self._hangup(channel_id)
        finally:
            self._calls.pop(call.call_id, None)
            for channel_id in call.channel_ids:
                self._by_channel.pop(channel_id, None)

    # -- after (re)connecting ----------------------------------------------------------------

    async def _reconcile(self, tg: asyncio.TaskGroup) -> None:
        # Asterisk stamps channels to the millisecond; allow for that and for clock reads.
        connected_at = datetime.now(UTC) - timedelta(seconds=1)
        try:
            # Set on every connection: Asterisk forgets it with the app's registration.
            await self._ari.applications.set_event_filter(allowed=CALL_EVENTS)
            channels = {c.id: c for c in await self._ari.channels.list()}
            bridges = await self._ari.bridges.list()
            app = await self._ari.applications.get()
        except AriError as exc:
            log.error("could not reconcile after reconnecting: %s", exc)
            return
        for call in list(self._calls.values()):
            for channel_id in call.channel_ids:
                if channel_id not in channels:
                    call.deliver(Vanished(channel_id))
        for bridge in bridges:
            if not bridge.id.endswith(BRIDGE_SUFFIX) or bridge.name != BRIDGE_NAME:
                continue
            call_id = bridge.id.removesuffix(BRIDGE_SUFFIX)
            if call_id in self._calls:
                continue
            members = [c for c in bridge.channels if c in channels]
            others = [c for c in members if c != call_id]
            if call_id in members and len(others) == 1:
                if channels[call_id].state != "Up":
                    # The old process died between the caller's join and its answer (the
                    # caller joins only once a callee answered): finish what it started.
                    with contextlib.suppress(AriError):
                        await self._ari.channels.answer(call_id)
                call = self._track(call_id)
                call.adopt_connected(bridge.id, others[0])
                self._register(others[0], call)
                tg.create_task(self._supervise(call, None), name=f"call:{call_id}")
                log.info("adopted call %s (bridged with %s)", call_id, others[0])
            else:
                await self._cleanup(bridge.id, members)
                noted(
                    self._history.call_ended,
                    call_id,
                    datetime.now(UTC),
                    "answered",
                    "ended while pbx-ext was restarting",
                )
        for channel_id in app.channel_ids:
            channel = channels.get(channel_id)
            if channel_id in self._by_channel or channel is None:
                continue
            # A call whose StasisStart is still on its way to us is not an orphan: only
            # channels older than this connection are.
            if channel.creationtime is not None and channel.creationtime >= connected_at:
                continue
            log.info("hanging up channel %s: its call was not adoptable", channel_id)
            await self._hangup(channel_id)
        try:
            unfinished = self._history.in_progress()
        except HistoryError as exc:
            log.error("call history not read: %s", exc)
            unfinished = []
        for record in unfinished:
            if record.call_id not in self._calls:
                disposition = "answered" if record.answered is not None else "failed"
                noted(
                    self._history.call_ended,
                    record.call_id,
                    datetime.now(UTC),
                    disposition,
                    "ended while pbx-ext was not running",
                )

    async def _cleanup(self, bridge_id: str, channel_ids: list[str]) -> None:
        for channel_id in channel_ids:
            await self._hangup(channel_id)
        with contextlib.suppress(AriNotFound):
            await self._ari.bridges.destroy(bridge_id)

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(AriNotFound):
            await self._ari.channels.hangup(channel_id, "normal")


def _printable(text: str) -> str:
    """Caller IDs from a trunk are the outside world's text: keep them printable and short."""
    return "".join(c for c in text if c.isprintable())[:64]
