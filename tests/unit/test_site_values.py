"""Single values: types, YAML 1.1 traps, ranges, formats, and what may reach Asterisk.

Each test writes a small site with one questionable value and reads the problem lines back.
"""

from __future__ import annotations

import pytest

from pbx_ext.errors import SiteError
from pbx_ext.site import Site, parse_site

SITE = "site: {name: Lab, domain: lab.example, timezone: UTC}\n"
USERS = 'users:\n  - {extension: "1001", name: Alice}\n  - {extension: "1002", name: Bob}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(SiteError) as caught:
        parse_site(text, "site.yaml")
    return caught.value.problems


def valid(text: str) -> Site:
    return parse_site(text, "site.yaml")


def one_problem(text: str) -> str:
    """The single problem's path and message, without the position."""
    (line,) = problems(text)
    return line.split(": ", 1)[1]


def user(fields: str) -> str:
    """A site whose third user has these extra fields (flow style, after the name)."""
    return SITE + USERS + f'  - {{extension: "1003", name: Carol, {fields}}}\n'


def phone(fields: str) -> str:
    return SITE + USERS + f"phones:\n  - {{{fields}}}\n"


def trunk(fields: str) -> str:
    return SITE + USERS + f"trunks:\n  - {{name: provider, host: sbc.example, {fields}}}\n"


# --- YAML 1.1 traps: numbers where text is needed ------------------------------------------------


def test_unquoted_extension_with_leading_zero() -> None:
    text = SITE + "users:\n  - extension: 0123\n    name: Alice\n"
    assert problems(text) == [
        "site.yaml:3:16: users[0].extension: 0123 was read as the number 83; "
        'write it in quotes: "0123"'
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "extension: 1001, name: Alice",
            'users[0].extension: 1001 was read as a number; write it in quotes: "1001"',
        ),
        (
            "extension: 12:30, name: Alice",
            'users[0].extension: 12:30 was read as the number 750; write it in quotes: "12:30"',
        ),
        (
            "extension: 1_000, name: Alice",
            'users[0].extension: 1_000 was read as the number 1000; write it in quotes: "1_000"',
        ),
        (
            "extension: '1001', name: yes",
            'users[0].name: yes was read as true; write it in quotes: "yes"',
        ),
        (
            "extension: '1001', name: ~",
            'users[0].name: ~ was read as null; write it in quotes: "~"',
        ),
        (
            "extension: '1001', name: 2024-01-02",
            "users[0].name: 2024-01-02 was read as the date 2024-01-02; "
            'write it in quotes: "2024-01-02"',
        ),
        (
            "extension: '1001', name: 1.5",
            'users[0].name: 1.5 was read as a number; write it in quotes: "1.5"',
        ),
        ("extension: , name: Alice", "users[0].extension: no value given"),
        ("extension: [1001], name: Alice", "users[0].extension: expected text, got a list"),
    ],
)
def test_text_fields_refuse_what_yaml_did_not_read_as_text(fields: str, expected: str) -> None:
    assert one_problem(SITE + f"users:\n  - {{{fields}}}\n") == expected


def test_unquoted_did_mac_and_number_fields() -> None:
    text = (
        SITE
        + USERS
        + (
            "phones:\n  - {mac: 12:34:56:12:34:56, vendor: snom, model: D785, lines: ['1001']}\n"
            "groups:\n  - {number: 600, name: Sales, members: ['1001']}\n"
            "trunks:\n  - name: provider\n    host: sbc.example\n"
            "    dids: [{number: +33123456789, to: '1001'}]\n"
        )
    )
    assert problems(text) == [
        "site.yaml:6:11: phones[0].mac: 12:34:56:12:34:56 was read as the number 9783981296; "
        'write it in quotes: "12:34:56:12:34:56"',
        'site.yaml:8:14: groups[0].number: 600 was read as a number; write it in quotes: "600"',
        "site.yaml:12:21: trunks[0].dids[0].number: +33123456789 was read as the number "
        '33123456789; write it in quotes: "+33123456789"',
    ]


