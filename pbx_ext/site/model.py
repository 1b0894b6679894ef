"""The site: the office as the admin describes it, as typed, frozen values.

Everything downstream (Asterisk config writers, phone provisioning, the call router) reads
these models and nothing else, so they hold only checked values: every string that reaches a
config file or a dial string has passed an allow-list in :mod:`pbx_ext.site.values`.

Models are strict about types because YAML 1.1 is not: ``extension: 0123`` reads as the
number 83 and ``dnd: yes`` as true. A number where text is needed is refused, never converted,
and the loader's message says to quote it.

Load a site with :func:`pbx_ext.site.load_site`; it reports every problem at once with its line.
Building models in code also works, and ``Site(...)`` still runs the cross-reference checks::

    Site(site=SiteInfo(name="Lab", domain="lab.example", timezone="UTC"),
         users=(User(extension="1001", name="Alice"),))
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationInfo,
    model_validator,
)

from pbx_ext.site import values
from pbx_ext.site.destinations import (
    DESTINATION_TYPES,
    VOICEMAIL,
    Destination,
    Directory,
    VoicemailDest,
    parse_destination,
)

# --- enumerations ------------------------------------------------------------------------------


class Permission(StrEnum):
    """How far a user may call out; each level includes the ones before it.

    Permissions compare by rank, never alphabetically (as ``str`` would say
    ``"international" < "local"``), so ``user.permissions >= Permission.NATIONAL`` is safe:

    >>> Permission.INTERNATIONAL > Permission.LOCAL
    True
    >>> Permission.LOCAL.allows(Permission.NATIONAL)
    False
    """

    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"

    @property
    def rank(self) -> int:
        """0 for internal up to 3 for international."""
        return list(Permission).index(self)

    def allows(self, needed: Permission) -> bool:
        """Whether a user with this permission may place a call that needs ``needed``."""
        return self.rank >= needed.rank

    def __lt__(self, other: str) -> bool:
        if isinstance(other, Permission):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: str) -> bool:
        if isinstance(other, Permission):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: str) -> bool:
        if isinstance(other, Permission):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: str) -> bool:
        if isinstance(other, Permission):
            return self.rank >= other.rank
        return NotImplemented


class Vendor(StrEnum):
    """Desk phone makers we provision."""

    YEALINK = "yealink"
    POLYCOM = "polycom"
    GRANDSTREAM = "grandstream"
    CISCO = "cisco"
    SNOM = "snom"


class Strategy(StrEnum):
    """How a group rings: all members at once, or one after the other in list order."""

    RINGALL = "ringall"
    LINEAR = "linear"


class Transport(StrEnum):
    """SIP transport towards a trunk."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


# --- field types -------------------------------------------------------------------------------
# Each pairs pydantic's strict base type with the allow-list check from values.py.

Extension = Annotated[StrictStr, AfterValidator(values.extension)]
GroupNumber = Annotated[StrictStr, AfterValidator(values.group_number)]
EmergencyNumber = Annotated[StrictStr, AfterValidator(values.emergency_number)]
E164 = Annotated[StrictStr, AfterValidator(values.e164)]
Name = Annotated[StrictStr, AfterValidator(values.name)]
Host = Annotated[StrictStr, AfterValidator(values.host)]
Mac = Annotated[StrictStr, AfterValidator(values.mac)]
VlanId = Annotated[StrictInt, AfterValidator(values.between(1, 4094, "VLAN id"))]
Seconds = Annotated[StrictInt, AfterValidator(values.between(5, 300, "number of seconds"))]
PermissionField = Annotated[Permission, BeforeValidator(values.one_of(Permission, "permission"))]


def _destination(value: object, info: ValidationInfo) -> Destination:
    if isinstance(value, DESTINATION_TYPES):
        return value
    if not isinstance(value, str):
        raise values.needs_text()
    context = info.context
    directory = context.directory if isinstance(context, LoadContext) else None
    return parse_destination(value, directory)


DestinationField = Annotated[
    Destination, PlainValidator(_destination), PlainSerializer(str, return_type=str)
]


@dataclass(frozen=True)
class LoadContext:
    """What the loader hands pydantic (as ``context``) while validating a site file.

    ``directory`` resolves bare digits in destinations. ``defer_site_checks`` tells
    :class:`Site` not to run the cross-reference checks itself: the loader runs them, so it can
    place each problem on its own line instead of one error for the whole site.
    """

    directory: Directory
    defer_site_checks: bool = True


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- site and network --------------------------------------------------------------------------


