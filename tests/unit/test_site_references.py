"""Rules across entries: numbering, references, duplicates, loops; and how they combine."""

from __future__ import annotations

import pytest

from pbx_ext.errors import SiteError
from pbx_ext.site import ExternalDest, GroupDest, Site, UserDest, VoicemailDest, parse_site

SITE = "site: {name: Lab, domain: lab.example, timezone: UTC}\n"
USERS = (
    "users:\n"
    '  - {extension: "1001", name: Alice}\n'
    '  - {extension: "1002", name: Bob}\n'
    '  - {extension: "1003", name: Carol, voicemail: false}\n'
)


def problems(text: str) -> list[str]:
    with pytest.raises(SiteError) as caught:
        parse_site(text, "site.yaml")
    return caught.value.problems


def messages(text: str) -> list[str]:
    """Problems without their position: ``path: message``."""
    return [line.split(": ", 1)[1] for line in problems(text)]


def valid(text: str) -> Site:
    return parse_site(text, "site.yaml")


def phone(mac: str, lines: str, keys: str = "[]") -> str:
    return f"  - {{mac: '{mac}', vendor: snom, model: D785, lines: {lines}, keys: {keys}}}\n"


# --- numbering -----------------------------------------------------------------------------------


def test_duplicate_extensions() -> None:
    text = SITE + USERS + '  - {extension: "1002", name: Bobby}\n'
    assert problems(text) == [
        "site.yaml:6:17: users[3].extension: '1002' is already used by users[1].extension (line 4)"
    ]


def test_group_number_colliding_with_an_extension() -> None:
    text = SITE + USERS + "groups:\n  - {number: '1001', name: Sales, members: ['1002']}\n"
    assert problems(text) == [
        "site.yaml:7:14: groups[0].number: '1001' is already used by users[0].extension (line 3)"
    ]


def test_duplicate_group_numbers() -> None:
    text = (
        SITE
        + USERS
        + (
            "groups:\n"
            "  - {number: '600', name: Sales, members: ['1001']}\n"
            "  - {number: '600', name: Support, members: ['1002']}\n"
        )
    )
    assert messages(text) == [
        "groups[1].number: '600' is already used by groups[0].number (line 7)"
    ]


def test_extension_colliding_with_an_emergency_number() -> None:
    text = SITE + USERS + "  - {extension: '15', name: Dan}\ndialing: {emergency: ['112', '15']}\n"
    assert problems(text) == [
        "site.yaml:6:17: users[3].extension: '15' is an emergency number "
        "(dialing.emergency[1] (line 7)); choose another number"
    ]


def test_default_emergency_number_is_reserved_too() -> None:
    text = SITE + USERS + "groups:\n  - {number: '112', name: Help, members: ['1001']}\n"
    assert messages(text) == [
        "groups[0].number: '112' is an emergency number (dialing.emergency[0], the default); "
        "choose another number"
    ]


def test_duplicate_emergency_numbers() -> None:
    assert messages(SITE + USERS + "dialing: {emergency: ['112', '17', '112']}\n") == [
        "dialing.emergency[2]: '112' is listed twice (first at dialing.emergency[0] (line 6))"
    ]


# --- phones --------------------------------------------------------------------------------------


def test_duplicate_macs_in_any_notation() -> None:
    text = (
        SITE
        + USERS
        + "phones:\n"
        + phone("00:15:65:12:34:56", "['1001']")
        + phone("00-15-65-12-34-56", "['1002']")
    )
    assert problems(text) == [
        "site.yaml:8:11: phones[1].mac: MAC 001565123456 is already phones[0].mac (line 7)"
    ]


def test_phone_lines_and_blf_keys_must_be_users() -> None:
    text = SITE + USERS + "phones:\n" + phone("001565123456", "['1001', '1009']", "[{blf: '1008'}]")
    assert messages(text) == [
        "phones[0].lines[1]: there is no user with extension '1009'",
        "phones[0].keys[0].blf: there is no user with extension '1008'",
    ]


def test_user_twice_on_a_phone() -> None:
    text = SITE + USERS + "phones:\n" + phone("001565123456", "['1001', '1002', '1001']")
    assert messages(text) == ["phones[0].lines[2]: '1001' is already on this phone at lines[0]"]


