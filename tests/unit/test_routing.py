"""Routing decisions, one table row per rule of pbx_ext.app.routing (see its module docstring)."""

from __future__ import annotations

import random
import re

import pytest

from pbx_ext.app.routing import (
    DialKind,
    Outbound,
    Reject,
    RejectReason,
    RingGroup,
    RingUser,
    Route,
    ToVoicemail,
    is_dialable,
    route_destination,
    route_from_trunk,
    route_from_user,
    sanitize_for_log,
)
from pbx_ext.site import (
    ExternalDest,
    GroupDest,
    Site,
    UserDest,
    VoicemailDest,
    parse_site,
)

HEADER = """
site: {name: Test Office, domain: pbx.test, timezone: Europe/Paris}
users:
  - {extension: "1001", name: Alice, permissions: national,
     forward: {no_answer: "0612345678", after_seconds: 25}}
  - {extension: "1002", name: Bob, permissions: internal, forward: {after_seconds: 30}}
  - {extension: "1003", name: Carol, permissions: international}
  - {extension: "1004", name: Dan, permissions: local}
groups:
  - {number: "600", name: Sales, members: ["1002", "1003"]}
"""
TRUNKS = """
trunks:
  - name: provider
    host: sbc.provider.example
    outbound_caller_id: "+33123456700"
    dids:
      - {number: "+33123456789", to: group:600}
      - {number: "+33123456790", to: "1002"}
      - {number: "+33123456791", to: "0612345678"}
      - {number: "+33123456792", to: voicemail:1003}
  - name: backup
    host: sbc2.provider.example
    outbound_caller_id: "+33987654300"
    dids:
      - {number: "+33987654321", to: "1003"}
"""
FRANCE = """
dialing: {emergency: ["112", "15"], national_prefix: "0", international_prefix: "00",
          country_code: "33"}
"""
NO_COUNTRY = """
dialing: {emergency: ["112", "15"], national_prefix: "0", international_prefix: "00"}
"""

SITE = parse_site(HEADER + TRUNKS + FRANCE, "test.yaml")
NO_TRUNK_SITE = parse_site(HEADER + FRANCE, "test.yaml")
NO_COUNTRY_SITE = parse_site(HEADER + TRUNKS + NO_COUNTRY, "test.yaml")

Outcome = tuple[object, ...]


def outcome(route: Route) -> Outcome:
    """A route in a form a table row can spell; a rejection by its reason and hangup."""
    match route:
        case RingUser(user=user, seconds=seconds):
            return ("ring", user.extension, seconds)
        case RingGroup(group=group):
            return ("group", group.number)
        case ToVoicemail(mailbox=mailbox):
            return ("voicemail", mailbox)
        case Outbound(trunk=trunk, number=number, kind=kind, caller_id=caller_id):
            return ("out", trunk.name, number, kind, caller_id)
        case Reject(reason=reason, hangup=hangup):
            return ("reject", reason, hangup)


def out(number: str, kind: DialKind, trunk: str = "provider") -> Outcome:
    caller_id = {"provider": "+33123456700", "backup": "+33987654300"}[trunk]
    return ("out", trunk, number, kind, caller_id)


INVALID = ("reject", RejectReason.INVALID, "unallocated")
UNKNOWN = ("reject", RejectReason.UNKNOWN, "unallocated")
NOT_PERMITTED = ("reject", RejectReason.NOT_PERMITTED, "rejected")
NO_TRUNK = ("reject", RejectReason.NO_TRUNK, "congestion")

ALICE, BOB, CAROL, DAN = "1001", "1002", "1003", "1004"  # national, internal, intl, local


def user_call(site: Site, caller: str, dialed: str) -> Outcome:
    user = site.user(caller)
    assert user is not None
    return outcome(route_from_user(site, user, dialed))


# --- calls from users --------------------------------------------------------------------------

