"""Where a call goes: the routing decision for a dialed string, as a pure function of the site.

No I/O and no Asterisk here. The call flow hands in what was dialed (the ``exten`` of the
channel that entered Stasis, which the caller controls completely) and gets back a typed
:data:`Route`; only the call flow talks to ARI.

The rules, in the order they are applied
----------------------------------------

A call from a user (:func:`route_from_user`):

(a) The dialed string must be ``^\\+?[0-9]{1,20}$``: ASCII digits with an optional leading
    ``+``. Anything else is ``Reject(INVALID)``: letters, ``&`` (adds a Dial target), ``,``
    (next Dial argument), ``;``, ``/``, ``@``, ``${...}``, spaces, newlines, non-ASCII digits
    such as ``١٢٣``, and ``*``/``#`` (feature codes are not routed yet). No part of a refused
    string is ever copied into a route, not even into ``Reject.detail``: log it with
    :func:`sanitize_for_log`.
(b) A user's extension rings that user, for ``forward.after_seconds`` before the no-answer
    forward applies; a group number rings the group.
(c) An emergency number (exact match) goes out whatever the caller's permissions, as dialed.
(d) A leading ``+`` or international prefix is INTERNATIONAL, except a number in the site's own
    country (``+<country_code>...`` or ``<intl prefix><country_code>...``), which is NATIONAL.
(e) A leading national prefix is NATIONAL.
(f) Anything else is LOCAL, but only when it is longer than the longest internal number: a short
    unknown number such as ``1009`` is a mistyped extension, ``Reject(UNKNOWN)``, and never
    reaches the provider.

Then the caller's permission must allow the kind (``internal``: none; ``local``: LOCAL;
``national``: LOCAL and NATIONAL; ``international``: all) or the call is
``Reject(NOT_PERMITTED)``. Outside calls go through the first trunk of the site, with its
``outbound_caller_id``; no trunk is ``Reject(NO_TRUNK)``. When the site has a ``country_code``
the number sent to the trunk is E.164 (``0123456789`` -> ``+33123456789``, ``0044207...`` ->
``+44207...``, ``+...`` kept); emergency and local numbers are always sent as dialed, and so is
everything when the country code is unknown.

A call from a trunk (:func:`route_from_trunk`) is for one of that trunk's DIDs, in any spelling
providers use (``+33123456789``, ``33123456789``, ``0033123456789``, ``0123456789``), and goes
where the DID says (:func:`route_destination`).

Each rejection carries the ARI hangup reason the call flow uses (``DELETE /channels/{id}?reason=``,
mapped to a cause by ``convert_reason_to_hangup_code`` in Asterisk's
``res/ari/resource_channels.c``, then to a SIP status by PJSIP; see the "Hangup Cause Mappings"
page of the Asterisk docs): ``unallocated`` (cause 1, SIP 404) for INVALID and UNKNOWN,
``rejected`` (cause 21, SIP 403) for NOT_PERMITTED, ``congestion`` (cause 34, SIP 503) for
NO_TRUNK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias, assert_never

from pbx_ext.site.destinations import (
    Destination,
    ExternalDest,
    GroupDest,
    UserDest,
    VoicemailDest,
)
from pbx_ext.site.model import Dialing, Group, Permission, Site, Trunk, User

_DIALED = re.compile(r"\+?[0-9]{1,20}")
# What follows the "+" of an E.164 number: a country code never starts with 0, and the whole
# number has at most 15 digits (ITU-T E.164 section 6.1).
_E164_DIGITS = re.compile(r"[1-9][0-9]{1,14}")
_LOG_CHARS = 40


class DialKind(StrEnum):
    """What kind of outside call a number is, which decides the permission it needs."""

    EMERGENCY = "emergency"
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"


_NEEDS: dict[DialKind, Permission | None] = {
    DialKind.EMERGENCY: None,
    DialKind.LOCAL: Permission.LOCAL,
    DialKind.NATIONAL: Permission.NATIONAL,
    DialKind.INTERNATIONAL: Permission.INTERNATIONAL,
}


class RejectReason(StrEnum):
    """Why a call is refused."""

    INVALID = "invalid"
    """Not a dialable string at all (letters, separators, too long...)."""
    UNKNOWN = "unknown"
    """Well formed, but no such internal number or DID, or not a possible outside number."""
    NOT_PERMITTED = "not_permitted"
    """The caller's permissions do not allow this kind of call."""
    NO_TRUNK = "no_trunk"
    """An outside call, but the site has no trunk."""

    @property
    def hangup(self) -> str:
        """The ARI hangup reason: ``RejectReason.NO_TRUNK.hangup == "congestion"``."""
        return _HANGUP[self]


