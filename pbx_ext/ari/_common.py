"""Small pieces the REST client and the event stream share: the ARI root URL, the basic-auth
header, path segment quoting. No I/O."""

from __future__ import annotations

import base64
from urllib.parse import quote

from yarl import URL


def ari_root(base_url: str) -> URL:
    """``http://127.0.0.1:8088`` -> ``http://127.0.0.1:8088/ari``.

    ``base_url`` is the root of Asterisk's HTTP server (with http.conf's ``prefix``, if one is
    set), without ``/ari``. Credentials never go in it: they travel in the Authorization header.
    """
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"ARI base URL must be http(s)://host[:port][/prefix], got {base_url!r}")
    if url.user is not None or url.password is not None or url.query_string or url.fragment:
        raise ValueError("ARI base URL must not carry credentials, a query or a fragment")
    return url.with_path(url.path.rstrip("/") + "/ari")


def events_url(base_url: str) -> URL:
    """``http://127.0.0.1:8088`` -> ``ws://127.0.0.1:8088/ari/events`` (``wss`` for https):
    the ARI websocket, for events and for requests sent as frames."""
    root = ari_root(base_url)
    return root.with_scheme("wss" if root.scheme == "https" else "ws") / "events"


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP basic auth (RFC 7617), UTF-8 encoded."""
    if ":" in username:
        raise ValueError("an ARI user name cannot contain ':' (RFC 7617)")
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def quote_segment(segment: str) -> str:
    """Percent-encode one path segment, ``/`` included: ids are chosen by callers and
    ``channelId=a/b`` must not become two segments."""
    if not segment:
        raise ValueError("an ARI path segment (an id or a name) cannot be empty")
    return quote(segment, safe="")
