from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pbx_ext.conffile import ConfFile, Section, options, write_atomic, write_tree


def test_render_keeps_duplicate_keys_in_order_and_escapes_semicolons() -> None:
    text = ConfFile(
        "hello",
        (
            Section(
                "1001", (("allow", "g722"), ("allow", "ulaw"), ("note", "a;b")), comment="Alice"
            ),
            Section("pbx-users", (("exten", "_X.,1,NoOp()"), ("same", "n,Hangup()")), arrow=True),
            Section("t", (("type", "endpoint"),), templates=("base",)),
        ),
    ).render()
    assert text == (
        "; hello\n"
        "\n; Alice\n[1001]\nallow = g722\nallow = ulaw\nnote = a\\;b\n"
        "\n[pbx-users]\nexten => _X.,1,NoOp()\nsame => n,Hangup()\n"
        "\n[t](base)\ntype = endpoint\n"
    )


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x00b"])
def test_line_breaks_in_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        ConfFile("h", (Section("s", (("k", value),)),)).render()


@pytest.mark.parametrize("name", ["a]b", "a=b", "", " a", "a;b", "x\ny"])
def test_bad_section_and_key_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid Asterisk config name"):
        ConfFile("h", (Section(name, ()),)).render()
    with pytest.raises(ValueError, match="not a valid Asterisk config name"):
        ConfFile("h", (Section("s", ((name, "v"),)),)).render()


def test_options_drop_none_and_spell_bools() -> None:
    assert options([("a", None), ("b", True), ("c", False), ("d", 5)]) == (
        ("b", "yes"),
        ("c", "no"),
        ("d", "5"),
    )


def test_write_atomic_sets_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "pjsip.conf"
    write_atomic(target, "x = 1\n", mode=0o600)
    assert target.read_text() == "x = 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(target.parent) == ["pjsip.conf"]


def test_write_tree_rewrites_only_changed_files(tmp_path: Path) -> None:
    assert write_tree(tmp_path, {"a.conf": "1\n", "b.conf": "2\n"}) == ["a.conf", "b.conf"]
    before = (tmp_path / "a.conf").stat().st_mtime_ns
    assert write_tree(tmp_path, {"a.conf": "1\n", "b.conf": "3\n"}) == ["b.conf"]
    assert (tmp_path / "a.conf").stat().st_mtime_ns == before
    assert (tmp_path / "b.conf").read_text() == "3\n"
