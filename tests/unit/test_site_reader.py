"""Reading the site file as YAML: syntax, encoding, size, aliases, duplicate keys, secrets.

Each test feeds a small file and asserts the problem lines the admin would read.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pbx_ext.errors import SiteError
from pbx_ext.site import load_site, parse_site
from pbx_ext.site.yamltree import MAX_BYTES

DATA = Path(__file__).parent.parent / "data" / "sites"
SITE = "site: {name: Lab, domain: lab.example, timezone: UTC}\n"
USERS = 'users:\n  - {extension: "1001", name: Alice}\n'


def problems(text: str | bytes) -> list[str]:
    with pytest.raises(SiteError) as caught:
        parse_site(text, "site.yaml")
    return caught.value.problems


def test_syntax_error_gives_its_position() -> None:
    assert problems(SITE + "users:\n  - {extension: '1001', name: Alice\n") == [
        "site.yaml:4:1: (document): YAML syntax error: expected ',' or '}', but got '<stream end>'"
        " (while parsing a flow mapping, line 3)"
    ]


def test_tab_indentation_gets_a_hint() -> None:
    (line,) = problems(SITE + "users:\n\t- {extension: '1001', name: Alice}\n")
    assert line.startswith("site.yaml:3:1: (document): YAML syntax error: found character")
    assert line.endswith("YAML indents with spaces, not tabs")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file(text: str) -> None:
    assert problems(text) == [
        "site.yaml:1:1: (document): the file is empty; a site needs 'site:' and 'users:'"
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [("- site\n- users\n", "a list"), ("hello\n", "the text 'hello'")],
)
def test_document_must_be_a_mapping(text: str, found: str) -> None:
    assert problems(text) == [
        "site.yaml:1:1: (document): the top level must be sections (site:, users:, ...), "
        f"not {found}"
    ]


def test_non_utf8_bytes_name_the_line() -> None:
    text = SITE.encode() + b"users:\n  - {extension: '1001', name: Ren\xe9}\n"
    assert problems(text) == [
        "site.yaml:3:34: (document): not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


def test_utf8_byte_order_mark_is_accepted() -> None:
    site = parse_site(b"\xef\xbb\xbf" + (SITE + USERS).encode(), "site.yaml")
    assert site.site.name == "Lab"


def test_control_characters_are_refused() -> None:
    assert problems(SITE + USERS + "x: \x00\n") == [
        "site.yaml:4:4: (document): the character #x0000 is not allowed in YAML"
    ]


@pytest.mark.parametrize("text", [b"#" * (MAX_BYTES + 1), "#" * (MAX_BYTES + 1)])
def test_files_over_one_mib_are_refused(text: str | bytes) -> None:
    assert problems(text) == [
        "site.yaml:1:1: (document): the file is over 1048576 bytes (1 MiB), too big for a site file"
    ]


def test_load_site_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# padding\n" * (MAX_BYTES // 5))
    with pytest.raises(SiteError, match="too big for a site file"):
        load_site(big)


def test_alias_bomb_is_stopped_quickly() -> None:
    path = DATA / "alias-bomb.yaml"
    started = time.perf_counter()
    with pytest.raises(SiteError) as caught:
        load_site(path)
    assert time.perf_counter() - started < 1.0
    assert caught.value.problems == [
        f"{path}:2:71: (document): the file expands to over 100000 values: are aliases (*name) "
        "repeating large parts of it? A site file needs far fewer"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",  # an alias inside its own anchor: an endless structure
        "a: &a {<<: *a}\n",  # the same through a merge key
        "a: " + "[" * 100_000 + "\n",  # deep flow nesting is quadratic in PyYAML's scanner
        "".join("  " * i + f"k{i}:\n" for i in range(100)),
    ],
)
def test_deep_or_endless_nesting_is_stopped_quickly(text: str) -> None:
    started = time.perf_counter()
    (line,) = problems(text)
    assert time.perf_counter() - started < 1.0
    assert "nested over 20 levels deep" in line


def test_several_documents_are_refused() -> None:
    assert problems(SITE + USERS + "---\n" + SITE) == [
        "site.yaml:4:1: (document): a site file is one YAML document; remove this '---'"
    ]


def test_duplicate_keys_are_reported_where_they_repeat() -> None:
    text = SITE + 'users:\n  - extension: "1001"\n    name: Alice\n    name: Alicia\n' + USERS
    assert problems(text) == [
        "site.yaml:5:5: users[0].name: duplicate key 'name' (first at line 4)",
        "site.yaml:6:1: users: duplicate key 'users' (first at line 2)",
    ]


def test_merge_keys_fill_in_what_is_not_written() -> None:
    text = SITE + (
        "users:\n"
        '  - &staff {extension: "1001", name: Alice, permissions: national, voicemail: false}\n'
        '  - {<<: *staff, extension: "1002", name: Bob}\n'
    )
    bob = parse_site(text, "site.yaml").users[1]
    # Bob's own keys win over Alice's, quietly: overriding is what merge keys are for.
    assert (bob.extension, bob.name, bob.permissions, bob.voicemail) == (
        "1002",
        "Bob",
        "national",
        False,
    )


def test_merge_key_needs_a_mapping() -> None:
    assert problems(SITE + USERS + "dialing: {<<: [1]}\n") == [
        "site.yaml:4:16: dialing['<<']: << merges a mapping, e.g. <<: *defaults"
    ]


def test_password_key_gets_the_targeted_message() -> None:
    text = (
        SITE + USERS + "trunks:\n  - name: provider\n    host: sbc.example\n    password: s3cr3t\n"
    )
    assert problems(text) == [
        "site.yaml:7:5: trunks[0].password: passwords do not belong in the site file; set "
        "password_env: TRUNK_PASSWORD and export TRUNK_PASSWORD=... (user and phone SIP "
        "passwords are generated into the secrets file)"
    ]


@pytest.mark.parametrize("key", ["secret", "Password", "sip_password", "auth_secret", "passwd"])
def test_secret_keys_anywhere_are_refused_and_never_echoed(key: str) -> None:
    text = SITE + f'users:\n  - {{extension: "1001", name: Alice, {key}: hunter2}}\n'
    (line,) = problems(text)
    assert line.startswith(f"site.yaml:3:38: users[0].{key}: passwords do not belong")
    assert "hunter2" not in line


def test_unknown_yaml_tags_are_refused() -> None:
    assert problems(SITE + USERS + "dialing: !!set {a, b}\n") == [
        "site.yaml:4:10: dialing: the YAML tag !!set is not used here",
        "site.yaml:4:17: dialing.a: unknown key 'a'; allowed keys: emergency, national_prefix, "
        "international_prefix, country_code",
        "site.yaml:4:20: dialing.b: unknown key 'b'; allowed keys: emergency, national_prefix, "
        "international_prefix, country_code",
    ]
    assert problems(SITE + 'users:\n  - {extension: !ext "1001", name: Alice}\n') == [
        "site.yaml:3:17: users[0].extension: the YAML tag !ext is not used here"
    ]


def test_unreadable_scalars_give_one_problem_each() -> None:
    text = SITE + 'users:\n  - {extension: "1001", name: 2024-13-45}\n'
    assert problems(text) == [
        "site.yaml:3:31: users[0].name: '2024-13-45' cannot be read as timestamp; "
        "write it in quotes"
    ]


def test_long_yaml_11_numbers_are_not_built() -> None:
    # "1:1:1:..." is a YAML 1.1 base-60 integer whose construction is quadratic.
    text = SITE + f'users:\n  - {{extension: "1001", name: {":".join(["1"] * 200_000)}}}\n'
    started = time.perf_counter()
    (line,) = problems(text)
    assert time.perf_counter() - started < 1.0
    assert line.startswith("site.yaml:3:31: users[0].name: '1:1:1:1:")
    assert line.endswith("…' is too long; quote it")


def test_complex_keys_are_refused() -> None:
    assert problems(SITE + USERS + "? [a, b]\n: c\n") == [
        "site.yaml:4:3: (document): a key must be a plain word, not a list or mapping"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SiteError) as caught:
        load_site(missing)
    assert caught.value.problems == [
        f"{missing}:1:1: (document): cannot read the file: No such file or directory"
    ]
    with pytest.raises(SiteError, match="cannot read the file"):
        load_site(tmp_path)


def test_problems_name_the_file_as_given() -> None:
    with pytest.raises(SiteError) as caught:
        load_site(str(DATA / "several-problems.yaml"))
    assert caught.value.problems[0].startswith(f"{DATA / 'several-problems.yaml'}:4:13: ")
