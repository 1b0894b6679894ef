"""How problems name a place in the site file and show the values found there.

Every problem is one line, ``FILE:LINE:COL: dotted.path: message``. Values are shown with
``repr``-style escapes so that a newline or a control character smuggled into a value can never
start a fake problem line or garble the terminal.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

Path = tuple[str | int, ...]
"""Where a value sits in the document: ``("users", 2, "extension")``."""

ROOT = "(document)"
"""The path shown for problems about the whole file (syntax errors, size, encoding)."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SHOWN_CHARS = 40


def dotted(path: Path) -> str:
    """Render a path the way the admin reads the YAML.

    >>> dotted(("users", 2, "extension"))
    'users[2].extension'
    >>> dotted(("trunks", 0, "odd key"))
    "trunks[0]['odd key']"
    >>> dotted(())
    '(document)'
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out) or ROOT


def show(value: object) -> str:
    """Show a value found in the file, short and on one line.

    >>> show("10a1")
    "'10a1'"
    >>> show("1001\\n[evil]")
    "'1001\\\\n[evil]'"
    >>> show(True), show(None), show([1]), show(83)
    ('true', 'null', 'a list', '83')
    """
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARS:
            value = value[:_SHOWN_CHARS] + "…"
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


def yaml_reading(value: object, text: str) -> str:
    """Say what YAML turned an unquoted scalar into, for the "write it in quotes" advice.

    >>> yaml_reading(83, "0123"), yaml_reading(1001, "1001"), yaml_reading(True, "yes")
    ('the number 83', 'a number', 'true')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number" if str(value) == text else f"the number {show(value)}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, bytes):
        return "binary data"
    return show(value)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the site file, at a 1-based line and column."""

    line: int
    column: int
    path: Path
    message: str

    def render(self, filename: str) -> str:
        """``site.yaml:23:7: users[2].extension: '10a1' is not a valid extension (digits only)``"""
        return f"{filename}:{self.line}:{self.column}: {dotted(self.path)}: {self.message}"

    def position(self) -> tuple[int, int]:
        """The sort key that puts problems in file order."""
        return (self.line, self.column)
