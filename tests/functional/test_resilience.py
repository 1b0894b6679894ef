"""Restarts: of the app (kill -9 included) mid-call, of Asterisk under the app, and the
plain-dialplan fallback while the app is away."""

from __future__ import annotations

import asyncio

from tests.functional.harness import App, Pbx, history, pbx_ext, two_party_call
from tests.functional.test_calls import assert_talked


async def _answered(pbx: Pbx) -> None:
    """Until Asterisk reports a bridged call (both legs up)."""
    for _ in range(100):
        if "2 active channels" in pbx.rx("core show channels count"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(pbx.rx("core show channels"))


async def test_app_killed_mid_call_keeps_the_call_and_knows_it_again(pbx: Pbx, app: App) -> None:
    before = len(history(pbx))
    call = asyncio.create_task(
        two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=10000)
    )
    await _answered(pbx)
    await asyncio.sleep(1)
    app.kill()  # SIGKILL: no chance to clean anything up
    await asyncio.sleep(1.5)
    assert "2 active channels" in pbx.rx("core show channels count")
    app.start()
    await app.wait_connected()
    outcome = await call
    # Audio kept flowing both ways, and when the caller hung up, the restarted app hung up
    # the callee: it had adopted the call.
    assert_talked(outcome)
    assert "adopted call" in app.log()
    calls = history(pbx)
    assert len(calls) == before + 1
    record = calls[0]
    assert record["disposition"] == "answered"
    assert 8 <= float(str(record["duration"])) <= 12, record
    assert "0 active channels" in pbx.rx("core show channels count")
    assert "pbx-ext call" not in pbx.rx("bridge show all")  # no orphaned bridge


async def test_app_reconnects_after_asterisk_restarts_and_serves_the_next_call(
    pbx: Pbx, app: App
) -> None:
    before = len(history(pbx))
    pbx.restart()
    await app.wait_connected(within=30)
    outcome = await two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=2000)
    assert_talked(outcome)
    assert len(history(pbx)) == before + 1  # the app, not the fallback, routed it


async def test_fallback_while_the_app_is_down_then_the_app_takes_over(pbx: Pbx, app: App) -> None:
    before = len(history(pbx))
    app.stop()
    down = await two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=2000)
    assert_talked(down)
    assert len(history(pbx)) == before  # plain Dial(): the app saw nothing
    app.start()
    await app.wait_connected()
    up = await two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=2000)
    assert_talked(up)
    assert len(history(pbx)) == before + 1


async def test_the_running_app_routes_to_a_user_added_by_apply(pbx: Pbx, app: App) -> None:
    text = pbx.site.read_text().replace(
        "users:\n", 'users:\n  - {extension: "1007", name: Gabriel Morel}\n', 1
    )
    pbx.site.write_text(text)
    applied = pbx_ext("apply", str(pbx.site), "--state-dir", str(pbx.state_dir))
    assert applied.returncode == 0, applied.stderr
    call = await two_party_call(pbx, "1001", "1007", callee_user="1007", hold_ms=2000)
    assert_talked(call)  # registered with its new password, and routed by the app
    assert history(pbx)[0]["to_number"] == "1007"
