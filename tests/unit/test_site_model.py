"""The typed models themselves: permissions, destinations, helpers, and building sites in code."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pbx_ext.site import (
    ExternalDest,
    Forward,
    Group,
    GroupDest,
    Permission,
    Site,
    SiteInfo,
    Trunk,
    User,
    UserDest,
    VoicemailDest,
)
from pbx_ext.site.destinations import Directory, parse_destination

LAB = SiteInfo(name="Lab", domain="lab.example", timezone="UTC")


def test_permissions_are_ordered_by_rank() -> None:
    ordered = [Permission.INTERNAL, Permission.LOCAL, Permission.NATIONAL, Permission.INTERNATIONAL]
    assert [p.rank for p in ordered] == [0, 1, 2, 3]
    assert sorted(reversed(ordered)) == ordered
    # As plain strings "international" < "local": the enum must not compare that way.
    assert Permission.INTERNATIONAL > Permission.LOCAL
    assert Permission.INTERNATIONAL >= Permission.NATIONAL
    assert Permission.INTERNAL < Permission.LOCAL <= Permission.LOCAL


@pytest.mark.parametrize(
    ("has", "needed", "allowed"),
    [
        (Permission.NATIONAL, Permission.LOCAL, True),
        (Permission.NATIONAL, Permission.NATIONAL, True),
        (Permission.NATIONAL, Permission.INTERNATIONAL, False),
        (Permission.INTERNAL, Permission.LOCAL, False),
        (Permission.INTERNATIONAL, Permission.INTERNAL, True),
    ],
)
def test_permission_allows(has: Permission, needed: Permission, allowed: bool) -> None:
    assert has.allows(needed) is allowed


def test_permissions_are_still_strings() -> None:
    assert Permission("national") == "national"
    assert f"{Permission.LOCAL}" == "local"


@pytest.mark.parametrize(
    ("text", "destination"),
    [
        ("1001", UserDest("1001")),
        ("600", GroupDest("600")),
        ("group:600", GroupDest("600")),
        ("voicemail:1001", VoicemailDest("1001")),
        ("0612345678", ExternalDest("0612345678")),
        ("+33612345678", ExternalDest("+33612345678")),
    ],
)
def test_destinations_parse_and_print_back(text: str, destination: object) -> None:
    directory = Directory(users={"1001": True}, groups=frozenset({"600"}))
    parsed = parse_destination(text, directory)
    assert parsed == destination
    # Bare group numbers are written back in the explicit spelling.
    assert str(parsed) == ("group:600" if text == "600" else text)


@pytest.mark.parametrize(
    "text", ["group:6a0", "voicemail:", "+0612", "1", "user:1001", "1001&PJSIP/x", " 1001"]
)
def test_bad_destination_spellings(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a|ambiguous"):
        parse_destination(text, Directory())


def test_destinations_check_their_own_values() -> None:
    with pytest.raises(ValueError, match="not a valid extension"):
        UserDest("1001,30")
    with pytest.raises(ValueError, match=r"not an E\.164 number"):
        ExternalDest("+0123")


def test_site_helpers_find_entries() -> None:
    site = Site(
        site=LAB,
        users=(User(extension="1001", name="Alice"), User(extension="1002", name="Bob")),
        groups=(Group(number="600", name="Sales", members=("1001",)),),
        trunks=(Trunk(name="provider", host="sbc.example"),),
    )
    assert site.user("1002") == site.users[1]
    assert site.user("1009") is None
    assert site.group("600") == site.groups[0]
    assert site.group("601") is None
    assert site.trunk("provider") == site.trunks[0]
    assert site.trunk("backup") is None


def test_sites_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValidationError, match=r"users\[1\]\.extension: '1001' is already used"):
        Site(site=LAB, users=(User(extension="1001", name="A"), User(extension="1001", name="B")))
    with pytest.raises(ValidationError, match="there is no user with extension '1009'"):
        Site(
            site=LAB,
            users=(User(extension="1001", name="A", forward=Forward(busy=UserDest("1009"))),),
        )


def test_bare_numbers_are_ambiguous_in_code() -> None:
    with pytest.raises(ValidationError, match="ambiguous outside a site file"):
        Forward(busy="1002")  # a str with bare digits is refused


def test_voicemail_alone_is_the_owners_mailbox_in_code_too() -> None:
    user = User.model_validate({"extension": "1001", "name": "A", "forward": {"busy": "voicemail"}})
    assert user.forward.busy == VoicemailDest("1001")


def test_models_are_frozen_and_closed() -> None:
    user = User(extension="1001", name="Alice")
    with pytest.raises(ValidationError, match="frozen"):
        user.name = "Bob"  # type: ignore[misc]  # the point: assignment is refused
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        User.model_validate({"extension": "1001", "name": "Alice", "colour": "red"})
    assert User(extension="1001", name="A").forward == Forward()
