"""One call: the caller's channel, the legs dialed for it, and its bridge.

A ``Call`` is a state machine owned by one task (``run``); the dispatcher only puts events in
its queue. Rules, by state:

- ``ROUTING`` — the caller's channel entered Stasis. The route decides:
  ``Reject`` hangs the caller up with the route's reason (404/403/503) → ``ENDED``; a ring
  plan (a user, a group, the trunk) starts its first wave of legs → ``RINGING``.
- ``RINGING`` — each wave dials one or more legs at once (every registered contact of each
  extension rung, or the trunk). The caller is told it rings (180).
  ``leg_answered``: the first leg to answer wins; the caller joins it in the call's mixing
  bridge and is answered, the other legs are hung up (answered_elsewhere) → ``CONNECTED``.
  ``leg_failed``: when every leg of the wave has failed, or the wave's time is up, the next
  wave starts (linear groups); after the last wave the caller is hung up busy (486) if any
  leg was busy, otherwise unavailable (480) → ``ENDED``.
  ``caller_hangup``: every leg is hung up (CANCEL) → ``ENDED`` (cancelled).
- ``CONNECTED`` — ``caller_hangup`` or ``callee_hangup``: the other side is hung up, the bridge
  destroyed → ``ENDED`` (answered).

A call stopped by cancellation (the app shutting down or restarting) touches nothing in
Asterisk: its channels stay bridged and the next app instance adopts them (``adopt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pbx_ext.app.routing import Outbound, Reject, RingGroup, RingUser, Route, ToVoicemail
from pbx_ext.ari import (
    AriClient,
    AriError,
    AriNotFound,
    ChannelDestroyed,
    ChannelHangupRequest,
    Dial,
    Event,
    StasisEnd,
    StasisStart,
)
from pbx_ext.history import CallHistory, HistoryError
from pbx_ext.site.model import Strategy

log = logging.getLogger(__name__)

OUTBOUND_RING_SECONDS = 90
BRIDGE_NAME = "pbx-ext call"  # how the app recognises its bridges after a restart
# Dial statuses that end a leg without an answer (ARI Dial event, as app_dial's DIALSTATUS).
FAILED_STATUSES = frozenset({"BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION", "CANCEL"})
CAUSE_BUSY = 17  # Q.850 user busy


class State(enum.Enum):
    ROUTING = "routing"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class Direction(enum.StrEnum):
    INTERNAL = "internal"
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@dataclass(frozen=True, slots=True)
class Wave:
    """Dial strings rung together, for ``seconds``."""

    targets: tuple[str, ...]
    seconds: int


@dataclass(slots=True)
class Leg:
    channel_id: str
    target: str
    dialed: bool = False
    failed: bool = False
    busy: bool = False


@dataclass(frozen=True, slots=True)
class Vanished:
    """Not from the wire: the dispatcher found this call's channel gone after reconnecting."""

    channel_id: str


Register = Callable[[str, "Call"], None]


def noted(write: Callable[..., object], *args: object) -> None:
    """Write to the call history. The history is a record of calls, not a condition for
    them: a failed write (disk full, file damaged) is logged and the call goes on."""
    try:
        write(*args)
    except HistoryError as exc:
        log.error("call history not written: %s", exc)


