"""Checks for single values of the site file: what may appear where, and in which spelling.

Most of these values end up inside Asterisk configuration (``pjsip.conf``, ``voicemail.conf``),
dial strings (``Dial(PJSIP/1001&PJSIP/1002,30)``) or phone configuration files. Asterisk has no
quoting for most of them: ``&`` adds a dial target, ``,`` starts the next application argument,
``;`` starts a comment, ``[`` opens a section, ``${...}`` expands a variable and a newline starts
a new option. So every check below is an *allow-list* of characters, never a deny-list: a value
that passes can be written into any of those places as it is.

Each check takes a ``str`` (pydantic has already refused other types), returns the value,
normalised where there are several spellings, or raises ``ValueError`` with the message the
admin reads.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError

from pbx_ext.site.messages import show

_DIGITS = re.compile(r"[0-9]+")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_EXTERNAL = re.compile(r"\+?[0-9]{2,20}")
_DIALABLE = re.compile(r"\+?[0-9*#]{1,32}")
_MAC_COLONS = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}")
_MAC_BARE = re.compile(r"[0-9a-fA-F]{12}")
_MAC_CISCO = re.compile(r"[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_TRUNK_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
_SIP_USER = re.compile(r"[A-Za-z0-9+][A-Za-z0-9._+-]{0,63}")
_PHONE_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,31}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?P<domain>[^@]+)")
_TZ_KEY = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")
# RFC 3986 characters minus those that mean something in Asterisk or phone config files.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#@!&()*+,=%-]+")

NAME_MAX = 64
# Beyond letters and digits, names may use these: enough for "Zoë O'Brien-Smith Jr." or
# "R&D (2nd floor)". No comma: voicemail.conf separates fields with commas.
_NAME_PUNCTUATION = frozenset(" '\N{RIGHT SINGLE QUOTATION MARK}-.&()/_")
_NAME_HELP = "letters, digits, spaces and ' - . & ( ) / _"

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


def needs_text() -> PydanticCustomError:
    """The error custom validators raise for a non-string, handled like pydantic's own."""
    return PydanticCustomError("string_type", "Input should be a valid string")


def digits(value: str, what: str) -> str:
    """An extension-like number: 2 to 8 ASCII digits.

    >>> digits("1001", "extension")
    '1001'
    >>> digits("10a1", "extension")
    Traceback (most recent call last):
    ValueError: '10a1' is not a valid extension (digits only)
    """
    if not _DIGITS.fullmatch(value):
        raise ValueError(f"{show(value)} is not a valid {what} (digits only)")
    if not 2 <= len(value) <= 8:
        raise ValueError(f"{show(value)} is not a valid {what} (2 to 8 digits)")
    return value


def extension(value: str) -> str:
    """A user extension, e.g. ``"1001"``."""
    return digits(value, "extension")


def group_number(value: str) -> str:
    """A ring group number, e.g. ``"600"``."""
    return digits(value, "group number")


def emergency_number(value: str) -> str:
    """An emergency number, e.g. ``"112"``."""
    return digits(value, "emergency number")


def prefix(value: str) -> str:
    """A dialing prefix, 1 to 4 digits: ``"0"``, ``"00"``, ``"011"``."""
    if not _DIGITS.fullmatch(value) or len(value) > 4:
        raise ValueError(f"{show(value)} is not a valid prefix (1 to 4 digits)")
    return value


def country_code(value: str) -> str:
    """An ITU country calling code without the +: ``"33"``, ``"1"``, ``"358"``."""
    if not _DIGITS.fullmatch(value) or len(value) > 3 or value.startswith("0"):
        raise ValueError(
            f"{show(value)} is not a country code (1 to 3 digits, not starting with 0, e.g. '33')"
        )
    return value


def e164(value: str) -> str:
    """A number in E.164 form.

    >>> e164("+33123456789")
    '+33123456789'
    >>> e164("0123456789")
    Traceback (most recent call last):
    ValueError: '0123456789' is not an E.164 number ('+', then 8 to 15 digits, the first not 0)
    """
    if not _E164.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not an E.164 number ('+', then 8 to 15 digits, the first not 0)"
        )
    return value