FROM_USERS = [
    # (b) internal numbers: the ring time is the callee's, whoever calls
    pytest.param(ALICE, "1002", ("ring", "1002", 30), id="b-user-callee-seconds"),
    pytest.param(BOB, "1001", ("ring", "1001", 25), id="b-user-from-internal"),
    pytest.param(CAROL, "1004", ("ring", "1004", 20), id="b-user-default-seconds"),
    pytest.param(BOB, "600", ("group", "600"), id="b-group"),
    # (c) emergency: whatever the permissions, as dialed
    pytest.param(BOB, "112", out("112", DialKind.EMERGENCY), id="c-internal-user-112"),
    pytest.param(BOB, "15", out("15", DialKind.EMERGENCY), id="c-short-emergency"),
    pytest.param(CAROL, "112", out("112", DialKind.EMERGENCY), id="c-any-user-112"),
    # (d) international, and international spellings of national numbers
    pytest.param(
        CAROL, "0044207946000", out("+44207946000", DialKind.INTERNATIONAL), id="d-intl-prefix"
    ),
    pytest.param(
        CAROL, "+44207946000", out("+44207946000", DialKind.INTERNATIONAL), id="d-plus-kept"
    ),
    pytest.param(
        ALICE, "0033123456789", out("+33123456789", DialKind.NATIONAL), id="d-own-country-00"
    ),
    pytest.param(
        ALICE, "+33123456789", out("+33123456789", DialKind.NATIONAL), id="d-own-country-plus"
    ),
    pytest.param(ALICE, "0044207946000", NOT_PERMITTED, id="d-national-user-intl-prefix"),
    pytest.param(ALICE, "+44207946000", NOT_PERMITTED, id="d-national-user-intl-plus"),
    pytest.param(DAN, "+33123456789", NOT_PERMITTED, id="d-local-user-own-country"),
    pytest.param(CAROL, "+0123456789", UNKNOWN, id="d-plus-zero-not-e164"),
    pytest.param(CAROL, "+1234567890123456", UNKNOWN, id="d-over-15-digits"),
    pytest.param(CAROL, "00", UNKNOWN, id="d-prefix-alone"),
    pytest.param(CAROL, "+33", UNKNOWN, id="d-country-code-alone"),
    # (e) national
    pytest.param(ALICE, "0123456789", out("+33123456789", DialKind.NATIONAL), id="e-national-e164"),
    pytest.param(
        CAROL, "0612345678", out("+33612345678", DialKind.NATIONAL), id="e-intl-user-national"
    ),
    pytest.param(BOB, "0123456789", NOT_PERMITTED, id="e-internal-user-national"),
    pytest.param(DAN, "0123456789", NOT_PERMITTED, id="e-local-user-national"),
    pytest.param(CAROL, "0", UNKNOWN, id="e-prefix-alone"),
    # (f) local, only when longer than every internal number
    pytest.param(DAN, "5551234", out("5551234", DialKind.LOCAL), id="f-local"),
    pytest.param(ALICE, "5551234", out("5551234", DialKind.LOCAL), id="f-local-national-user"),
    pytest.param(BOB, "5551234", NOT_PERMITTED, id="f-internal-user-local"),
    pytest.param(CAROL, "1009", UNKNOWN, id="f-short-unknown-never-to-trunk"),
    pytest.param(CAROL, "99", UNKNOWN, id="f-shorter-unknown"),
    pytest.param(CAROL, "6000", UNKNOWN, id="f-as-long-as-an-extension"),
    pytest.param(CAROL, "10011", out("10011", DialKind.LOCAL), id="f-one-digit-longer"),
]


@pytest.mark.parametrize(("caller", "dialed", "expected"), FROM_USERS)
def test_route_from_user(caller: str, dialed: str, expected: Outcome) -> None:
    assert user_call(SITE, caller, dialed) == expected


# (a): every way a dial string could smuggle something into a Dial() or a log line.
HOSTILE = [
    "1001&PJSIP/evil",
    "0033123,30",
    "00\n1",
    "1001\n",
    "+33 1",
    " 1001",
    "112;x",
    "${EXTEN}",
    "1001@evil.example",
    "1001/2",
    "1" * 21,
    "1" * 25,
    "+" + "3" * 21,
    "\u0661\u0662\u0663",  # Arabic-Indic digits 123: str.isdigit() says yes
    "\uff11\uff10\uff10\uff11",  # full-width 1001
    "\U0001d7cf\U0001d7ce\U0001d7ce\U0001d7cf",  # mathematical bold 1001
    "*97",
    "#",
    "1001#",
    "++33123456789",
    "33+1",
    "+",
    "",
    "s",
    "PJSIP/1001",
    "1001\x00",
    "\u202e1001",  # right-to-left override
]


@pytest.mark.parametrize("dialed", HOSTILE)
def test_hostile_dial_strings_are_invalid_and_never_echoed(dialed: str) -> None:
    for caller in (ALICE, BOB, CAROL, DAN):
        user = SITE.user(caller)
        assert user is not None
        route = route_from_user(SITE, user, dialed)
        assert outcome(route) == INVALID
        assert isinstance(route, Reject)
        # One fixed rejection for every refused string: nothing of it is copied anywhere.
        assert route == route_from_user(SITE, user, "x")
    for trunk in SITE.trunks:
        route = route_from_trunk(SITE, trunk, dialed)
        assert outcome(route) == INVALID
        assert route == route_from_user(SITE, SITE.users[0], "x")


