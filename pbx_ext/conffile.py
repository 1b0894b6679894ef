"""Writer for Asterisk's INI-like configuration files.

Asterisk files are not INI: a section may repeat a key (``allow=ulaw`` then ``allow=alaw``,
every ``exten =>`` line), order matters, and ``;`` starts a comment anywhere on a line. So a
section is an ordered tuple of (key, value) pairs, never a dict. Values are checked here, at
the one place text is produced: a newline would start a new option and an unescaped ``;``
would silently truncate the value, so both are refused or escaped.

Files are written atomically (temp file in the same directory, fsync, rename) so a reload
that races a write sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

Option = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Section:
    """``[name](templates)`` followed by ordered options; ``arrow`` writes ``key => value``."""

    name: str
    options: tuple[Option, ...] = ()
    comment: str = ""
    templates: tuple[str, ...] = ()
    arrow: bool = False


@dataclass(frozen=True, slots=True)
class ConfFile:
    """A whole file: a header comment, then sections in order."""

    header: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def render(self) -> str:
        out: list[str] = [_comment(self.header)]
        for section in self.sections:
            out.append("")
            if section.comment:
                out.append(_comment(section.comment))
            _check_name(section.name)
            suffix = f"({','.join(section.templates)})" if section.templates else ""
            out.append(f"[{section.name}]{suffix}")
            sep = " => " if section.arrow else " = "
            for key, value in section.options:
                _check_name(key)
                out.append(f"{key}{sep}{_value(value)}")
        return "\n".join(out) + "\n"


def _comment(text: str) -> str:
    return "\n".join(f"; {line}".rstrip() for line in text.splitlines())


def _check_name(name: str) -> None:
    if not name or any(c in name for c in "[]=;\n\r") or name != name.strip():
        raise ValueError(f"not a valid Asterisk config name: {name!r}")


def _value(value: str) -> str:
    """Escape ``;`` (Asterisk reads ``\\;`` as a literal semicolon); refuse line breaks."""
    if "\n" in value or "\r" in value or "\x00" in value:
        raise ValueError(f"config value contains a line break: {value!r}")
    return value.replace(";", r"\;")


def write_atomic(path: Path, text: str, *, mode: int = 0o640, uid: int = -1, gid: int = -1) -> None:
    """Replace ``path`` with ``text`` in one rename; the old file stays until the new is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), mode)
            if uid != -1 or gid != -1:
                os.fchown(fh.fileno(), uid, gid)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        # After the rename the temp name is gone; before it (an error), remove the leftover.
        Path(tmp).unlink(missing_ok=True)


def write_tree(
    directory: Path, files: Mapping[str, str], *, mode: int = 0o640, uid: int = -1, gid: int = -1
) -> list[str]:
    """Write every file that differs from what is on disk; return the names written."""
    changed: list[str] = []
    for name in sorted(files):
        target = directory / name
        try:
            if target.read_text(encoding="utf-8") == files[name]:
                continue
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        write_atomic(target, files[name], mode=mode, uid=uid, gid=gid)
        changed.append(name)
    return changed


def options(pairs: Iterable[tuple[str, str | int | bool | None]]) -> tuple[Option, ...]:
    """Normalise option values: ``None`` drops the option, bools become yes/no."""
    out: list[Option] = []
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "yes" if value else "no"))
        else:
            out.append((key, str(value)))
    return tuple(out)