def external_number(value: str) -> str:
    """A number outside the PBX: digits, or ``+`` and an E.164 number."""
    if value.startswith("+"):
        return e164(value)
    if not _EXTERNAL.fullmatch(value):
        raise ValueError(f"{show(value)} is not a valid external number (2 to 20 digits)")
    return value


def looks_like_number(value: str) -> bool:
    """Digits with an optional leading ``+``: a destination that is a number, not a keyword."""
    return _DIGITS.fullmatch(value.removeprefix("+")) is not None


def dialable(value: str) -> str:
    """What a speed-dial key dials: digits, ``*`` and ``#``, optionally a leading ``+``.

    >>> dialable("*97"), dialable("+33123456789")
    ('*97', '+33123456789')
    """
    if not _DIALABLE.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a number to dial (digits, * and #, optionally a leading +)"
        )
    return value


def mac(value: str) -> str:
    """A phone's Ethernet address, normalised to 12 lowercase hex digits.

    >>> mac("00:15:65:12:34:56"), mac("00-15-65-12-34-56"), mac("0015.6512.3456")
    ('001565123456', '001565123456', '001565123456')
    """
    if not (
        _MAC_COLONS.fullmatch(value) or _MAC_BARE.fullmatch(value) or _MAC_CISCO.fullmatch(value)
    ):
        raise ValueError(f"{show(value)} is not a MAC address (write it like '00:15:65:12:34:56')")
    normal = re.sub(r"[:.-]", "", value).lower()
    if normal == "0" * 12:
        raise ValueError(f"{show(value)} is all zeros, not a phone's MAC address")
    if int(normal[:2], 16) & 1:
        # The I/G bit: a group address is never the address of one device.
        raise ValueError(f"{show(value)} is a multicast address, not a phone's MAC address")
    return normal


def name(value: str) -> str:
    """A display name (user, group, site, key label), as shown on phones and in caller ID.

    >>> name("Zoë O'Brien-Smith")
    "Zoë O'Brien-Smith"
    >>> name('Alice "Boss"')
    Traceback (most recent call last):
    ValueError: 'Alice "Boss"' contains '"', which a name cannot contain (use letters, \
digits, spaces and ' - . & ( ) / _)
    """
    value = unicodedata.normalize("NFC", value)
    if not value.strip():
        raise ValueError("a name cannot be empty")
    if len(value) > NAME_MAX:
        raise ValueError(f"{show(value)} is too long for a name ({len(value)} > {NAME_MAX})")
    if value != value.strip():
        raise ValueError(f"{show(value)} starts or ends with a space")
    for char in value:
        # L* letters, M* combining accents, Nd decimal digits.
        category = unicodedata.category(char)
        if category[0] in "LM" or category == "Nd" or char in _NAME_PUNCTUATION:
            continue
        raise ValueError(
            f"{show(value)} contains {show(char)}, which a name cannot contain (use {_NAME_HELP})"
        )
    return value


def dns_name(value: str) -> str:
    """A DNS host or domain name, lowercased.

    >>> dns_name("PBX.acme.example")
    'pbx.acme.example'
    """
    labels = value.split(".")
    if (
        len(value) > 253
        or not all(_DNS_LABEL.fullmatch(label) for label in labels)
        # A last label of digits only is an IP address typo, never a real top-level domain.
        or labels[-1].isdigit()
    ):
        raise ValueError(f"{show(value)} is not a valid DNS name")
    return value.lower()


def host(value: str) -> str:
    """A DNS name or an IPv4/IPv6 literal, without a port.

    >>> host("sbc.provider.example"), host("192.0.2.10"), host("2001:db8::10")
    ('sbc.provider.example', '192.0.2.10', '2001:db8::10')
    """
    if value.startswith("["):
        raise ValueError(f"{show(value)}: write an IPv6 address without brackets")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        if "%" in value:
            raise ValueError(f"{show(value)}: an IPv6 zone (%...) cannot be used here")
        return value
    if ":" in value:
        raise ValueError(f"{show(value)} is not a host name or IP address (no port here)")
    return dns_name(value)