def test_unquoted_destination_is_refused_too() -> None:
    assert one_problem(user("forward: {busy: 1002}")) == (
        'users[2].forward.busy: 1002 was read as a number; write it in quotes: "1002"'
    )


def test_keys_are_read_as_written() -> None:
    # YAML 1.1 would make the key "on" True; the site loader keeps it as the word.
    assert one_problem(user("on: x")) == (
        "users[2].on: unknown key 'on'; allowed keys: extension, name, email, permissions, "
        "voicemail, dnd, forward, webrtc"
    )


# --- strict types: no silent conversion ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            user('voicemail: "yes"'),
            "users[2].voicemail: expected true or false, got the text 'yes'",
        ),
        (user("dnd: 1"), "users[2].dnd: expected true or false, got 1"),
        (trunk('port: "5060"'), "trunks[0].port: expected a whole number, got the text '5060'"),
        (trunk("port: 5060.0"), "trunks[0].port: expected a whole number, got 5060.0"),
        (trunk("port: true"), "trunks[0].port: expected a whole number, got true"),
        (SITE + USERS + "network: 5\n", "network: expected a mapping (key: value lines), got 5"),
        (
            SITE + USERS + "network:\n",
            "network: expected a mapping (key: value lines), got nothing",
        ),
        (SITE + 'users: {extension: "1001"}\n', "users: expected a list, got a mapping"),
        (
            phone('mac: "001565123456", vendor: snom, model: D785, lines: "1001"'),
            "phones[0].lines: expected a list, got the text '1001'",
        ),
    ],
)
def test_wrong_types_are_refused(text: str, expected: str) -> None:
    assert one_problem(text) == expected


# --- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("voice_vlan: {id: 0}", "network.voice_vlan.id: 0 is not a valid VLAN id (1 to 4094)"),
        (
            "voice_vlan: {id: 4095}",
            "network.voice_vlan.id: 4095 is not a valid VLAN id (1 to 4094)",
        ),
        (
            "voice_vlan: {id: 20, priority: 8}",
            "network.voice_vlan.priority: 8 is not a valid 802.1p priority (0 to 7)",
        ),
        (
            "voice_vlan: {id: 20, priority: -1}",
            "network.voice_vlan.priority: -1 is not a valid 802.1p priority (0 to 7)",
        ),
        ("pc_port_vlan: 5000", "network.pc_port_vlan: 5000 is not a valid VLAN id (1 to 4094)"),
    ],
)
def test_vlan_ranges(network: str, expected: str) -> None:
    assert one_problem(SITE + USERS + f"network: {{{network}}}\n") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (trunk("port: 0"), "trunks[0].port: 0 is not a valid port (1 to 65535)"),
        (trunk("port: 65536"), "trunks[0].port: 65536 is not a valid port (1 to 65535)"),
        (
            user("forward: {after_seconds: 4}"),
            "users[2].forward.after_seconds: 4 is not a valid number of seconds (5 to 300)",
        ),
        (
            user("forward: {after_seconds: 301}"),
            "users[2].forward.after_seconds: 301 is not a valid number of seconds (5 to 300)",
        ),
    ],
)
def test_port_and_seconds_ranges(text: str, expected: str) -> None:
    assert one_problem(text) == expected


def test_group_ring_seconds_range() -> None:
    text = (
        SITE
        + USERS
        + "groups:\n  - {number: '600', name: Sales, members: ['1001'], ring_seconds: 400}\n"
    )
    assert problems(text) == [
        "site.yaml:6:67: groups[0].ring_seconds: 400 is not a valid number of seconds (5 to 300)"
    ]


def test_range_edges_are_accepted() -> None:
    site = valid(
        SITE + USERS + "network: {voice_vlan: {id: 4094, priority: 0}, pc_port_vlan: 1}\n"
        "trunks:\n  - {name: provider, host: sbc.example, port: 65535}\n"
    )
    assert site.network.voice_vlan is not None
    assert (site.network.voice_vlan.id, site.network.voice_vlan.priority) == (4094, 0)
    assert site.trunks[0].port == 65535


