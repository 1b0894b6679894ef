"""A fault in the app's own code: the call it hit fails, the app and every later call go on."""

from __future__ import annotations

import asyncio

import pytest

from pbx_ext.app import routing, service
from pbx_ext.app.runner import run_app
from pbx_ext.ari import AriClient
from pbx_ext.site.model import Site, User
from tests.functional.harness import Pbx, free_ports, history, sipp


async def connected(pbx: Pbx) -> None:
    """Until Asterisk lists the app: its event websocket is up."""
    async with AriClient(pbx.deployment.ari_url, *pbx.ari_auth(), "probe") as ari:
        for _ in range(100):
            if any(a.name == pbx.deployment.app for a in await ari.applications.list()):
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the app never connected")


async def test_a_call_the_app_cannot_route_fails_alone(
    pbx: Pbx, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_once(site: Site, user: User, dialed: str) -> routing.Route:
        monkeypatch.setattr(service, "route_from_user", routing.route_from_user)
        raise RuntimeError("a bug in routing")

    monkeypatch.setattr(service, "route_from_user", broken_once)
    stop = asyncio.Event()
    app = asyncio.create_task(run_app(pbx.deployment, stop))
    try:
        await connected(pbx)
        calls = []
        for _ in range(2):  # the first meets the bug, the second is routed as usual
            call = await sipp(
                "uac_call.xml", pbx, local_port=free_ports(1)[0], user="1001",
                password=pbx.password("1001"), service="1003", keys={"rtp_port": "9"},
            )  # fmt: skip
            calls.append(call)
        assert not app.done()
    finally:
        stop.set()
        await app
    failed, routed = calls
    assert failed.final == "500", failed.log
    assert routed.final == "480", routed.log  # 1003 has no registered phone: unavailable
    records = {r["call_id"]: r for r in history(pbx)}
    assert sorted(r["disposition"] for r in records.values()) == ["failed", "unavailable"]