class SiteInfo(_Model):
    """The office itself: ``{name: Acme HQ, domain: pbx.acme.example, timezone: Europe/Paris}``."""

    name: Name
    domain: Annotated[StrictStr, AfterValidator(values.dns_name)]
    timezone: Annotated[StrictStr, AfterValidator(values.timezone)]
    ntp: tuple[Host, ...] = ()


class VoiceVlan(_Model):
    """The 802.1Q VLAN phones put voice on, with its 802.1p priority: ``{id: 20, priority: 5}``."""

    id: VlanId
    priority: Annotated[StrictInt, AfterValidator(values.between(0, 7, "802.1p priority"))] = 5


class Network(_Model):
    """What phones learn about the LAN when they are provisioned."""

    voice_vlan: VoiceVlan | None = None
    pc_port_vlan: VlanId | None = None
    provisioning_url: Annotated[StrictStr, AfterValidator(values.http_url)] | None = None


# --- users -------------------------------------------------------------------------------------


class Forward(_Model):
    """Call forwarding: ``{busy: "1002", no_answer: voicemail, after_seconds: 20}``."""

    always: DestinationField | None = None
    busy: DestinationField | None = None
    no_answer: DestinationField | None = None
    after_seconds: Seconds = 20


def _own_mailbox(fields: dict[Any, Any], owner: object, targets: tuple[str, ...]) -> dict[Any, Any]:
    """Replace ``voicemail`` alone in ``fields[targets]`` with the owner's own mailbox."""
    try:
        mailbox: VoicemailDest | None = VoicemailDest(owner) if isinstance(owner, str) else None
    except ValueError:
        # The owner's number is invalid and is reported on its own; a second error about the
        # mailbox would only be noise, and this model fails to validate anyway.
        mailbox = None
    return {
        key: (mailbox if key in targets and value == VOICEMAIL else value)
        for key, value in fields.items()
    }


class User(_Model):
    """A person with an extension::

    {extension: "1001", name: Alice Martin, permissions: national,
     forward: {busy: "1002", no_answer: voicemail}}
    """

    extension: Extension
    name: Name
    email: Annotated[StrictStr, AfterValidator(values.email)] | None = None
    permissions: PermissionField = Permission.INTERNAL
    voicemail: StrictBool = True
    dnd: StrictBool = False
    forward: Forward = Forward()
    webrtc: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _voicemail_means_own_mailbox(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("forward"), dict):
            targets = ("always", "busy", "no_answer")
            forward = _own_mailbox(data["forward"], data.get("extension"), targets)
            return {**data, "forward": forward}
        return data


# --- phones ------------------------------------------------------------------------------------


class BlfKey(_Model):
    """A busy-lamp key that shows a colleague's state and calls them: ``{blf: "1002"}``."""

    blf: Extension


class SpeedDialKey(_Model):
    """A key that dials a number: ``{speed_dial: "+33123456789", label: Head office}``."""

    speed_dial: Annotated[StrictStr, AfterValidator(values.dialable)]
    label: Name


def _key_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [kind for kind in ("blf", "speed_dial") if kind in value]
        if len(kinds) == 1:
            return "BlfKey" if kinds == ["blf"] else "SpeedDialKey"
    elif isinstance(value, BlfKey | SpeedDialKey):
        return type(value).__name__
    return None


PhoneKey = Annotated[
    Annotated[BlfKey, Tag("BlfKey")] | Annotated[SpeedDialKey, Tag("SpeedDialKey")],
    Discriminator(
        _key_kind,
        custom_error_type="phone_key",
        custom_error_message=(
            'a key is either {blf: "1002"} or {speed_dial: "+33123456789", label: Reception}'
        ),
    ),
]
UNION_TAGS = frozenset({"BlfKey", "SpeedDialKey"})
"""Names pydantic puts into error locations for the key union; the loader drops them."""


class Phone(_Model):
    """A desk phone, found by its MAC when it asks for its configuration::

    {mac: "00:15:65:12:34:56", vendor: yealink, model: T54W, lines: ["1001"],
     keys: [{blf: "1002"}]}
    """

    mac: Mac
    vendor: Annotated[Vendor, BeforeValidator(values.one_of(Vendor, "vendor"))]
    model: Annotated[StrictStr, AfterValidator(values.phone_model)]
    lines: Annotated[
        tuple[Extension, ...], AfterValidator(values.not_empty("a phone needs at least one line"))
    ]
    keys: tuple[PhoneKey, ...] = ()