# --- extensions and numbers ----------------------------------------------------------------------


def test_extension_digits_only() -> None:
    text = SITE + "users:\n  - extension: '10a1'\n    name: Alice\n"
    assert problems(text) == [
        "site.yaml:3:16: users[0].extension: '10a1' is not a valid extension (digits only)"
    ]


@pytest.mark.parametrize("extension", ["1", "123456789"])
def test_extension_length(extension: str) -> None:
    text = SITE + f"users:\n  - {{extension: '{extension}', name: Alice}}\n"
    assert one_problem(text) == (
        f"users[0].extension: '{extension}' is not a valid extension (2 to 8 digits)"
    )


@pytest.mark.parametrize("extension", ["10", "12345678"])
def test_extension_length_edges_are_accepted(extension: str) -> None:
    assert valid(SITE + f"users:\n  - {{extension: '{extension}', name: A}}\n").users[0].extension


@pytest.mark.parametrize(
    ("dialing", "expected"),
    [
        ("emergency: []", "dialing.emergency: a site needs at least one emergency number"),
        (
            "emergency: ['1']",
            "dialing.emergency[0]: '1' is not a valid emergency number (2 to 8 digits)",
        ),
        (
            "national_prefix: '0x'",
            "dialing.national_prefix: '0x' is not a valid prefix (1 to 4 digits)",
        ),
        (
            "international_prefix: '00000'",
            "dialing.international_prefix: '00000' is not a valid prefix (1 to 4 digits)",
        ),
        (
            "country_code: '033'",
            "dialing.country_code: '033' is not a country code "
            "(1 to 3 digits, not starting with 0, e.g. '33')",
        ),
        (
            "country_code: '3333'",
            "dialing.country_code: '3333' is not a country code "
            "(1 to 3 digits, not starting with 0, e.g. '33')",
        ),
    ],
)
def test_dialing_values(dialing: str, expected: str) -> None:
    assert one_problem(SITE + USERS + f"dialing: {{{dialing}}}\n") == expected


# --- E.164 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["33123456789", "+0123456789", "+3312345", "+1234567890123456", "+33 1 23 45 67 89"]
)
def test_did_must_be_e164(number: str) -> None:
    assert one_problem(trunk(f"dids: [{{number: '{number}', to: '1001'}}]")) == (
        f"trunks[0].dids[0].number: '{number}' is not an E.164 number "
        "('+', then 8 to 15 digits, the first not 0)"
    )


def test_outbound_caller_id_must_be_e164() -> None:
    assert one_problem(trunk("outbound_caller_id: '0123456700'")) == (
        "trunks[0].outbound_caller_id: '0123456700' is not an E.164 number "
        "('+', then 8 to 15 digits, the first not 0)"
    )


@pytest.mark.parametrize("number", ["+12345678", "+123456789012345"])
def test_e164_length_edges_are_accepted(number: str) -> None:
    assert valid(trunk(f"outbound_caller_id: '{number}'")).trunks[0].outbound_caller_id == number


# --- MAC addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mac",
    [
        "00:15:65:12:34:56",
        "00-15-65-12-34-56",
        "001565123456",
        "00:15:65:12:34:56".upper(),
        "0015.6512.3456",
    ],
)
def test_mac_notations_are_normalised(mac: str) -> None:
    site = valid(phone(f"mac: '{mac}', vendor: yealink, model: T54W, lines: ['1001']"))
    assert site.phones[0].mac == "001565123456"


