"""One error root for pbx-ext.

Each subclass also inherits the stdlib type it corresponds to, so callers that only know
the stdlib (``except OSError``) still catch it. Messages are written for the admin: what went
wrong and what to do next.
"""

from __future__ import annotations


class PbxError(Exception):
    """Root of every error pbx-ext raises on purpose."""


class SiteError(PbxError, ValueError):
    """The site YAML is not valid. ``problems`` holds every problem found, in file order."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SecretsError(PbxError, OSError):
    """The secrets file cannot be read or written safely."""


class SandboxError(PbxError, RuntimeError):
    """The Asterisk sandbox cannot be built, started or reached."""


class AsteriskError(PbxError, RuntimeError):
    """Asterisk refused a command or is not reachable."""
