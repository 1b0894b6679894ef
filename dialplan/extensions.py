"""extensions.conf: every call enters the pbx-ext Stasis app, with a plain fallback.

Rules the generated dialplan follows:

- A call from a user's device lands in ``pbx-users``; from a trunk, in ``pbx-trunk``. Only
  dialed strings made of ``0-9 * # +`` go further; anything else (``1001&PJSIP/x``,
  ``1001,30``, letters) is hung up with cause 1, which pjsip sends as ``404 Not Found``, so
  nothing the caller typed ever reaches a dial string.
- The call goes to ``Stasis(<app>,user|trunk,<endpoint>)``. The endpoint argument comes from
  Asterisk (``CHANNEL(endpoint)``), not from anything the caller sent.
- ``Stasis()`` fails at once (``STASISSTATUS=FAILED``) when the app is not connected. Then the
  call goes to a plain fallback: users and groups are dialed with ``Dial()``, emergency
  numbers go out the first trunk, DIDs reach their user or group. Outside calls other than
  emergency need the app (it enforces per-user permissions) and are refused with cause 34
  (``503``) while it is down. In the fallback, linear groups ring all members at once.
"""

from __future__ import annotations

from pbx_ext.app.routing import did_spellings
from pbx_ext.conffile import ConfFile, Option, Section
from pbx_ext.site import Destination, ExternalDest, GroupDest, Site, UserDest, VoicemailDest

DIALABLE = "0123456789*#+"
USERS_CONTEXT = "pbx-users"
TRUNK_CONTEXT = "pbx-trunk"
FALLBACK_USERS = "pbx-fallback-users"
FALLBACK_DIDS = "pbx-fallback-dids"
DIAL_SUB = "pbx-dial"

# Q.850 causes, as pjsip maps them to SIP responses.
CAUSE_UNALLOCATED = 1  # 404 Not Found
CAUSE_NO_ANSWER = 19  # 480 Temporarily Unavailable
CAUSE_SUBSCRIBER_ABSENT = 20  # 480 Temporarily Unavailable
CAUSE_NO_CIRCUIT = 34  # 503 Service Unavailable


def _exten(pattern: str, steps: list[str]) -> list[Option]:
    """``exten => pattern,1,step0`` then ``same => n,...`` for the rest."""
    lines: list[Option] = [("exten", f"{pattern},1,{steps[0]}")]
    lines.extend(
        ("same", f"n{step}" if step.startswith("(") else f"n,{step}") for step in steps[1:]
    )
    return lines


def _entry(app: str, kind: str, fallback: str) -> list[Option]:
    """Guard the dialed string, enter Stasis, fall back to plain dialplan if the app is down."""
    steps = [
        f"GotoIf($[${{LEN(${{FILTER({DIALABLE},${{EXTEN}})}})}} != ${{LEN(${{EXTEN}})}}]?reject)",
        f"Stasis({app},{kind},${{CHANNEL(endpoint)}})",
        f'GotoIf($["${{STASISSTATUS}}" = "FAILED"]?{fallback},${{EXTEN}},1)',
        "Hangup()",
        f"(reject),Hangup({CAUSE_UNALLOCATED})",
    ]
    # Every dialed string that starts with a dialable character enters; the guard rejects
    # the rest of it character by character.
    return [*_exten("_[0-9*#+].", steps), *_exten("_[0-9*#+]", steps)]


def _dial_steps(site: Site, dest: Destination) -> list[str]:
    """Plain-dialplan steps that reach ``dest`` while the app is down."""
    match dest:
        case UserDest(extension=ext):
            return [f"Goto({FALLBACK_USERS},{ext},1)"]
        case GroupDest(number=number):
            return [f"Goto({FALLBACK_USERS},{number},1)"]
        case VoicemailDest() | ExternalDest():
            # Voicemail and outside numbers are served by the app only.
            return [f"Hangup({CAUSE_NO_CIRCUIT})"]
    raise AssertionError(dest)


