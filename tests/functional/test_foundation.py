"""The generated config in a real Asterisk: endpoints, registration, a call, apply mid-call."""

from __future__ import annotations

import asyncio
import base64
import re

import aiohttp

from tests.functional.harness import (
    G711A_PCAP,
    Pbx,
    RtpPeer,
    SippResult,
    free_ports,
    pbx_ext,
    register,
    rtp_peer,
    sipp,
)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_every_user_and_the_trunk_are_endpoints(pbx: Pbx) -> None:
    user, password = pbx.ari_auth()
    url = f"http://127.0.0.1:{pbx.http_port}/ari/endpoints/PJSIP"
    headers = basic(user, password)
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200
        names = {e["resource"] for e in await resp.json()}
    assert {"1001", "1002", "1003", "1004", "trunk-provider"} <= names


async def test_ari_refuses_wrong_credentials(pbx: Pbx) -> None:
    url = f"http://127.0.0.1:{pbx.http_port}/ari/endpoints"
    headers = basic("pbx-ext", "not-the-password")
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 401


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


async def _call(pbx: Pbx, callee: str, hold_ms: int) -> tuple[SippResult, SippResult, RtpPeer]:
    """1001 calls ``callee`` (registered sipp UAS); returns (uac, uas, rtp counter)."""
    callee_port, caller_port = free_ports(2)
    await register(pbx, callee, pbx.password(callee), callee_port)
    counter = await rtp_peer()
    uas = asyncio.create_task(
        sipp(
            "uas_answer.xml",
            pbx,
            local_port=callee_port,
            user=callee,
            keys={"rtp_port": str(counter.port)},
            duration_ms=300,  # ringing time
            extra=["-aa"],
            timeout_s=hold_ms // 1000 + 20,
        )
    )
    await asyncio.sleep(0.5)  # let the UAS bind before Asterisk sends it the INVITE
    uac = await sipp(
        "uac_call.xml",
        pbx,
        local_port=caller_port,
        user="1001",
        password=pbx.password("1001"),
        service=callee,
        keys={"pcap": G711A_PCAP},
        duration_ms=hold_ms,
        timeout_s=hold_ms // 1000 + 20,
    )
    answered = await uas
    # The phone goes away: unregister it, so later calls do not fork to a dead contact.
    await register(pbx, callee, pbx.password(callee), callee_port, expires=0)
    return uac, answered, counter


async def test_internal_call_connects_through_fallback_and_audio_reaches_callee(pbx: Pbx) -> None:
    # No pbx-ext app is connected: Stasis() fails and the plain-dialplan fallback dials.
    uac, uas, counter = await _call(pbx, "1002", hold_ms=4000)
    assert uac.final == "200", (uac.log, uac.errors)
    assert "BYE 200" in uac.log
    assert "ANSWERED" in uas.log, uas.log
    assert "BYE" in uas.log, uas.log
    # g711a.pcap holds 236 packets over 7 s; 4 s of it is ~190 at 20 ms.
    assert counter.received >= 100, counter
    assert set(counter.payload_types) == {8}  # PCMA end to end, no transcoding


async def test_apply_mid_call_keeps_the_call_and_adds_the_user(pbx: Pbx) -> None:
    call = asyncio.create_task(_call(pbx, "1002", hold_ms=9000))
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
    uac, uas, _counter = await call
    assert uac.final == "200", uac.log
    assert "BYE 200" in uac.log, uac.errors
    assert "BYE" in uas.log
    await register(pbx, "1005", pbx.password("1005"), free_ports(1)[0], expect="200")
    again = pbx_ext("plan", str(pbx.site), "--state-dir", str(pbx.state_dir))
    assert "No changes" in again.stdout