@dataclass
class Call:
    """See the module docstring for the rules."""

    call_id: str  # the caller's channel id
    ari: AriClient
    history: CallHistory
    register: Register  # tells the dispatcher which channel ids belong to this call
    state: State = State.ROUTING
    legs: list[Leg] = field(default_factory=list)
    waves: list[Wave] = field(default_factory=list)
    answered_leg: str | None = None
    bridge_id: str | None = None
    queue: asyncio.Queue[Event | Vanished] = field(default_factory=asyncio.Queue)
    _deadline: float | None = None
    _next_leg: int = 0
    _wave_seconds: int = 0
    _caller_id: dict[str, str] = field(default_factory=dict)

    # -- the task ----------------------------------------------------------------------------

    async def run(self, route: Route | None) -> None:
        """Route (unless adopted) and follow the call until it ends."""
        try:
            if route is not None:
                await self._route(route)
            while self.state is not State.ENDED:
                timeout = None if self._deadline is None else self._deadline - time.monotonic()
                try:
                    event = await asyncio.wait_for(self.queue.get(), timeout=timeout)
                except TimeoutError:
                    await self._wave_timeout()
                    continue
                await self._handle(event)
        except AriError as exc:
            # Asterisk refused something mid-call (e.g. a channel vanished between two
            # requests): end the call cleanly rather than leave channels behind.
            log.warning("call %s: %s; ending it", self.call_id, exc)
            for channel_id in self.channel_ids:
                with contextlib.suppress(AriError):
                    await self._hangup(channel_id, "failure")
            with contextlib.suppress(AriError):
                await self._finish("failed", detail=str(exc))

    @property
    def channel_ids(self) -> tuple[str, ...]:
        """The caller's channel and every leg dialed for it."""
        return (self.call_id, *(leg.channel_id for leg in self.legs))

    def deliver(self, event: Event | Vanished) -> None:
        self.queue.put_nowait(event)

    # -- ROUTING -----------------------------------------------------------------------------

    async def _route(self, route: Route) -> None:
        match route:
            case Reject(hangup=reason, detail=detail):
                log.info("call %s rejected: %s", self.call_id, detail)
                await self._hangup(self.call_id, reason)
                await self._finish("rejected", detail=detail)
                return
            case RingUser(user=user) if user.dnd:
                await self._hangup(self.call_id, "busy")
                await self._finish("busy", detail="do not disturb")
                return
            case ToVoicemail(mailbox=mailbox):
                # Voicemail is not served yet: the caller hears "unavailable".
                await self._hangup(self.call_id, "no_answer")
                await self._finish("unavailable", detail=f"voicemail {mailbox} not available")
                return
            case Outbound(caller_id=caller_id) if caller_id:
                # chan_pjsip builds the outgoing From from the leg's connected line (who the
                # far end is connected to); ",i" sets it without sending an update. Unset,
                # the presentation is "unavailable" and the From "anonymous".
                self._caller_id = {
                    "CONNECTEDLINE(num,i)": caller_id,
                    "CONNECTEDLINE(name,i)": "",
                    "CONNECTEDLINE(pres,i)": "allowed_passed_screen",
                }
        self.state = State.RINGING
        self.bridge_id = f"{self.call_id}-bridge"
        # Setup latency is what callers notice: tell the caller it rings, make the bridge
        # and look up the devices to ring all at once.
        waves, _, _ = await asyncio.gather(
            self._waves(route),
            self.ari.channels.ring(self.call_id),
            self.ari.bridges.create("mixing", bridge_id=self.bridge_id, name=BRIDGE_NAME),
        )
        self.waves = [wave for wave in waves if wave.targets]
        if not self.waves:
            await self._hangup(self.call_id, "no_answer")
            await self._finish("unavailable", detail="no registered device")
            return
        await self._start_wave()

    async def _waves(self, route: Route) -> list[Wave]:
        """Who rings, in which order, for how long."""
        match route:
            case RingUser(user=user, seconds=seconds):
                return [Wave(await self._contacts([user.extension]), seconds)]
            case RingGroup(group=group) if group.strategy is Strategy.LINEAR:
                return [
                    Wave(await self._contacts([member]), group.ring_seconds)
                    for member in group.members
                ]
            case RingGroup(group=group):
                return [Wave(await self._contacts(group.members), group.ring_seconds)]
            case Outbound(trunk=trunk, number=number):
                return [Wave((f"PJSIP/{number}@trunk-{trunk.name}",), OUTBOUND_RING_SECONDS)]
        return []

    async def _contacts(self, extensions: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """Dial strings for every registered contact of these extensions (digits only)."""
        # Read on the caller's channel: ARI's global variable read does not evaluate dialplan
        # functions (it returns "").
        values = await asyncio.gather(
            *(
                self.ari.channels.get_var(self.call_id, f"PJSIP_DIAL_CONTACTS({ext})")
                for ext in extensions
            )
        )
        return tuple(target for value in values for target in value.split("&") if target)

    async def _start_wave(self) -> None:
        """Create the wave's legs; each is dialed once Asterisk has it in Stasis."""
        wave = self.waves.pop(0)
        self._wave_seconds = wave.seconds
        for target in wave.targets:
            self._next_leg += 1
            leg = Leg(f"{self.call_id}-{self._next_leg}", target)
            self.legs.append(leg)
            self.register(leg.channel_id, self)
            try:
                await self.ari.channels.create(
                    target,
                    app_args=("dialed", self.call_id),
                    channel_id=leg.channel_id,
                    originator=self.call_id,
                )
            except AriError as exc:
                log.info("call %s: cannot create a leg to %s: %s", self.call_id, target, exc)
                leg.failed = True
        # Asterisk's own dial timeout ends each leg; this deadline is the backstop.
        self._deadline = time.monotonic() + wave.seconds + 2
        await self._check_wave()

    async def _leg_in_stasis(self, channel_id: str) -> None:
        """A created leg entered the app (ARI: dial only after StasisStart): dial it now."""
        leg = next((leg for leg in self.legs if leg.channel_id == channel_id), None)
        if leg is None or leg.failed or leg.dialed or self.state is not State.RINGING:
            return
        leg.dialed = True
        try:
            # With caller= the callee sees the caller's name and number. Toward a trunk the
            # outside world sees the trunk's caller ID instead, set on the leg here.
            for name, value in self._caller_id.items():
                await self.ari.channels.set_var(channel_id, name, value)
            # Early bridging (ARI channels/create): the leg joins the bridge while it rings
            # (both requests at once: the join takes a millisecond, an answer far longer), so
            # answering the caller is all that is left when this leg answers.
            assert self.bridge_id is not None
            await asyncio.gather(
                self.ari.bridges.add_channel(self.bridge_id, [channel_id]),
                self.ari.channels.dial(
                    channel_id,
                    caller=None if self._caller_id else self.call_id,
                    timeout=self._wave_seconds,
                ),
            )
        except AriError as exc:
            log.info("call %s: leg %s failed to dial: %s", self.call_id, leg.target, exc)
            leg.failed = True
            await self._hangup(channel_id, "normal")
            await self._check_wave()

    # -- events ------------------------------------------------------------------------------

    async def _handle(self, event: Event | Vanished) -> None:
        match event:
            case Vanished(channel_id=channel_id):
                await self._channel_gone(channel_id, busy=False)
            case Dial(peer=peer, dialstatus="ANSWER") if self.state is State.RINGING:
                await self._leg_answered(peer.id)
            case Dial(peer=peer, dialstatus=status) if status in FAILED_STATUSES:
                self._leg_failed(peer.id, busy=status == "BUSY")
                await self._check_wave()
            case ChannelDestroyed(channel=channel, cause=cause):
                await self._channel_gone(channel.id, busy=cause == CAUSE_BUSY)
            case ChannelHangupRequest(channel=channel, cause=cause):
                await self._channel_gone(channel.id, busy=cause == CAUSE_BUSY)
            case StasisEnd(channel=channel):
                await self._channel_gone(channel.id, busy=False)
            case StasisStart(channel=channel):
                await self._leg_in_stasis(channel.id)
            case _:
                pass

    async def _channel_gone(self, channel_id: str, *, busy: bool) -> None:
        if self.state is State.ENDED:
            return
        if channel_id == self.call_id:
            await self._caller_hangup()
        elif self.state is State.CONNECTED and channel_id == self.answered_leg:
            await self._callee_hangup()
        elif self.state is State.RINGING:
            self._leg_failed(channel_id, busy=busy)
            await self._check_wave()

    def _leg_failed(self, channel_id: str, *, busy: bool) -> None:
        for leg in self.legs:
            if leg.channel_id == channel_id:
                leg.failed = True
                leg.busy = leg.busy or busy

    async def _check_wave(self) -> None:
        if self.state is not State.RINGING or any(not leg.failed for leg in self.legs):
            return
        if self.waves:
            await self._start_wave()
            return
        busy = any(leg.busy for leg in self.legs)
        await self._hangup(self.call_id, "busy" if busy else "no_answer")
        await self._finish("busy" if busy else "no_answer")

    async def _wave_timeout(self) -> None:
        self._deadline = None
        for leg in self.legs:
            if not leg.failed:
                leg.failed = True
                await self._hangup(leg.channel_id, "normal")
        await self._check_wave()

    async def _leg_answered(self, channel_id: str) -> None:
        """The first leg to answer wins. The callee is already in the call's bridge (early
        bridging); the caller joins it, then is answered, then the losing legs are hung up.

        Join before answer: joining tells each side who the other is (connected line). Told
        while still ringing, the caller's 200 OK carries the callee's identity; told after
        the answer, Asterisk would send the caller phone an UPDATE for it, a SIP transaction
        more per call for Asterisk and the phone."""
        self.state = State.CONNECTED
        self._deadline = None
        self.answered_leg = channel_id
        assert self.bridge_id is not None
        await self.ari.bridges.add_channel(self.bridge_id, [self.call_id])
        await self.ari.channels.answer(self.call_id)
        noted(self.history.call_answered, self.call_id, datetime.now(UTC))
        log.info("call %s connected to %s", self.call_id, channel_id)
        for leg in self.legs:
            if leg.channel_id != channel_id and not leg.failed:
                leg.failed = True
                await self._hangup(leg.channel_id, "answered_elsewhere")

    async def _caller_hangup(self) -> None:
        if self.state is State.RINGING:
            for leg in self.legs:
                if not leg.failed:
                    leg.failed = True
                    await self._hangup(leg.channel_id, "normal")
            await self._finish("cancelled")
            return
        if self.answered_leg is not None:
            await self._hangup(self.answered_leg, "normal")
        await self._finish("answered")

    async def _callee_hangup(self) -> None:
        await self._hangup(self.call_id, "normal")
        await self._finish("answered")

    # -- ending ------------------------------------------------------------------------------

    async def _finish(self, disposition: str, detail: str | None = None) -> None:
        log.info("call %s ended: %s%s", self.call_id, disposition, f" ({detail})" if detail else "")
        self.state = State.ENDED
        self._deadline = None
        if self.bridge_id is not None:
            with contextlib.suppress(AriNotFound):
                await self.ari.bridges.destroy(self.bridge_id)
        noted(self.history.call_ended, self.call_id, datetime.now(UTC), disposition, detail)

    async def _hangup(self, channel_id: str, reason: str) -> None:
        with contextlib.suppress(AriNotFound):  # already gone: that is what we wanted
            await self.ari.channels.hangup(channel_id, reason)

    # -- adoption after a restart ------------------------------------------------------------

    def adopt_connected(self, bridge_id: str, callee_id: str) -> None:
        """Take over a call found bridged in Asterisk after the app (re)connected."""
        self.state = State.CONNECTED
        self.bridge_id = bridge_id
        self.answered_leg = callee_id
        self.legs = [Leg(callee_id, "adopted")]