def test_random_strings_only_reach_the_trunk_as_digits() -> None:
    rng = random.Random(1234)
    alphabet = "0123456789+*#&,;/@ \n\t$ {}()|PJSIP\u0661"
    carol = SITE.user(CAROL)
    assert carol is not None
    for _ in range(5000):
        dialed = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        route = route_from_user(SITE, carol, dialed)
        if isinstance(route, Outbound):
            assert re.fullmatch(r"\+?[0-9]{1,20}", route.number)
        if not is_dialable(dialed):
            assert outcome(route) == INVALID


# --- trunks, permissions, spellings without a country code ------------------------------------


@pytest.mark.parametrize(
    ("caller", "dialed", "expected"),
    [
        pytest.param(ALICE, "112", NO_TRUNK, id="emergency"),
        pytest.param(ALICE, "0123456789", NO_TRUNK, id="national"),
        pytest.param(BOB, "0123456789", NOT_PERMITTED, id="permission-checked-first"),
        pytest.param(ALICE, "1002", ("ring", "1002", 30), id="internal-calls-still-work"),
    ],
)
def test_site_without_trunk(caller: str, dialed: str, expected: Outcome) -> None:
    assert user_call(NO_TRUNK_SITE, caller, dialed) == expected


@pytest.mark.parametrize(
    ("caller", "dialed", "expected"),
    [
        pytest.param(ALICE, "0123456789", out("0123456789", DialKind.NATIONAL), id="national"),
        pytest.param(
            CAROL, "0044207946000", out("0044207946000", DialKind.INTERNATIONAL), id="intl"
        ),
        pytest.param(CAROL, "+33123456789", out("+33123456789", DialKind.INTERNATIONAL), id="plus"),
        pytest.param(ALICE, "+33123456789", NOT_PERMITTED, id="plus-is-international"),
        pytest.param(DAN, "5551234", out("5551234", DialKind.LOCAL), id="local"),
        pytest.param(BOB, "112", out("112", DialKind.EMERGENCY), id="emergency"),
    ],
)
def test_site_without_country_code_sends_numbers_as_dialed(
    caller: str, dialed: str, expected: Outcome
) -> None:
    assert user_call(NO_COUNTRY_SITE, caller, dialed) == expected


def test_outside_calls_use_the_first_trunk_and_its_caller_id() -> None:
    carol = SITE.user(CAROL)
    assert carol is not None
    route = route_from_user(SITE, carol, "0123456789")
    assert isinstance(route, Outbound)
    assert route.trunk is SITE.trunks[0]
    assert route.caller_id == "+33123456700"


# --- calls from trunks -------------------------------------------------------------------------

FROM_TRUNKS = [
    pytest.param("provider", "+33123456789", ("group", "600"), id="e164"),
    pytest.param("provider", "33123456789", ("group", "600"), id="e164-without-plus"),
    pytest.param("provider", "0033123456789", ("group", "600"), id="intl-prefix"),
    pytest.param("provider", "0123456789", ("group", "600"), id="national-form"),
    pytest.param("provider", "0123456790", ("ring", "1002", 30), id="did-to-user"),
    pytest.param("provider", "+33123456792", ("voicemail", "1003"), id="did-to-voicemail"),
    pytest.param(
        "provider",
        "+33123456791",
        out("+33612345678", DialKind.NATIONAL),
        id="did-to-outside-number",
    ),
    pytest.param("backup", "+33987654321", ("ring", "1003", 20), id="did-of-second-trunk"),
    pytest.param("backup", "0987654321", ("ring", "1003", 20), id="second-trunk-national"),
    pytest.param("provider", "+33987654321", UNKNOWN, id="did-of-another-trunk"),
    pytest.param("backup", "+33123456789", UNKNOWN, id="did-of-another-trunk-reverse"),
    pytest.param("provider", "+33100000000", UNKNOWN, id="unknown-did"),
    pytest.param("provider", "1001", UNKNOWN, id="extension-is-not-a-did"),
    pytest.param("provider", "600", UNKNOWN, id="group-is-not-a-did"),
    pytest.param("provider", "112", UNKNOWN, id="emergency-is-not-a-did"),
]


@pytest.mark.parametrize(("trunk", "dialed", "expected"), FROM_TRUNKS)
def test_route_from_trunk(trunk: str, dialed: str, expected: Outcome) -> None:
    found = SITE.trunk(trunk)
    assert found is not None
    assert outcome(route_from_trunk(SITE, found, dialed)) == expected


def test_did_without_country_code_needs_an_international_spelling() -> None:
    provider = NO_COUNTRY_SITE.trunk("provider")
    assert provider is not None
    assert outcome(route_from_trunk(NO_COUNTRY_SITE, provider, "0033123456789")) == ("group", "600")
    assert outcome(route_from_trunk(NO_COUNTRY_SITE, provider, "33123456789")) == ("group", "600")
    assert outcome(route_from_trunk(NO_COUNTRY_SITE, provider, "0123456789")) == UNKNOWN


