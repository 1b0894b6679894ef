"""Rules that span several entries of the site: numbering, references, duplicates.

Single values are checked by the models; what is left needs the whole site:

- each internal number (user extension, group number, emergency number) is used once;
- phone lines, BLF keys, group members and destinations name users and groups that exist,
  and a ``voicemail:X`` destination names a mailbox that exists;
- no forwarding or fallback loops (a call would bounce between users until Asterisk gives up);
- MACs, trunk names and DIDs are unique; a registering trunk has its credentials.

The checks run on :class:`Parts`, not on a :class:`~pbx_ext.site.model.Site`, so the loader can
run them on the entries that did validate when others did not, and report both kinds of
problem at once. Each problem is ``(path, message)``; ``where`` renders the path of another
entry a message refers to ("users[0].extension (line 4)" when loading a file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pbx_ext.site.destinations import (
    Destination,
    Directory,
    GroupDest,
    UserDest,
    VoicemailDest,
)
from pbx_ext.site.messages import Path, show
from pbx_ext.site.model import BlfKey, Dialing, Group, Network, Phone, Site, Trunk, User

Finding = tuple[Path, str]
Where = Callable[[Path], str]


@dataclass(frozen=True)
class Parts:
    """The entries to check, each with its position in the file's list."""

    users: Sequence[tuple[int, User]] = ()
    phones: Sequence[tuple[int, Phone]] = ()
    groups: Sequence[tuple[int, Group]] = ()
    trunks: Sequence[tuple[int, Trunk]] = ()
    dialing: Dialing | None = None
    network: Network | None = None

    @classmethod
    def of(cls, site: Site) -> Parts:
        """All the entries of a complete site."""
        return cls(
            users=list(enumerate(site.users)),
            phones=list(enumerate(site.phones)),
            groups=list(enumerate(site.groups)),
            trunks=list(enumerate(site.trunks)),
            dialing=site.dialing,
            network=site.network,
        )


def site_problems(parts: Parts, directory: Directory, where: Where) -> list[Finding]:
    """Every cross-entry problem, grouped by rule."""
    return [
        *_numbering(parts, where),
        *_users(parts.users, directory),
        *_phones(parts.phones, directory, where),
        *_groups(parts.groups, directory),
        *_trunks(parts.trunks, directory, where),
        *_network(parts.network),
    ]


class _Unique:
    """Remembers where each value was first seen, to name it when it comes again."""

    def __init__(self, where: Where) -> None:
        self._first: dict[str, Path] = {}
        self._where = where

    def clash(self, value: str, path: Path) -> str | None:
        """``None`` the first time; after that, where the value was first seen."""
        first = self._first.setdefault(value, path)
        return None if first == path else self._where(first)


def _numbering(parts: Parts, where: Where) -> Iterator[Finding]:
    """One owner per internal number: you dial a number, you reach one thing."""
    emergency = _Unique(where)
    for k, number in enumerate(parts.dialing.emergency if parts.dialing else ()):
        path: Path = ("dialing", "emergency", k)
        if first := emergency.clash(number, path):
            yield path, f"{show(number)} is listed twice (first at {first})"
    taken = _Unique(where)
    numbers = [(("users", i, "extension"), u.extension) for i, u in parts.users] + [
        (("groups", i, "number"), g.number) for i, g in parts.groups
    ]
    for path, number in numbers:
        if parts.dialing and number in parts.dialing.emergency:
            emergency_path = ("dialing", "emergency", parts.dialing.emergency.index(number))
            message = f"{show(number)} is an emergency number ({where(emergency_path)})"
            yield path, message + "; choose another number"
        elif first := taken.clash(number, path):
            yield path, f"{show(number)} is already used by {first}"


def _destination(dest: Destination, path: Path, directory: Directory) -> Iterator[Finding]:
    match dest:
        case UserDest(extension=extension) if extension not in directory.users:
            yield path, _no_user(extension)
        case GroupDest(number=number) if number not in directory.groups:
            yield path, f"there is no group {show(number)}"
        case VoicemailDest(mailbox=mailbox) if not directory.has_mailbox(mailbox):
            if mailbox in directory.users:
                yield path, f"user {show(mailbox)} has voicemail: false, so no mailbox to send to"
            else:
                yield path, f"there is no mailbox {show(mailbox)} (no user or group has it)"
        case _:
            pass


def _users(users: Sequence[tuple[int, User]], directory: Directory) -> Iterator[Finding]:
    always: dict[str, str] = {}
    position: dict[str, int] = {}
    for i, user in users:
        forward = user.forward
        position.setdefault(user.extension, i)
        for key, dest in (
            ("always", forward.always),
            ("busy", forward.busy),
            ("no_answer", forward.no_answer),
        ):
            path: Path = ("users", i, "forward", key)
            if dest is None:
                continue
            if dest == UserDest(user.extension):
                yield path, f"forwards {show(user.extension)} to itself"
                continue
            yield from _destination(dest, path, directory)
        if isinstance(forward.always, UserDest):
            always.setdefault(user.extension, forward.always.extension)
    for cycle in _cycles(always):
        first = min(cycle, key=position.__getitem__)
        loop = " → ".join([*_rotate(cycle, first), first])
        yield ("users", position[first], "forward", "always"), f"forwarding loop: {loop}"