@pytest.mark.parametrize(
    ("mac", "reason"),
    [
        ("00:15:65:12:34", "is not a MAC address (write it like '00:15:65:12:34:56')"),
        ("00:15-65:12:34:56", "is not a MAC address (write it like '00:15:65:12:34:56')"),
        ("00:15:65:12:34:5g", "is not a MAC address (write it like '00:15:65:12:34:56')"),
        ("00:00:00:00:00:00", "is all zeros, not a phone's MAC address"),
        ("01:00:5e:00:00:01", "is a multicast address, not a phone's MAC address"),
        ("ff:ff:ff:ff:ff:ff", "is a multicast address, not a phone's MAC address"),
    ],
)
def test_invalid_macs(mac: str, reason: str) -> None:
    text = phone(f"mac: '{mac}', vendor: yealink, model: T54W, lines: ['1001']")
    assert one_problem(text) == f"phones[0].mac: '{mac}' {reason}"


# --- what could inject into dial strings or config files -----------------------------------------

INJECTIONS = ["1001&PJSIP/evil", "1001,30", "1001\n[evil]", "1001;x", "${EXTEN}", "1001]", "[1001"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_into_extension(value: str) -> None:
    text = SITE + "users:\n  - extension: " + _quoted(value) + "\n    name: Alice\n"
    assert one_problem(text).startswith("users[0].extension: ")


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_into_references_and_destinations(value: str) -> None:
    quoted = _quoted(value)
    text = (
        SITE
        + USERS
        + (
            f"phones:\n  - {{mac: '001565123456', vendor: snom, model: D785, lines: [{quoted}],"
            f" keys: [{{blf: {quoted}}}, {{speed_dial: {quoted}, label: X}}]}}\n"
            f"groups:\n  - {{number: '600', name: Sales, members: [{quoted}],"
            f" fallback: {quoted}}}\n"
            "trunks:\n  - {name: provider, host: sbc.example,"
            f" dids: [{{number: '+33123456789', to: {quoted}}}]}}\n"
        )
    )
    paths = [line.split(": ")[1] for line in problems(text)]
    assert paths == [
        "phones[0].lines[0]",
        "phones[0].keys[0].blf",
        "phones[0].keys[1].speed_dial",
        "groups[0].members[0]",
        "groups[0].fallback",
        "trunks[0].dids[0].to",
    ]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_into_forward(value: str) -> None:
    assert one_problem(user(f"forward: {{always: {_quoted(value)}}}")).startswith(
        "users[2].forward.always: "
    )


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ("name: 'provider;x'", "trunks[0].name"),
        ("name: Provider", "trunks[0].name"),
        ("name: 'a]'", "trunks[0].name"),
        ("host: 'sbc.example\\n[evil]'", "trunks[0].host"),
        ("host: 'sbc.example:5060'", "trunks[0].host"),
        ("host: '[2001:db8::1]'", "trunks[0].host"),
        ("host: 'fe80::1%eth0'", "trunks[0].host"),
        ("username: 'acme@x'", "trunks[0].username"),
        ("username: 'acme,x'", "trunks[0].username"),
        ("password_env: 'TRUNK PASSWORD'", "trunks[0].password_env"),
    ],
)
def test_injection_into_trunk_fields(fields: str, path: str) -> None:
    defaults = {"name": "name: provider", "host": "host: sbc.example"}
    defaults.pop(path.rsplit(".", 1)[1], None)
    text = SITE + USERS + f"trunks:\n  - {{{', '.join([fields, *defaults.values()])}}}\n"
    assert one_problem(text).startswith(path + ": ")


@pytest.mark.parametrize("model", ["T54W;x", "../../etc/passwd", "T54W\n", "T${X}"])
def test_injection_into_phone_model(model: str) -> None:
    text = phone(f"mac: '001565123456', vendor: snom, model: {_quoted(model)}, lines: ['1001']")
    assert one_problem(text).startswith("phones[0].model: ")


@pytest.mark.parametrize(
    "name",
    [
        'Alice "Boss"',
        "Alice <1001>",
        "Alice;1",
        "Alice $x",
        "Alice [x]",
        "Alice\nBob",
        "A\tB",
        "Al\u202eice",
        "Alice, Bob",
        "A" * 65,
        " Alice",
        "",
    ],
)
def test_names_refuse_config_characters(name: str) -> None:
    text = SITE + "users:\n  - extension: '1001'\n    name: " + _quoted(name) + "\n"
    assert one_problem(text).startswith("users[0].name: ")