# --- configured destinations -------------------------------------------------------------------

DESTINATIONS = [
    pytest.param(UserDest("1002"), None, ("ring", "1002", 30), id="user"),
    pytest.param(GroupDest("600"), None, ("group", "600"), id="group"),
    pytest.param(VoicemailDest("1001"), None, ("voicemail", "1001"), id="voicemail"),
    pytest.param(
        ExternalDest("0612345678"), None, out("+33612345678", DialKind.NATIONAL), id="no-caller"
    ),
    pytest.param(
        ExternalDest("0612345678"),
        ALICE,
        out("+33612345678", DialKind.NATIONAL),
        id="forward-with-permission",
    ),
    pytest.param(ExternalDest("0612345678"), BOB, NOT_PERMITTED, id="internal-user-forward"),
    pytest.param(ExternalDest("+44207946000"), ALICE, NOT_PERMITTED, id="national-user-abroad"),
    pytest.param(
        ExternalDest("+44207946000"),
        None,
        out("+44207946000", DialKind.INTERNATIONAL),
        id="did-abroad",
    ),
    pytest.param(ExternalDest("112"), BOB, out("112", DialKind.EMERGENCY), id="emergency"),
    pytest.param(ExternalDest("1009"), CAROL, UNKNOWN, id="short-unknown"),
    pytest.param(UserDest("1999"), None, UNKNOWN, id="user-not-in-site"),
    pytest.param(GroupDest("699"), None, UNKNOWN, id="group-not-in-site"),
]


@pytest.mark.parametrize(("dest", "caller", "expected"), DESTINATIONS)
def test_route_destination(
    dest: UserDest | GroupDest | VoicemailDest | ExternalDest,
    caller: str | None,
    expected: Outcome,
) -> None:
    user = SITE.user(caller) if caller is not None else None
    assert outcome(route_destination(SITE, dest, caller=user)) == expected


def test_a_forward_is_routed_with_its_owners_permissions() -> None:
    alice = SITE.user(ALICE)
    assert alice is not None
    assert alice.forward.no_answer == ExternalDest("0612345678")
    route = route_destination(SITE, alice.forward.no_answer, caller=alice)
    assert outcome(route) == out("+33612345678", DialKind.NATIONAL)


# --- rejections and logging --------------------------------------------------------------------

# The reasons ARI's DELETE /channels/{id} accepts (convert_reason_to_hangup_code in
# res/ari/resource_channels.c).
ARI_HANGUP_REASONS = {
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
}


@pytest.mark.parametrize(
    ("reason", "hangup"),
    [
        (RejectReason.INVALID, "unallocated"),
        (RejectReason.UNKNOWN, "unallocated"),
        (RejectReason.NOT_PERMITTED, "rejected"),
        (RejectReason.NO_TRUNK, "congestion"),
    ],
)
def test_each_rejection_hangs_up_with_an_ari_reason(reason: RejectReason, hangup: str) -> None:
    assert reason.hangup == hangup
    assert hangup in ARI_HANGUP_REASONS
    assert Reject.because(reason, "x") == Reject(reason, hangup, "x")


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        ("1001", "'1001'"),
        ("1001&PJSIP/evil", "'1001&PJSIP/evil'"),
        ("00\n1", r"'00\n1'"),
        ("\u0661\u0662\u0663", r"'\u0661\u0662\u0663'"),
        ("\u202e1001", r"'\u202e1001'"),
        ("\x1b[2J", r"'\x1b[2J'"),
        ("9" * 41, "'" + "9" * 40 + "'..."),
    ],
)
def test_sanitize_for_log(text: str, logged: str) -> None:
    assert sanitize_for_log(text) == logged
    assert sanitize_for_log(text).isprintable()
    assert sanitize_for_log(text).isascii()


def test_sanitize_for_log_is_short_even_for_huge_strings() -> None:
    assert len(sanitize_for_log("\n" * 10_000)) <= 40 * 4 + 5


def test_every_did_spelling_the_fallback_lists_routes_back_to_its_did() -> None:
    from pbx_ext.app.routing import _did_spellings, did_spellings

    site = parse_site(SITE_YAML_FOR_DIDS, "t.yaml")
    for trunk in site.trunks:
        for did in trunk.dids:
            spellings = did_spellings(did.number, site.dialing)
            assert len(spellings) == len(set(spellings)) == 4
            for spelling in spellings:
                assert did.number in _did_spellings(site.dialing, spelling), spelling


SITE_YAML_FOR_DIDS = """
site: {name: T, domain: pbx.test, timezone: UTC}
users:
  - {extension: "1001", name: Ann}
trunks:
  - name: sbc
    host: 192.0.2.10
    dids: [{number: "+33123456789", to: "1001"}]
dialing: {country_code: "33"}
"""