def _phones(
    phones: Sequence[tuple[int, Phone]], directory: Directory, where: Where
) -> Iterator[Finding]:
    macs = _Unique(where)
    for i, phone in phones:
        if first := macs.clash(phone.mac, ("phones", i, "mac")):
            yield ("phones", i, "mac"), f"MAC {phone.mac} is already {first}"
        lines = _Unique(lambda path: f"lines[{path[-1]}]")
        for k, line in enumerate(phone.lines):
            path: Path = ("phones", i, "lines", k)
            if line not in directory.users:
                yield path, _no_user(line)
            elif first_line := lines.clash(line, path):
                yield path, f"{show(line)} is already on this phone at {first_line}"
        for k, key in enumerate(phone.keys):
            if isinstance(key, BlfKey) and key.blf not in directory.users:
                yield ("phones", i, "keys", k, "blf"), _no_user(key.blf)


def _groups(groups: Sequence[tuple[int, Group]], directory: Directory) -> Iterator[Finding]:
    fallback_to: dict[str, str] = {}
    position: dict[str, int] = {}
    for i, group in groups:
        position.setdefault(group.number, i)
        members = _Unique(lambda path: f"members[{path[-1]}]")
        for k, member in enumerate(group.members):
            path: Path = ("groups", i, "members", k)
            if member not in directory.users:
                yield path, _no_user(member)
            elif first := members.clash(member, path):
                yield path, f"{show(member)} is already a member at {first}"
        if group.fallback is None:
            continue
        fallback_path: Path = ("groups", i, "fallback")
        if group.fallback == GroupDest(group.number):
            yield fallback_path, f"group {show(group.number)} falls back to itself"
            continue
        yield from _destination(group.fallback, fallback_path, directory)
        if isinstance(group.fallback, GroupDest):
            fallback_to.setdefault(group.number, group.fallback.number)
    for cycle in _cycles(fallback_to):
        first = min(cycle, key=position.__getitem__)
        loop = " → ".join(f"group:{n}" for n in [*_rotate(cycle, first), first])
        yield ("groups", position[first], "fallback"), f"fallback loop: {loop}"


def _trunks(
    trunks: Sequence[tuple[int, Trunk]], directory: Directory, where: Where
) -> Iterator[Finding]:
    names = _Unique(where)
    dids = _Unique(where)
    for i, trunk in trunks:
        if first := names.clash(trunk.name, ("trunks", i, "name")):
            yield ("trunks", i, "name"), f"trunk name {show(trunk.name)} is already {first}"
        # Registering means signing in: without both, the provider refuses every attempt.
        credentials = {"username": trunk.username, "password_env": trunk.password_env}
        missing = [key for key, value in credentials.items() if value is None]
        if trunk.register and missing:
            yield ("trunks", i, "register"), "register: true needs " + " and ".join(missing)
        for k, did in enumerate(trunk.dids):
            path: Path = ("trunks", i, "dids", k, "number")
            if first_did := dids.clash(did.number, path):
                yield path, f"DID {did.number} is already routed by {first_did}"
            yield from _destination(did.to, ("trunks", i, "dids", k, "to"), directory)


def _network(network: Network | None) -> Iterator[Finding]:
    if network and network.voice_vlan and network.pc_port_vlan == network.voice_vlan.id:
        # The PC port VLAN exists to keep the PC's traffic off the voice VLAN.
        message = f"the PC port VLAN must differ from the voice VLAN ({network.voice_vlan.id})"
        yield ("network", "pc_port_vlan"), message


def _no_user(extension: str) -> str:
    return f"there is no user with extension {show(extension)}"


def _cycles(edges: Mapping[str, str]) -> list[list[str]]:
    """Loops in a graph where each node has at most one successor (self-loops excluded).

    Linear time: each node is walked once, so a long forwarding chain stays cheap.

    >>> _cycles({"a": "b", "b": "c", "c": "a", "d": "a", "e": "e"})
    [['a', 'b', 'c']]
    """
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in edges:
        walk: list[str] = []
        on_walk: set[str] = set()
        node = start
        while node in edges and node not in done and node not in on_walk:
            walk.append(node)
            on_walk.add(node)
            node = edges[node]
        if node in on_walk:
            cycle = walk[walk.index(node) :]
            if len(cycle) > 1:
                cycles.append(cycle)
        done.update(walk)
    return cycles


def _rotate(cycle: list[str], first: str) -> list[str]:
    """The same cycle, starting at ``first``."""
    index = cycle.index(first)
    return cycle[index:] + cycle[:index]
