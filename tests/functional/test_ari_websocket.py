"""ARI requests over websockets, against the real Asterisk: what the app relies on."""

from __future__ import annotations

import asyncio

import pytest

from pbx_ext.ari import AriClient, AriNotFound, Connected, EventStream, StasisEnd, StasisStart
from tests.functional.harness import Pbx


def client(pbx: Pbx, app: str) -> AriClient:
    user, password = pbx.ari_auth()
    return AriClient(
        pbx.deployment.ari_url, user, password, app, timeout=5.0, rest_over_websocket=True
    )


async def test_requests_over_websockets_do_what_they_do_over_http(pbx: Pbx) -> None:
    async with client(pbx, "wsprobe") as ari:
        # An id that needs percent-encoding in the path, and a name with a space.
        created = await ari.bridges.create("mixing", bridge_id="x y&z", name="pbx-ext call")
        fetched = await ari.bridges.get("x y&z")
        apps = {app.name for app in await ari.applications.list()}
        await ari.bridges.destroy("x y&z")
        with pytest.raises(AriNotFound, match="Bridge not found"):
            await ari.bridges.get("never made")
        # A request with a JSON body goes over HTTP, and works.
        filtered = await ari.applications.set_event_filter(
            allowed=["StasisStart"], name="wsprobe-rest-0"
        )
        usable = ari._http.ws is not None and ari._http.ws.usable
    assert (created.id, fetched.id, fetched.name) == ("x y&z", "x y&z", "pbx-ext call")
    # The requests went over the client's own websocket (a Stasis app of its own), not HTTP;
    # one at a time, they all took the first socket.
    assert usable
    assert "wsprobe-rest-0" in apps
    assert "wsprobe-rest-1" not in apps
    assert filtered.name == "wsprobe-rest-0"
    # Closed with the client: Asterisk forgets the request sockets' apps (soon after).
    async with AriClient(pbx.deployment.ari_url, *pbx.ari_auth(), "other") as http_only:
        for _ in range(50):
            left = {app.name for app in await http_only.applications.list()}
            if not any(name.startswith("wsprobe-rest-") for name in left):
                break
            await asyncio.sleep(0.1)
    assert not any(name.startswith("wsprobe-rest-") for name in left)


async def test_variable_sets_are_not_published_as_events(pbx: Pbx) -> None:
    """stasis.conf declines ChannelVarset: a call sets dozens of variables nobody listens to."""
    user, password = pbx.ari_auth()
    url = pbx.deployment.ari_url
    seen: list[str] = []
    async with (
        EventStream(url, user, password, "varprobe") as events,
        client(pbx, "varprobe") as ari,
    ):
        async with asyncio.timeout(10):
            async for event in events:
                if isinstance(event, Connected):
                    break
        await ari.channels.create("Local/1002@pbx-fallback-users", channel_id="varprobe-1")
        async with asyncio.timeout(10):  # in the app once its StasisStart came
            async for event in events:
                seen.append(type(event).__name__)
                if isinstance(event, StasisStart) and event.channel.id == "varprobe-1":
                    break
        await ari.channels.set_var("varprobe-1", "PBX_PROBE", "1")
        assert await ari.channels.get_var("varprobe-1", "PBX_PROBE") == "1"
        await ari.channels.hangup("varprobe-1")
        async with asyncio.timeout(10):
            async for event in events:
                seen.append(type(event).__name__)
                if isinstance(event, StasisEnd) and event.channel.id == "varprobe-1":
                    break
    assert "StasisStart" in seen
    assert "ChannelVarset" not in seen
