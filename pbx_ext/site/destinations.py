"""Where a call can be sent: a user, a ring group, a mailbox or a number outside.

The site file spells a destination as one short string::

    "1001"          a user's extension        UserDest("1001")
    group:600       a ring group              GroupDest("600")
    voicemail:1001  a mailbox                 VoicemailDest("1001")
    voicemail       the owner's own mailbox   (only in a user's forward or a group's fallback)
    "+33612345678"  any other number          ExternalDest("+33612345678")

Bare digits are a user if a user has that extension, a group if a group has that number, and
an outside number otherwise; so resolving them needs the site's :class:`Directory`. ``str()``
of a destination gives the spelling back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from pbx_ext.site import values
from pbx_ext.site.messages import show

GROUP_PREFIX = "group:"
VOICEMAIL = "voicemail"
VOICEMAIL_PREFIX = "voicemail:"


@dataclass(frozen=True, slots=True)
class UserDest:
    """Ring a user's phones: ``UserDest("1001")``, written ``"1001"``."""

    extension: str

    def __post_init__(self) -> None:
        values.extension(self.extension)

    def __str__(self) -> str:
        return self.extension


@dataclass(frozen=True, slots=True)
class GroupDest:
    """Ring a group: ``GroupDest("600")``, written ``group:600``."""

    number: str

    def __post_init__(self) -> None:
        values.group_number(self.number)

    def __str__(self) -> str:
        return GROUP_PREFIX + self.number


@dataclass(frozen=True, slots=True)
class VoicemailDest:
    """Leave a message: ``VoicemailDest("1001")``, written ``voicemail:1001``.

    A mailbox is named after its user's extension, or after its group's number.
    """

    mailbox: str

    def __post_init__(self) -> None:
        values.digits(self.mailbox, "mailbox")

    def __str__(self) -> str:
        return VOICEMAIL_PREFIX + self.mailbox


@dataclass(frozen=True, slots=True)
class ExternalDest:
    """Call out through a trunk: ``ExternalDest("+33612345678")``, written as the number."""

    number: str

    def __post_init__(self) -> None:
        values.external_number(self.number)

    def __str__(self) -> str:
        return self.number


Destination: TypeAlias = UserDest | GroupDest | VoicemailDest | ExternalDest
DESTINATION_TYPES = (UserDest, GroupDest, VoicemailDest, ExternalDest)


@dataclass(frozen=True)
class Directory:
    """The site's internal numbers: what decides whether bare digits are a user or a group.

    ``users`` maps each extension to whether that user has a mailbox.
    """

    users: Mapping[str, bool] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()

    def has_mailbox(self, mailbox: str) -> bool:
        """Users with ``voicemail: true`` and every group have a mailbox."""
        return self.users.get(mailbox, False) or mailbox in self.groups


def parse_destination(text: str, directory: Directory | None) -> Destination:
    """Turn the site file spelling into a destination.

    >>> sales = Directory(users={"1001": True}, groups=frozenset({"600"}))
    >>> parse_destination("1001", sales), parse_destination("600", sales)
    (UserDest(extension='1001'), GroupDest(number='600'))
    >>> parse_destination("0612345678", sales)
    ExternalDest(number='0612345678')
    >>> parse_destination("voicemail:1001", sales)
    VoicemailDest(mailbox='1001')

    Without a directory (models built in code rather than loaded from a file) bare digits are
    ambiguous and refused: pass ``UserDest("1001")`` or ``ExternalDest(...)`` instead.
    ``voicemail`` alone is resolved by the user or group that owns it, never here.
    """
    if text == VOICEMAIL:
        raise ValueError(
            "'voicemail' alone means the owner's mailbox, which only a user's forward or a "
            "group's fallback has; name the mailbox, e.g. 'voicemail:1001'"
        )
    if text.startswith(GROUP_PREFIX):
        return GroupDest(text.removeprefix(GROUP_PREFIX))
    if text.startswith(VOICEMAIL_PREFIX):
        return VoicemailDest(text.removeprefix(VOICEMAIL_PREFIX))
    if not values.looks_like_number(text):
        raise ValueError(
            f"{show(text)} is not a destination; write an extension ('1002'), group:600, "
            "voicemail, voicemail:1001 or an outside number ('+33612345678')"
        )
    if directory is None:
        raise ValueError(
            f"{show(text)} is ambiguous outside a site file; "
            "use UserDest, GroupDest or ExternalDest"
        )
    if text in directory.users:
        return UserDest(text)
    if text in directory.groups:
        return GroupDest(text)
    return ExternalDest(text)
