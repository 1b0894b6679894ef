"""The example office: it loads into the expected values, survives a round trip, and no
mangled version of it (nor random bytes) makes the loader raise anything but SiteError."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from pbx_ext.errors import SiteError
from pbx_ext.site import (
    BlfKey,
    GroupDest,
    Permission,
    Site,
    SpeedDialKey,
    Strategy,
    Transport,
    UserDest,
    Vendor,
    VoicemailDest,
    load_site,
    parse_site,
)

ROOT = Path(__file__).parent.parent.parent
OFFICE = ROOT / "examples" / "office.yaml"
MINIMAL = ROOT / "tests" / "data" / "sites" / "minimal.yaml"
PROBLEM_LINE = re.compile(r"[^\n]+:\d+:\d+: [^\n]+: [^\n]+")


@pytest.fixture(scope="module")
def office() -> Site:
    return load_site(OFFICE)


def test_office_site_and_network(office: Site) -> None:
    assert office.site.name == "Acme HQ"
    assert office.site.domain == "pbx.acme.example"
    assert office.site.timezone == "Europe/Paris"
    assert office.site.ntp == ("0.fr.pool.ntp.org", "1.fr.pool.ntp.org")
    assert office.network.voice_vlan is not None
    assert (office.network.voice_vlan.id, office.network.voice_vlan.priority) == (20, 5)
    assert office.network.pc_port_vlan == 10
    assert office.network.provisioning_url == "https://prov.acme.example"


def test_office_users(office: Site) -> None:
    assert [u.extension for u in office.users] == ["1001", "1002", "1003", "1004", "1005", "1006"]
    assert {u.permissions for u in office.users} == set(Permission)
    alice = office.user("1001")
    assert alice is not None
    assert alice.forward.busy == UserDest("1002")
    assert alice.forward.no_answer == VoicemailDest("1001")
    assert alice.forward.after_seconds == 20
    bruno = office.user("1002")
    assert bruno is not None
    assert (bruno.name, bruno.webrtc, bruno.dnd) == ("Bruno Lefèvre", True, False)
    meeting_room = office.user("1006")
    assert meeting_room is not None
    assert (meeting_room.permissions, meeting_room.voicemail) == (Permission.INTERNAL, False)


def test_office_phones(office: Site) -> None:
    assert [(p.vendor, p.model) for p in office.phones] == [
        (Vendor.YEALINK, "T54W"),
        (Vendor.POLYCOM, "VVX 450"),
        (Vendor.SNOM, "D785"),
        (Vendor.GRANDSTREAM, "GRP2614"),
    ]
    yealink = office.phones[0]
    assert yealink.mac == "001565123456"
    assert yealink.lines == ("1001",)
    assert yealink.keys == (
        BlfKey(blf="1002"),
        BlfKey(blf="1005"),
        SpeedDialKey(speed_dial="+33123456799", label="Head Office"),
    )
    assert office.phones[2].mac == "0004135a6b7c"


def test_office_groups(office: Site) -> None:
    sales, support = office.groups
    assert (sales.number, sales.strategy, sales.members) == (
        "600",
        Strategy.RINGALL,
        ("1001", "1002", "1003"),
    )
    assert sales.fallback == VoicemailDest("600")
    assert (support.number, support.strategy, support.ring_seconds) == ("601", Strategy.LINEAR, 15)
    assert support.fallback == UserDest("1005")


def test_office_trunk_and_dialing(office: Site) -> None:
    provider = office.trunk("provider")
    assert provider is not None
    assert (provider.host, provider.transport, provider.port) == (
        "sbc.provider.example",
        Transport.TLS,
        None,
    )
    assert (provider.username, provider.password_env, provider.register) == (
        "acme",
        "TRUNK_PASSWORD",
        True,
    )
    assert provider.outbound_caller_id == "+33123456700"
    assert [(d.number, d.to) for d in provider.dids] == [
        ("+33123456700", UserDest("1005")),
        ("+33123456760", GroupDest("600")),
        ("+33123456761", GroupDest("601")),
        ("+33123456701", UserDest("1001")),
    ]
    assert office.dialing.emergency == ("112", "15", "17", "18")
    assert (office.dialing.national_prefix, office.dialing.international_prefix) == ("0", "00")
    assert office.dialing.country_code == "33"


def test_minimal_site_takes_the_defaults() -> None:
    site = load_site(MINIMAL)
    (alice,) = site.users
    assert (alice.permissions, alice.voicemail, alice.dnd, alice.webrtc) == (
        Permission.INTERNAL,
        True,
        False,
        False,
    )
    assert (site.phones, site.groups, site.trunks) == ((), (), ())
    assert site.dialing.emergency == ("112",)
    assert site.network.voice_vlan is None


def test_round_trip_through_yaml(office: Site) -> None:
    dumped = yaml.safe_dump(office.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    assert parse_site(dumped, "dumped.yaml") == office


def test_several_problems_file() -> None:
    path = ROOT / "tests" / "data" / "sites" / "several-problems.yaml"
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert caught.value.problems == [
        f"{path}:4:13: site.timezone: unknown time zone 'Europe/Pari'; "
        "did you mean 'Europe/Paris'?",
        f'{path}:8:16: users[1].extension: 1002 was read as a number; write it in quotes: "1002"',
        f"{path}:10:5: users[2].extension: required, but missing",
        f"{path}:10:5: users[2].extenson: unknown key 'extenson'; did you mean 'extension'?",
        f"{path}:17:10: phones[1].mac: MAC 001565123456 is already phones[0].mac (line 13)",
        f"{path}:20:13: phones[1].lines[0]: there is no user with extension '1009'",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


# --- fuzzing ------------------------------------------------------------------------------------

# Characters that mean something to YAML, to Asterisk, or to neither.
PALETTE: list[str] = [
    *":-[]{}&*!|>'\"%@`#,?~ \t\n\\0123456789abcxyz",
    "\x00",
    "\xe9",
    "\u202e",
    "---",
]


def _mutate(text: str, rng: random.Random) -> str | bytes:
    if not text:
        return rng.choice(PALETTE)
    lines = text.splitlines(keepends=True)
    match rng.randrange(8):
        case 0:  # drop a line
            del lines[rng.randrange(len(lines))]
        case 1:  # repeat a line
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
        case 2:  # swap two lines
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
        case 3:  # truncate
            return text[: rng.randrange(len(text))]
        case 4:  # change the indentation of a line
            k = rng.randrange(len(lines))
            lines[k] = " " * rng.randrange(8) + lines[k].lstrip(" ")
        case 5:  # raw bytes in the middle
            data = text.encode()
            at = rng.randrange(len(data))
            return data[:at] + rng.randbytes(rng.randrange(1, 4)) + data[at:]
        case _:  # sprinkle characters
            chars = list(text)
            for _ in range(rng.randrange(1, 6)):
                chars.insert(rng.randrange(len(chars)), rng.choice(PALETTE))
            return "".join(chars)
    return "".join(lines)


def _inputs() -> list[str | bytes]:
    rng = random.Random(20240611)
    office = OFFICE.read_text(encoding="utf-8")
    cases: list[str | bytes] = [rng.randbytes(rng.randrange(0, 300)) for _ in range(50)]
    cases += ["".join(rng.choice(PALETTE) for _ in range(rng.randrange(1, 200))) for _ in range(20)]
    cases += [_mutate(office, rng) for _ in range(130)]
    return cases


def _outcome(case: str | bytes) -> list[str] | None:
    """The problems found, ``None`` for a valid site; any other exception fails the test."""
    try:
        parse_site(case, "fuzz.yaml")
    except SiteError as error:
        return error.problems
    return None


def test_any_input_gives_a_site_or_site_error() -> None:
    outcomes = {"site": 0, "problems": 0}
    for case in _inputs():
        problems = _outcome(case)
        if problems is None:
            outcomes["site"] += 1
            continue
        outcomes["problems"] += 1
        assert problems, case
        for line in problems:
            assert line.startswith("fuzz.yaml:"), line
            assert PROBLEM_LINE.fullmatch(line), line
    # Both outcomes happen: the mutations are neither all harmless nor all fatal.
    assert outcomes["site"] > 0
    assert outcomes["problems"] > 100
