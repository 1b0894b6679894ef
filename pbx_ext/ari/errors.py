"""Errors of the ARI client.

``AriError`` is the root; each subclass also inherits the stdlib type a caller that does not know
ARI would reach for (``LookupError`` for a channel that is gone, ``ConnectionError`` when
Asterisk cannot be reached, ``ValueError`` for JSON that does not have the documented shape).
"""

from __future__ import annotations

from pbx_ext.errors import AsteriskError


class AriError(AsteriskError):
    """Asterisk answered an ARI request with an error, or the ARI exchange failed.

    ``status`` is the HTTP status (``None`` when there was no HTTP answer), ``method`` and
    ``path`` name the request (``path`` relative to ``/ari``, without the query string, so it
    never carries a secret), ``message`` is Asterisk's ``{"message": ...}`` text when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.method is None:
            return self.message
        where = f"{self.method} {self.path}"
        if self.status is None:
            return f"ARI {where}: {self.message}"
        return f"ARI {where} -> {self.status}: {self.message}"


class AriNotFound(AriError, LookupError):
    """404: the channel, bridge, playback, endpoint or application does not exist (any more)."""


class AriConflict(AriError):
    """409: the object exists but is in the wrong state, e.g. a channel not in our Stasis app."""


class AriUnavailable(AriError, ConnectionError):
    """Asterisk's HTTP server could not be reached, or did not answer in time."""


class ProtocolError(AriError, ValueError):
    """Asterisk sent JSON whose shape is not what ARI documents (the peer's mistake, not ours)."""