def _fallback_users(site: Site) -> Section:
    lines: list[Option] = []
    for user in site.users:
        seconds = user.forward.after_seconds
        lines += _exten(user.extension, [f"Gosub({DIAL_SUB},s,1({user.extension},{seconds}))"])
    for group in site.groups:
        members = "&".join(group.members)
        lines += _exten(group.number, [f"Gosub({DIAL_SUB},s,1({members},{group.ring_seconds}))"])
    trunk = site.trunks[0] if site.trunks else None
    if trunk is not None:
        for number in site.dialing.emergency:
            caller = trunk.outbound_caller_id
            steps = [f"Set(CALLERID(num)={caller})"] if caller else []
            steps.append(f"Dial(PJSIP/{number}@trunk-{trunk.name})")
            steps.append(f"Hangup({CAUSE_NO_CIRCUIT})")
            lines += _exten(number, steps)
    lines += _exten("_[0-9*#+].", [f"Hangup({CAUSE_NO_CIRCUIT})"])
    return Section(
        FALLBACK_USERS,
        tuple(lines),
        arrow=True,
        comment="Used only while the pbx-ext app is down: users, groups and emergency numbers.",
    )


def _fallback_dids(site: Site) -> Section:
    lines: list[Option] = []
    seen: set[str] = set()
    for trunk in site.trunks:
        for did in trunk.dids:
            for spelling in did_spellings(did.number, site.dialing):
                if spelling not in seen:
                    seen.add(spelling)
                    lines += _exten(spelling, _dial_steps(site, did.to))
    lines += _exten("_[0-9*#+].", [f"Hangup({CAUSE_UNALLOCATED})"])
    return Section(
        FALLBACK_DIDS,
        tuple(lines),
        arrow=True,
        comment="Used only while the pbx-ext app is down: DIDs to their user or group.",
    )


def _dial_sub() -> Section:
    # ARG1: extensions joined by '&'; ARG2: ring seconds. Rings every registered contact
    # of every extension (PJSIP_DIAL_CONTACTS), skipping extensions with none.
    steps = [
        "Set(LOCAL(targets)=)",
        "Set(LOCAL(i)=1)",
        "(next),Set(LOCAL(ext)=${CUT(ARG1,&,${i})})",
        'GotoIf($["${ext}" = ""]?dial)',
        "Set(LOCAL(contacts)=${PJSIP_DIAL_CONTACTS(${ext})})",
        'ExecIf($["${contacts}" != ""]?Set(LOCAL(targets)=${targets}&${contacts}))',
        "Set(LOCAL(i)=$[${i} + 1])",
        "Goto(next)",
        '(dial),GotoIf($["${targets}" = ""]?absent)',
        "Dial(${targets:1},${ARG2})",
        'GotoIf($["${DIALSTATUS}" = "BUSY"]?busy)',
        f'ExecIf($["${{DIALSTATUS}}" = "NOANSWER"]?Hangup({CAUSE_NO_ANSWER}))',
        "Hangup()",
        f"(absent),Hangup({CAUSE_SUBSCRIBER_ABSENT})",
        "(busy),Busy(5)",
    ]
    return Section(DIAL_SUB, tuple(_exten("s", steps)), arrow=True)


def generate_extensions(site: Site, app: str, header: str) -> str:
    sections = (
        Section(
            "general",
            (("static", "yes"), ("writeprotect", "yes"), ("clearglobalvars", "yes")),
        ),
        Section("globals", ()),
        Section(
            USERS_CONTEXT,
            tuple(_entry(app, "user", FALLBACK_USERS)),
            arrow=True,
            comment="Calls from users' phones and softphones.",
        ),
        Section(
            TRUNK_CONTEXT,
            tuple(_entry(app, "trunk", FALLBACK_DIDS)),
            arrow=True,
            comment="Calls from a trunk (identified by its address only).",
        ),
        _fallback_users(site),
        _fallback_dids(site),
        _dial_sub(),
    )
    return ConfFile(header, sections).render()