def http_url(value: str) -> str:
    """An ``http://`` or ``https://`` URL without credentials.

    >>> http_url("https://prov.acme.example/phones")
    'https://prov.acme.example/phones'
    """
    if not _URL_CHARS.fullmatch(value):
        bad = next((c for c in value if not _URL_CHARS.fullmatch(c)), value[:1])
        raise ValueError(f"{show(value)} contains {show(bad)}, which a URL here cannot contain")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - evaluated for its check: urlsplit parses ports lazily
    except ValueError:
        raise ValueError(f"{show(value)} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{show(value)} must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        # Not echoed: it may hold a password.
        raise ValueError(
            "credentials do not belong in the site file; phones get per-device credentials"
        )
    if not parts.hostname:
        raise ValueError(f"{show(value)} has no host name")
    host(parts.hostname)
    return value


def email(value: str) -> str:
    """An e-mail address for voicemail notifications, e.g. ``alice.martin@acme.example``."""
    match = _EMAIL.fullmatch(value)
    if match is None:
        raise ValueError(f"{show(value)} is not an e-mail address this PBX can use")
    dns_name(match["domain"])
    return value


def timezone(value: str) -> str:
    """An IANA time zone known to this machine's zoneinfo, e.g. ``Europe/Paris``."""
    if _TZ_KEY.fullmatch(value):
        known = zoneinfo.available_timezones()
        if value in known:
            return value
        close = difflib.get_close_matches(value, sorted(known), n=1)
        if close:
            raise ValueError(f"unknown time zone {show(value)}; did you mean {show(close[0])}?")
    raise ValueError(f"unknown time zone {show(value)} (write it like 'Europe/Paris')")


def trunk_name(value: str) -> str:
    """A trunk name; it becomes an Asterisk section name, so it is kept simple."""
    if not _TRUNK_NAME.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a valid trunk name (a lowercase letter, then up to 30 "
            "lowercase letters, digits, _ or -)"
        )
    return value


def env_name(value: str) -> str:
    """The name of an environment variable, e.g. ``TRUNK_PASSWORD``."""
    if not _ENV_NAME.fullmatch(value):
        # Not echoed: people put the password itself here by mistake.
        raise ValueError(
            "password_env takes the NAME of an environment variable (A-Z, 0-9 and _, not "
            "starting with a digit), e.g. TRUNK_PASSWORD, never the password itself"
        )
    return value


def sip_username(value: str) -> str:
    """A SIP user name for trunk authentication, e.g. ``acme`` or ``+33123456700``."""
    if not _SIP_USER.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a valid user name (letters, digits, . _ + -, at most 64)"
        )
    return value


def phone_model(value: str) -> str:
    """A phone model as the vendor writes it: ``T54W``, ``VVX 450``, ``GRP2614``."""
    if not _PHONE_MODEL.fullmatch(value):
        raise ValueError(
            f"{show(value)} is not a valid phone model (letters, digits, spaces, . _ + -)"
        )
    return value


def between(low: int, high: int, what: str) -> Callable[[int], int]:
    """A range check: ``between(1, 4094, "VLAN id")(5000)`` fails."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{value} is not a valid {what} ({low} to {high})")
        return value

    return check


def not_empty(message: str) -> Callable[[tuple[T, ...]], tuple[T, ...]]:
    """A check that a list has at least one entry."""

    def check(items: tuple[T, ...]) -> tuple[T, ...]:
        if not items:
            raise ValueError(message)
        return items

    return check


def one_of(enum: type[E], what: str) -> Callable[[object], E]:
    """A check for a word from a fixed list, with a suggestion for near misses.

    >>> from pbx_ext.site.model import Vendor
    >>> one_of(Vendor, "vendor")("Yealink")
    Traceback (most recent call last):
    ValueError: 'Yealink' is not a vendor; did you mean 'yealink'?
    """
    choices = [member.value for member in enum]

    def check(value: object) -> E:
        if isinstance(value, enum):
            return value
        if isinstance(value, str) and value in choices:
            return enum(value)
        close = difflib.get_close_matches(str(value).lower(), choices, n=1)
        hint = f"did you mean {show(close[0])}?" if close else "use one of: " + ", ".join(choices)
        raise ValueError(f"{show(value)} is not a {what}; {hint}")

    return check