def test_name_message_names_the_character() -> None:
    assert one_problem(SITE + "users:\n  - {extension: '1001', name: 'Alice <1001>'}\n") == (
        "users[0].name: 'Alice <1001>' contains '<', which a name cannot contain "
        "(use letters, digits, spaces and ' - . & ( ) / _)"
    )


@pytest.mark.parametrize(
    "name",
    [
        "Zoë O'Brien-Smith Jr.",
        "Chloé Dubois",
        "R&D (2nd floor)",
        "Jürgen Groß",
        "José María",
        "A" * 64,
        "Reception / Accueil",
    ],
)
def test_names_accept_letters_accents_and_punctuation(name: str) -> None:
    text = SITE + "users:\n  - extension: '1001'\n    name: " + _quoted(name) + "\n"
    assert valid(text).users[0].name == name


def test_label_and_site_name_follow_the_name_rules() -> None:
    text = (
        SITE.replace("name: Lab", "name: 'Lab;1'")
        + USERS
        + (
            "phones:\n  - {mac: '001565123456', vendor: snom, model: D785, lines: ['1001'],"
            " keys: [{speed_dial: '*97', label: 'Mail$'}]}\n"
        )
    )
    assert [line.split(": ")[1] for line in problems(text)] == [
        "site.name",
        "phones[0].keys[0].label",
    ]


# --- other formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        (
            "{name: Lab, domain: 'pbx..acme', timezone: UTC}",
            "site.domain: 'pbx..acme' is not a valid DNS name",
        ),
        (
            "{name: Lab, domain: '10.0.0.1', timezone: UTC}",
            "site.domain: '10.0.0.1' is not a valid DNS name",
        ),
        (
            "{name: Lab, domain: lab.example, timezone: Europe/Pari}",
            "site.timezone: unknown time zone 'Europe/Pari'; did you mean 'Europe/Paris'?",
        ),
        (
            "{name: Lab, domain: lab.example, timezone: '../etc/passwd'}",
            "site.timezone: unknown time zone '../etc/passwd' (write it like 'Europe/Paris')",
        ),
        (
            "{name: Lab, domain: lab.example, timezone: UTC, ntp: ['pool.ntp.org:123']}",
            "site.ntp[0]: 'pool.ntp.org:123' is not a host name or IP address (no port here)",
        ),
        ("{name: Lab, domain: lab.example}", "site.timezone: required, but missing"),
    ],
)
def test_site_info_values(site: str, expected: str) -> None:
    assert one_problem(f"site: {site}\n" + USERS) == expected


def test_missing_key_points_at_the_mapping_that_lacks_it() -> None:
    text = SITE + "users:\n  - name: Alice\n    email: alice@lab.example\n"
    assert problems(text) == ["site.yaml:3:5: users[0].extension: required, but missing"]


@pytest.mark.parametrize("text", ["network: {}\n", "{}\n"])
def test_missing_sections(text: str) -> None:
    assert problems(text) == [
        "site.yaml:1:1: site: required, but missing",
        "site.yaml:1:1: users: required, but missing",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://prov.example", "'ftp://prov.example' must start with http:// or https://"),
        (
            "https://admin:pw@prov.example",
            "credentials do not belong in the site file; phones get per-device credentials",
        ),
        (
            "https://prov.example/${MAC}",
            "'https://prov.example/${MAC}' contains '$', which a URL here cannot contain",
        ),
        ("https://prov.example:99999/", "'https://prov.example:99999/' is not a valid URL"),
        ("https:///path", "'https:///path' has no host name"),
    ],
)
def test_provisioning_url(url: str, expected: str) -> None:
    text = SITE + USERS + f"network: {{provisioning_url: '{url}'}}\n"
    assert one_problem(text) == "network.provisioning_url: " + expected