# --- groups ------------------------------------------------------------------------------------


class Group(_Model):
    """A ring group: ``{number: "600", name: Sales, members: ["1001", "1002"]}``."""

    number: GroupNumber
    name: Name
    strategy: Annotated[Strategy, BeforeValidator(values.one_of(Strategy, "strategy"))] = (
        Strategy.RINGALL
    )
    members: Annotated[
        tuple[Extension, ...], AfterValidator(values.not_empty("a group needs at least one member"))
    ]
    ring_seconds: Seconds = 20
    fallback: DestinationField | None = None

    @model_validator(mode="before")
    @classmethod
    def _voicemail_means_group_mailbox(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return _own_mailbox(data, data.get("number"), ("fallback",))
        return data


# --- trunks ------------------------------------------------------------------------------------


class Did(_Model):
    """A number the provider routes to us, and where its calls go::

    {number: "+33123456789", to: group:600}
    """

    number: E164
    to: DestinationField


# pydantic warns that a field named "register" shadows ABCMeta.register, which only exists on
# the class, never on instances: trunk.register is the field. The site file's key is
# "register", so the name stays and the warning is silenced here alone.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", 'Field name "register"', UserWarning)

    class Trunk(_Model):
        """The SIP trunk to the provider, through the SBC. The password stays in the environment."""

        name: Annotated[StrictStr, AfterValidator(values.trunk_name)]
        host: Host
        port: Annotated[StrictInt, AfterValidator(values.between(1, 65535, "port"))] | None = None
        transport: Annotated[Transport, BeforeValidator(values.one_of(Transport, "transport"))] = (
            Transport.UDP
        )
        username: Annotated[StrictStr, AfterValidator(values.sip_username)] | None = None
        password_env: Annotated[StrictStr, AfterValidator(values.env_name)] | None = None
        register: StrictBool = False
        outbound_caller_id: E164 | None = None
        dids: tuple[Did, ...] = ()


# --- dialing -----------------------------------------------------------------------------------


class Dialing(_Model):
    """How people dial out: ``{emergency: ["112"], national_prefix: "0", ...}``.

    ``country_code`` lets the router turn ``0123456789`` into ``+33123456789``.
    """

    emergency: Annotated[
        tuple[EmergencyNumber, ...],
        AfterValidator(values.not_empty("a site needs at least one emergency number")),
    ] = ("112",)
    national_prefix: Annotated[StrictStr, AfterValidator(values.prefix)] = "0"
    international_prefix: Annotated[StrictStr, AfterValidator(values.prefix)] = "00"
    country_code: Annotated[StrictStr, AfterValidator(values.country_code)] | None = None


# --- the site ----------------------------------------------------------------------------------


class Site(_Model):
    """The whole office. Everything in it has been checked, references included."""

    site: SiteInfo
    network: Network = Network()
    users: tuple[User, ...]
    phones: tuple[Phone, ...] = ()
    groups: tuple[Group, ...] = ()
    trunks: tuple[Trunk, ...] = ()
    dialing: Dialing = Dialing()

    def user(self, extension: str) -> User | None:
        """The user with this extension: ``site.user("1001")``."""
        return next((u for u in self.users if u.extension == extension), None)

    def group(self, number: str) -> Group | None:
        """The group with this number: ``site.group("600")``."""
        return next((g for g in self.groups if g.number == number), None)

    def trunk(self, name: str) -> Trunk | None:
        """The trunk with this name: ``site.trunk("provider")``."""
        return next((t for t in self.trunks if t.name == name), None)

    def directory(self) -> Directory:
        """The internal numbers, as destinations are resolved against them."""
        return Directory(
            users={user.extension: user.voicemail for user in self.users},
            groups=frozenset(group.number for group in self.groups),
        )

    @model_validator(mode="after")
    def _references_hold(self, info: ValidationInfo) -> Self:
        context = info.context
        if isinstance(context, LoadContext) and context.defer_site_checks:
            return self
        # Imported here: the checks read these models, so checks.py imports this module.
        from pbx_ext.site.checks import Parts, site_problems
        from pbx_ext.site.messages import dotted

        problems = site_problems(Parts.of(self), self.directory(), dotted)
        if problems:
            raise ValueError("; ".join(f"{dotted(path)}: {message}" for path, message in problems))
        return self