def test_user_on_two_phones_is_fine() -> None:
    text = (
        SITE
        + USERS
        + "phones:\n"
        + phone("001565123456", "['1001']")
        + phone("001565123457", "['1001']")
    )
    assert len(valid(text).phones) == 2


# --- groups --------------------------------------------------------------------------------------


def test_group_members_must_be_users_and_listed_once() -> None:
    text = (
        SITE + USERS + "groups:\n  - {number: '600', name: S, members: ['1001', '1007', '1001']}\n"
    )
    assert messages(text) == [
        "groups[0].members[1]: there is no user with extension '1007'",
        "groups[0].members[2]: '1001' is already a member at members[0]",
    ]


def test_group_fallbacks() -> None:
    text = (
        SITE
        + USERS
        + (
            "groups:\n"
            "  - {number: '600', name: A, members: ['1001'], fallback: group:600}\n"
            "  - {number: '601', name: B, members: ['1001'], fallback: group:602}\n"
            "  - {number: '602', name: C, members: ['1001'], fallback: group:601}\n"
            "  - {number: '603', name: D, members: ['1001'], fallback: group:699}\n"
            "  - {number: '604', name: E, members: ['1001'], fallback: voicemail:1003}\n"
        )
    )
    assert messages(text) == [
        "groups[0].fallback: group '600' falls back to itself",
        "groups[1].fallback: fallback loop: group:601 → group:602 → group:601",
        "groups[3].fallback: there is no group '699'",
        "groups[4].fallback: user '1003' has voicemail: false, so no mailbox to send to",
    ]


# --- destinations --------------------------------------------------------------------------------


def test_destinations_resolve_against_the_directory() -> None:
    text = (
        SITE
        + USERS
        + (
            '  - {extension: "1004", name: Dan, forward: {always: "600", busy: "0612345678",'
            " no_answer: voicemail}}\n"
            '  - {extension: "1005", name: Eve, forward: {busy: "1001",'
            " no_answer: voicemail:600}}\n"
            "groups:\n  - {number: '600', name: Sales, members: ['1001'], fallback: voicemail}\n"
            "trunks:\n  - name: provider\n    host: sbc.example\n"
            "    dids: [{number: '+33123456789', to: '+33612345678'}]\n"
        )
    )
    site = valid(text)
    dan, eve = site.users[3], site.users[4]
    assert dan.forward.always == GroupDest("600")
    assert dan.forward.busy == ExternalDest("0612345678")
    assert dan.forward.no_answer == VoicemailDest("1004")
    assert eve.forward.busy == UserDest("1001")
    assert eve.forward.no_answer == VoicemailDest("600")
    assert site.groups[0].fallback == VoicemailDest("600")
    assert site.trunks[0].dids[0].to == ExternalDest("+33612345678")


def test_unknown_references_in_destinations() -> None:
    text = (
        SITE
        + USERS
        + (
            '  - {extension: "1004", name: Dan, forward: {always: group:700, busy: voicemail:1009,'
            " no_answer: voicemail:1003}}\n"
            '  - {extension: "1005", name: Eve, voicemail: false,'
            " forward: {no_answer: voicemail}}\n"
            "trunks:\n"
            "  - {name: provider, host: sbc.example,"
            " dids: [{number: '+33123456789', to: group:601}]}\n"
            "  - {name: backup, host: sbc.example,"
            " dids: [{number: '+33123456780', to: voicemail}]}\n"
        )
    )
    assert messages(text) == [
        "users[3].forward.always: there is no group '700'",
        "users[3].forward.busy: there is no mailbox '1009' (no user or group has it)",
        "users[3].forward.no_answer: user '1003' has voicemail: false, so no mailbox to send to",
        "users[4].forward.no_answer: user '1005' has voicemail: false, so no mailbox to send to",
        "trunks[0].dids[0].to: there is no group '601'",
        "trunks[1].dids[0].to: 'voicemail' alone means the owner's mailbox, which only a user's "
        "forward or a group's fallback has; name the mailbox, e.g. 'voicemail:1001'",
    ]