_HANGUP: dict[RejectReason, str] = {
    RejectReason.INVALID: "unallocated",
    RejectReason.UNKNOWN: "unallocated",
    RejectReason.NOT_PERMITTED: "rejected",
    RejectReason.NO_TRUNK: "congestion",
}


# --- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RingUser:
    """Ring a user's phones for ``seconds``, then apply their no-answer forward."""

    user: User
    seconds: int


@dataclass(frozen=True, slots=True)
class RingGroup:
    """Ring a group as its strategy says, then go to its fallback."""

    group: Group


@dataclass(frozen=True, slots=True)
class ToVoicemail:
    """Leave a message in this mailbox."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """Call out through ``trunk``: ``Outbound(trunk, "+33123456789", NATIONAL, "+33123456700")``.

    ``number`` is what to send to the provider (E.164 when the site's country code is known);
    it only ever holds digits and a leading ``+``.
    """

    trunk: Trunk
    number: str
    kind: DialKind
    caller_id: str | None


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the call: hang up with ``hangup`` (an ARI reason); ``detail`` is for the log.

    ``detail`` never contains text from a refused dial string, so it is safe to log as is.
    """

    reason: RejectReason
    hangup: str
    detail: str

    @classmethod
    def because(cls, reason: RejectReason, detail: str) -> Reject:
        """A rejection with the hangup reason that goes with ``reason``."""
        return cls(reason, reason.hangup, detail)


Route: TypeAlias = RingUser | RingGroup | ToVoicemail | Outbound | Reject

_NOT_DIALABLE = Reject.because(
    RejectReason.INVALID, "not a dialable number (digits with an optional leading +, at most 20)"
)


# --- entry points ------------------------------------------------------------------------------


def route_from_user(site: Site, caller: User, dialed: str) -> Route:
    """What happens when ``caller`` dials ``dialed``.

    With the functional-test site (country code 33, Alice ``national``, Bob ``internal``)::

        route_from_user(site, alice, "1002")        -> RingUser(bob, seconds=20)
        route_from_user(site, alice, "600")         -> RingGroup(sales)
        route_from_user(site, bob, "112")           -> Outbound(provider, "112", EMERGENCY, ...)
        route_from_user(site, alice, "0123456789")  -> Outbound(provider, "+33123456789",
                                                               NATIONAL, "+33123456700")
        route_from_user(site, alice, "0044207...")  -> Reject(NOT_PERMITTED, "rejected", ...)
        route_from_user(site, bob, "0123456789")    -> Reject(NOT_PERMITTED, "rejected", ...)
        route_from_user(site, alice, "1009")        -> Reject(UNKNOWN, "unallocated", ...)
        route_from_user(site, alice, "1001&PJSIP/x") -> Reject(INVALID, "unallocated", ...)
    """
    if not is_dialable(dialed):
        return _NOT_DIALABLE
    user = site.user(dialed)
    if user is not None:
        return _ring(user)
    group = site.group(dialed)
    if group is not None:
        return RingGroup(group)
    return _outside(site, dialed, caller)


def route_from_trunk(site: Site, trunk: Trunk, dialed: str) -> Route:
    """What happens to a call the provider sends us on ``trunk`` for the DID ``dialed``.

    With a DID ``+33123456789`` (to ``group:600``) on trunk ``provider`` and country code 33,
    each of ``+33123456789``, ``33123456789``, ``0033123456789`` and ``0123456789`` gives
    ``RingGroup(sales)``. The same number arriving on another trunk, or an unknown number, is
    ``Reject(UNKNOWN)``.
    """
    if not is_dialable(dialed):
        return _NOT_DIALABLE
    for number in _did_spellings(site.dialing, dialed):
        for did in trunk.dids:
            if did.number == number:
                return route_destination(site, did.to, caller=None)
    return Reject.because(RejectReason.UNKNOWN, f"{dialed} is not a DID of trunk {trunk.name}")


def route_destination(site: Site, dest: Destination, *, caller: User | None) -> Route:
    """Where a configured destination (a forward, a fallback, a DID) sends the call.

    ``caller`` is the user whose permissions an outside destination needs: the user whose
    forward it is. ``None`` (a DID or a group fallback pointing outside) skips the permission
    check; the admin configured it, so it is allowed. Examples::

        route_destination(site, UserDest("1002"), caller=None)       -> RingUser(bob, 20)
        route_destination(site, GroupDest("600"), caller=None)       -> RingGroup(sales)
        route_destination(site, VoicemailDest("1001"), caller=None)  -> ToVoicemail("1001")
        route_destination(site, ExternalDest("0612345678"), caller=bob)
            -> Reject(NOT_PERMITTED)  (Bob is internal-only: he cannot forward outside)
    """
    match dest:
        case UserDest(extension=extension):
            user = site.user(extension)
            if user is None:
                return Reject.because(RejectReason.UNKNOWN, f"no user has extension {extension}")
            return _ring(user)
        case GroupDest(number=number):
            group = site.group(number)
            if group is None:
                return Reject.because(RejectReason.UNKNOWN, f"no group has number {number}")
            return RingGroup(group)
        case VoicemailDest(mailbox=mailbox):
            return ToVoicemail(mailbox)
        case ExternalDest(number=number):
            return _outside(site, number, caller)
        case _:
            assert_never(dest)


def is_dialable(dialed: str) -> bool:
    """Rule (a): ASCII digits, optionally after one ``+``, 1 to 20 of them.

    >>> is_dialable("+33123456789"), is_dialable("1001&PJSIP/evil"), is_dialable("١٢٣")
    (True, False, False)
    """
    # fullmatch, not "$": "$" also matches before a trailing newline.
    return _DIALED.fullmatch(dialed) is not None


def sanitize_for_log(s: str) -> str:
    """A hostile dial string made safe for one log line: escaped, quoted, at most 40 characters.

    >>> sanitize_for_log("1001&PJSIP/evil")
    "'1001&PJSIP/evil'"
    >>> sanitize_for_log("00\\n1")
    "'00\\\\n1'"
    >>> sanitize_for_log("١٢٣")
    "'\\\\u0661\\\\u0662\\\\u0663'"
    >>> sanitize_for_log("9" * 50)
    "'9999999999999999999999999999999999999999'..."
    """
    # ascii() rather than repr(): non-ASCII look-alikes (Arabic digits, right-to-left marks)
    # show as escapes, so the log shows what was really sent.
    shown = ascii(s[:_LOG_CHARS])
    return shown + "..." if len(s) > _LOG_CHARS else shown


# --- the rules ---------------------------------------------------------------------------------


def _ring(user: User) -> RingUser:
    return RingUser(user, user.forward.after_seconds)


def _outside(site: Site, number: str, caller: User | None) -> Route:
    """Rules (c) to (f), the permission check and the trunk, for a well formed number."""
    if number in site.dialing.emergency:
        return _through_trunk(site, number, DialKind.EMERGENCY)
    classified = _classify(site.dialing, number, _longest_internal(site))
    if isinstance(classified, Reject):
        return classified
    kind, to_trunk = classified
    needed = _NEEDS[kind]
    if caller is not None and needed is not None and not caller.permissions.allows(needed):
        return Reject.because(
            RejectReason.NOT_PERMITTED,
            f"{caller.extension} has {caller.permissions} permissions; {number} is a {kind} call",
        )
    return _through_trunk(site, to_trunk, kind)


def _classify(
    dialing: Dialing, number: str, longest_internal: int
) -> tuple[DialKind, str] | Reject:
    """Rules (d) to (f): the kind of call and the number to send to the trunk."""
    country = dialing.country_code
    # The international prefix is tested first: it usually starts with the national one
    # ("00" and "0").
    if number.startswith("+") or number.startswith(dialing.international_prefix):
        digits = (
            number[1:] if number.startswith("+") else number[len(dialing.international_prefix) :]
        )
        if not _E164_DIGITS.fullmatch(digits):
            return Reject.because(RejectReason.UNKNOWN, f"{number} is not an international number")
        if country is None:
            return DialKind.INTERNATIONAL, number
        if digits.startswith(country):
            if len(digits) == len(country):
                return Reject.because(RejectReason.UNKNOWN, f"{number} is incomplete")
            return DialKind.NATIONAL, "+" + digits
        return DialKind.INTERNATIONAL, "+" + digits
    if number.startswith(dialing.national_prefix):
        rest = number[len(dialing.national_prefix) :]
        if not rest:
            return Reject.because(RejectReason.UNKNOWN, f"{number} is incomplete")
        if country is None:
            return DialKind.NATIONAL, number
        if not _E164_DIGITS.fullmatch(country + rest):
            return Reject.because(RejectReason.UNKNOWN, f"{number} is not a national number")
        return DialKind.NATIONAL, "+" + country + rest
    if len(number) <= longest_internal:
        return Reject.because(RejectReason.UNKNOWN, f"no user or group has the number {number}")
    return DialKind.LOCAL, number


def _longest_internal(site: Site) -> int:
    return max(
        (len(n) for n in (*(u.extension for u in site.users), *(g.number for g in site.groups))),
        default=0,
    )


def _through_trunk(site: Site, number: str, kind: DialKind) -> Route:
    if not site.trunks:
        return Reject.because(RejectReason.NO_TRUNK, f"no trunk for the {kind} call to {number}")
    trunk = site.trunks[0]
    return Outbound(trunk, number, kind, trunk.outbound_caller_id)


def did_spellings(e164: str, dialing: Dialing) -> tuple[str, ...]:
    """Every way a provider may send the DID ``e164``: what :func:`route_from_trunk` reads back
    as that DID (the fallback dialplan lists these as extensions).

    ``+33123456789`` with country code 33 → ``+33123456789``, ``33123456789``,
    ``0033123456789``, ``0123456789``.
    """
    spellings = [e164, e164[1:], dialing.international_prefix + e164[1:]]
    if dialing.country_code and e164.startswith("+" + dialing.country_code):
        spellings.append(dialing.national_prefix + e164[1 + len(dialing.country_code) :])
    return tuple(spellings)


def _did_spellings(dialing: Dialing, dialed: str) -> tuple[str, ...]:
    """The E.164 numbers a provider may mean by ``dialed``, most explicit reading first.

    ``+33123456789`` is itself; ``0033123456789`` drops the international prefix;
    ``0123456789`` swaps the national prefix for the country code; ``33123456789`` is E.164
    without its ``+``.
    """
    if dialed.startswith("+"):
        return (dialed,)
    spellings: list[str] = []
    if dialed.startswith(dialing.international_prefix):
        spellings.append("+" + dialed[len(dialing.international_prefix) :])
    elif dialing.country_code is not None and dialed.startswith(dialing.national_prefix):
        spellings.append("+" + dialing.country_code + dialed[len(dialing.national_prefix) :])
    spellings.append("+" + dialed)
    return tuple(spellings)