def test_email() -> None:
    assert one_problem(user("email: 'carol,x@lab.example'")) == (
        "users[2].email: 'carol,x@lab.example' is not an e-mail address this PBX can use"
    )
    assert valid(user("email: carol.d+vm@lab.example")).users[2].email == "carol.d+vm@lab.example"


def test_password_env_is_a_name_and_never_echoed() -> None:
    (line,) = problems(trunk("password_env: 'hunter2!'"))
    assert line == (
        "site.yaml:6:55: trunks[0].password_env: password_env takes the NAME of an environment "
        "variable (A-Z, 0-9 and _, not starting with a digit), e.g. TRUNK_PASSWORD, never the "
        "password itself"
    )


@pytest.mark.parametrize("host", ["sbc.provider.example", "192.0.2.10", "2001:db8::10", "sbc"])
def test_hosts_accept_names_and_ip_literals(host: str) -> None:
    text = SITE + USERS + f"trunks:\n  - {{name: provider, host: '{host}'}}\n"
    assert valid(text).trunks[0].host == host


# --- unknown keys and words ----------------------------------------------------------------------


def test_unknown_key_suggests_a_close_match() -> None:
    text = SITE + "users:\n  - extenson: '1001'\n    name: Alice\n"
    assert problems(text) == [
        "site.yaml:3:5: users[0].extension: required, but missing",
        "site.yaml:3:5: users[0].extenson: unknown key 'extenson'; did you mean 'extension'?",
    ]


def test_unknown_key_lists_the_allowed_ones() -> None:
    assert one_problem(SITE + USERS + "network: {colour: blue}\n") == (
        "network.colour: unknown key 'colour'; allowed keys: voice_vlan, pc_port_vlan, "
        "provisioning_url"
    )


def test_unknown_key_inside_a_phone_key() -> None:
    text = phone(
        "mac: '001565123456', vendor: snom, model: D785, lines: ['1001'],"
        " keys: [{blf: '1002', colour: red}]"
    )
    assert one_problem(text) == (
        "phones[0].keys[0].colour: unknown key 'colour'; allowed keys: blf"
    )


def test_phone_key_must_be_one_kind() -> None:
    text = phone(
        "mac: '001565123456', vendor: snom, model: D785, lines: ['1001'],"
        " keys: [{blf: '1002', speed_dial: '1'}]"
    )
    assert one_problem(text) == (
        'phones[0].keys[0]: a key is either {blf: "1002"} or '
        '{speed_dial: "+33123456789", label: Reception}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            phone("mac: '001565123456', vendor: Yealink, model: T54W, lines: ['1001']"),
            "phones[0].vendor: 'Yealink' is not a vendor; did you mean 'yealink'?",
        ),
        (
            phone("mac: '001565123456', vendor: avaya, model: T54W, lines: ['1001']"),
            "phones[0].vendor: 'avaya' is not a vendor; "
            "use one of: yealink, polycom, grandstream, cisco, snom",
        ),
        (
            user("permissions: National"),
            "users[2].permissions: 'National' is not a permission; did you mean 'national'?",
        ),
        (
            trunk("transport: wss"),
            "trunks[0].transport: 'wss' is not a transport; use one of: udp, tcp, tls",
        ),
        (
            SITE
            + USERS
            + "groups: [{number: '600', name: S, members: ['1001'], strategy: linaer}]\n",
            "groups[0].strategy: 'linaer' is not a strategy; did you mean 'linear'?",
        ),
    ],
)
def test_words_from_a_fixed_list(text: str, expected: str) -> None:
    assert one_problem(text) == expected


def test_lists_that_need_an_entry() -> None:
    text = (
        SITE
        + USERS
        + (
            "phones:\n  - {mac: '001565123456', vendor: snom, model: D785, lines: []}\n"
            "groups:\n  - {number: '600', name: Sales, members: []}\n"
        )
    )
    assert [line.split(": ", 1)[1] for line in problems(text)] == [
        "phones[0].lines: a phone needs at least one line",
        "groups[0].members: a group needs at least one member",
    ]


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar holding exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\u202e", "\\u202e")
    return f'"{escaped}"'