def test_forwarding_to_oneself() -> None:
    text = SITE + USERS + '  - {extension: "1004", name: Dan, forward: {busy: "1004"}}\n'
    assert messages(text) == ["users[3].forward.busy: forwards '1004' to itself"]


def test_forwarding_loop() -> None:
    text = (
        SITE
        + USERS
        + (
            '  - {extension: "1004", name: Dan, forward: {always: "1005"}}\n'
            '  - {extension: "1005", name: Eve, forward: {always: "1006"}}\n'
            '  - {extension: "1006", name: Fay, forward: {always: "1004"}}\n'
            '  - {extension: "1007", name: Gus, forward: {always: "1004"}}\n'
        )
    )
    assert problems(text) == [
        "site.yaml:6:54: users[3].forward.always: forwarding loop: 1004 → 1005 → 1006 → 1004"
    ]


def test_long_forwarding_chain_is_checked_in_linear_time() -> None:
    chain = "".join(
        f'  - {{extension: "{n}", name: U, forward: {{always: "{n + 1}"}}}}\n'
        for n in range(10000, 14000)
    )
    site = valid(SITE + "users:\n" + chain + '  - {extension: "14000", name: End}\n')
    assert len(site.users) == 4001


# --- trunks and network --------------------------------------------------------------------------


def test_duplicate_trunk_names_and_dids() -> None:
    text = (
        SITE
        + USERS
        + (
            "trunks:\n"
            "  - {name: provider, host: a.example, dids: [{number: '+33123456789', to: '1001'}]}\n"
            "  - {name: provider, host: b.example, dids: [{number: '+33123456789', to: '1002'}]}\n"
        )
    )
    assert messages(text) == [
        "trunks[1].name: trunk name 'provider' is already trunks[0].name (line 7)",
        "trunks[1].dids[0].number: DID +33123456789 is already routed by "
        "trunks[0].dids[0].number (line 7)",
    ]


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ("", "username and password_env"),
        ("username: acme", "password_env"),
        ("password_env: TRUNK_PASSWORD", "username"),
    ],
)
def test_register_needs_credentials(fields: str, missing: str) -> None:
    text = SITE + USERS + "trunks:\n  - name: provider\n    host: sbc.example\n    register: true\n"
    text += f"    {fields}\n" if fields else ""
    assert problems(text) == [f"site.yaml:9:15: trunks[0].register: register: true needs {missing}"]


def test_pc_port_vlan_differs_from_voice_vlan() -> None:
    assert messages(SITE + USERS + "network: {voice_vlan: {id: 20}, pc_port_vlan: 20}\n") == [
        "network.pc_port_vlan: the PC port VLAN must differ from the voice VLAN (20)"
    ]


# --- how the passes combine ----------------------------------------------------------------------


def test_every_problem_at_once_in_file_order() -> None:
    text = (
        SITE
        + USERS
        + (
            "phones:\n"
            + phone("00:15:65:12:34:56", "['1001']")
            + phone("001565123456", "['1002']")
            + '  - {mac: "00:15:65:00:00:01", vendor: snom, model: D785, lines: ["1002"],'
            + " colour: red}\n"
            + "dialing: {emergency: ['1001']}\n"
        )
    )
    assert problems(text) == [
        "site.yaml:3:17: users[0].extension: '1001' is an emergency number "
        "(dialing.emergency[0] (line 10)); choose another number",
        "site.yaml:8:11: phones[1].mac: MAC 001565123456 is already phones[0].mac (line 7)",
        "site.yaml:9:76: phones[2].colour: unknown key 'colour'; allowed keys: mac, vendor, "
        "model, lines, keys",
    ]


def test_invalid_entries_still_count_as_existing() -> None:
    # Alice's e-mail is wrong, but she exists: the phone line naming her is not a second error.
    text = SITE + (
        'users:\n  - {extension: "1001", name: Alice, email: "not an address"}\n'
        "phones:\n" + phone("001565123456", "['1001']") + phone("001565123456", "['1001']")
    )
    assert messages(text) == [
        "users[0].email: 'not an address' is not an e-mail address this PBX can use",
        "phones[1].mac: MAC 001565123456 is already phones[0].mac (line 5)",
    ]
