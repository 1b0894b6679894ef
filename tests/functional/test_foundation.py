"""The generated config in a real Asterisk: endpoints, registration, a call, apply mid-call."""

from __future__ import annotations

import asyncio
import re

import aiohttp

from tests.functional.harness import (
    Pbx,
    basic_auth,
    free_ports,
    pbx_ext,
    register,
    sipp,
    two_party_call,
)


async def test_every_user_and_the_trunk_are_endpoints(pbx: Pbx) -> None:
    user, password = pbx.ari_auth()
    url = f"http://127.0.0.1:{pbx.http_port}/ari/endpoints/PJSIP"
    headers = basic_auth(user, password)
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200
        names = {e["resource"] for e in await resp.json()}
    assert {"1001", "1002", "1003", "1004", "trunk-provider"} <= names


async def test_ari_refuses_wrong_credentials(pbx: Pbx) -> None:
    url = f"http://127.0.0.1:{pbx.http_port}/ari/endpoints"
    headers = basic_auth("pbx-ext", "not-the-password")
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 401


def test_admin_runs_asterisk_cli_commands_through_pbx_ext(pbx: Pbx) -> None:
    proc = pbx_ext("asterisk", "pjsip", "show", "endpoints", "--state-dir", str(pbx.state_dir))
    assert proc.returncode == 0, proc.stderr
    assert "Endpoint:  1001" in proc.stdout
    assert "Endpoint:  trunk-provider" in proc.stdout


async def test_phone_registers_with_generated_password_only(pbx: Pbx) -> None:
    good, bad = free_ports(2)
    await register(pbx, "1003", pbx.password("1003"), good, expect="200")
    contacts = pbx.rx("pjsip show contacts")
    assert re.search(rf"1003/sip:1003@127\.0\.0\.1:{good}", contacts), contacts
    refused = await sipp(
        "register.xml",
        pbx,
        local_port=bad,
        user="1004",
        password="not-the-password",
        keys={"expires": "3600"},
    )
    assert "FINAL 200" not in refused.log
    assert any(line in refused.log for line in ("FINAL 401", "FINAL 403")), refused.log
    assert "1004/sip:" not in pbx.rx("pjsip show contacts")


async def test_internal_call_connects_through_fallback_and_audio_flows(pbx: Pbx) -> None:
    # No pbx-ext app is connected: Stasis() fails and the plain-dialplan fallback dials.
    call = await two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=4000)
    assert call.caller.final == "200", (call.caller.log, call.caller.errors)
    assert "BYE 200" in call.caller.log
    assert "ANSWERED" in call.callee.log, call.callee.log
    assert "BYE" in call.callee.log
    # Each side sent ~3.5 s of g711a.pcap (30 ms packets): most of it must reach the other.
    assert call.callee_heard.received >= 0.8 * call.caller_sent > 50
    assert call.caller_heard.received >= 0.8 * call.callee_sent > 50
    assert set(call.callee_heard.payload_types) == {8}  # PCMA end to end, no transcoding


async def test_apply_mid_call_keeps_the_call_and_adds_the_user(pbx: Pbx) -> None:
    call = asyncio.create_task(
        two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=9000)
    )
    await asyncio.sleep(4)
    assert "1 active call" in pbx.rx("core show channels count")
    text = pbx.site.read_text().replace(
        "users:\n", 'users:\n  - {extension: "1005", name: Eve Blanc, permissions: internal}\n'
    )
    pbx.site.write_text(text)
    plan = pbx_ext("plan", str(pbx.site), "--state-dir", str(pbx.state_dir))
    assert plan.returncode == 0, plan.stderr
    assert "+[1005]" in plan.stdout
    assert "md5_cred = ********" in plan.stdout
    applied = pbx_ext("apply", str(pbx.site), "--state-dir", str(pbx.state_dir))
    assert applied.returncode == 0, applied.stderr
    assert "pjsip.conf" in applied.stdout
    assert "1 active call" in pbx.rx("core show channels count")
    outcome = await call
    assert outcome.caller.final == "200", outcome.caller.log
    assert "BYE 200" in outcome.caller.log, outcome.caller.errors
    assert "BYE" in outcome.callee.log
    assert outcome.callee_heard.received >= 0.8 * outcome.caller_sent
    await register(pbx, "1005", pbx.password("1005"), free_ports(1)[0], expect="200")
    again = pbx_ext("plan", str(pbx.site), "--state-dir", str(pbx.state_dir))
    assert "No changes" in again.stdout
