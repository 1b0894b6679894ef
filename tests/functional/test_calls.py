"""Call control by the pbx-ext app, on the real Asterisk with sipp phones and a sipp trunk.

The trunk's far end (the provider's border controller) is a sipp UAS on 127.0.0.2; phones
are on 127.0.0.1. Every assertion is on what a phone or the provider saw: responses, BYEs,
the Request-URI and From of the INVITE, and RTP packets counted at each end.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.functional.harness import (
    App,
    CallOutcome,
    Pbx,
    SippResult,
    SippRun,
    free_ports,
    history,
    phone_contact,
    register,
    sipp,
    start_sipp,
    trunk_contact,
    two_party_call,
    wait_reachable,
)

TRUNK_IP = "127.0.0.2"


def assert_talked(call: CallOutcome) -> None:
    """The call was answered, hung up cleanly, and audio flowed both ways."""
    assert call.caller.final == "200", (call.caller.log, call.caller.errors)
    assert "BYE 200" in call.caller.log, call.caller.errors
    assert "BYE" in call.callee.log, (call.callee.log, call.callee.errors)
    # Each side sent the g711a capture (30 ms packets) while the call was up; at least 80% of
    # it must reach the other side through Asterisk.
    assert call.caller_sent >= 25
    assert call.callee_sent >= 25
    assert call.callee_heard.received >= 0.8 * call.caller_sent
    assert call.caller_heard.received >= 0.8 * call.callee_sent


def last_call(pbx: Pbx) -> dict[str, object]:
    calls = history(pbx)
    assert calls, "no call recorded"
    return calls[0]


async def test_internal_call_rings_connects_and_carries_audio_both_ways(pbx: Pbx, app: App) -> None:
    call = await two_party_call(pbx, "1001", "1002", callee_user="1002", hold_ms=4000)
    assert_talked(call)
    assert "RINGING" in call.caller.log  # the caller heard ringing (180) before the answer
    assert "RINGING" in call.callee.log
    assert call.callee.value("FROM") is not None
    assert '"Alice Martin" <sip:1001@' in str(call.callee.value("FROM"))
    # The caller's phone learns who answered from the 200 OK itself (no UPDATE after it).
    assert 'P-Asserted-Identity: "Bob Durand"' in str(call.caller.value("IDENTITY"))
    record = last_call(pbx)
    assert record["direction"] == "internal"
    assert record["disposition"] == "answered"
    assert (record["from_number"], record["to_number"]) == ("1001", "1002")
    assert 3 <= float(str(record["duration"])) <= 6


async def test_busy_callee_gives_the_caller_486(pbx: Pbx, app: App) -> None:
    call = await two_party_call(
        pbx, "1001", "1003", callee_user="1003", callee_scenario="uas_busy.xml"
    )
    assert call.caller.final == "486", call.caller.log
    assert "BUSY SENT" in call.callee.log
    assert last_call(pbx)["disposition"] == "busy"


async def test_unanswered_call_stops_ringing_after_the_users_seconds_with_480(
    pbx: Pbx, app: App
) -> None:
    started = asyncio.get_running_loop().time()
    call = await two_party_call(
        pbx, "1001", "1004", callee_user="1004", callee_scenario="uas_ring.xml"
    )
    elapsed = asyncio.get_running_loop().time() - started
    assert call.caller.final == "480", call.caller.log
    assert "CANCELLED" in call.callee.log  # the callee stopped ringing (CANCEL)
    assert 5 <= elapsed <= 15  # 1004 rings 5 s (forward.after_seconds)
    assert last_call(pbx)["disposition"] == "no_answer"


async def test_caller_hanging_up_stops_the_callee_ringing(pbx: Pbx, app: App) -> None:
    callee_port, caller_port = free_ports(2)
    await register(pbx, "1002", pbx.password("1002"), callee_port)
    callee = await start_sipp(
        "uas_ring.xml", pbx, local_port=callee_port, user="1002", calls=None,
        keys={"rtp_port": "9"},
    )  # fmt: skip
    await wait_reachable(pbx, "1002", phone_contact("1002", callee_port))
    caller = await sipp(
        "uac_cancel.xml", pbx, local_port=caller_port, user="1001",
        password=pbx.password("1001"), service="1002", keys={"rtp_port": "9"},
        duration_ms=1500,
    )  # fmt: skip
    assert "CANCELLED" in caller.log, caller.errors
    assert "CANCELLED" in (await callee.wait()).log
    await register(pbx, "1002", pbx.password("1002"), callee_port, expires=0)
    assert last_call(pbx)["disposition"] == "cancelled"


@pytest.mark.parametrize(
    ("dialed", "final"),
    [("1999", "404"), ("1001&PJSIP/1002", "404"), ("1006", "486")],  # 1006: do not disturb
)
async def test_unknown_malformed_or_dnd_numbers_are_refused(
    pbx: Pbx, app: App, dialed: str, final: str
) -> None:
    call = await sipp(
        "uac_call.xml", pbx, local_port=free_ports(1)[0], user="1001",
        password=pbx.password("1001"), service=dialed, keys={"rtp_port": "9"},
    )  # fmt: skip
    assert call.final == final, (call.log, call.errors)


async def test_outbound_call_reaches_the_provider_in_e164_with_the_trunk_caller_id(
    pbx: Pbx, app: App, trunk_port: int
) -> None:
    call = await two_party_call(
        pbx, "1001", "0123456789", callee_ip=TRUNK_IP, callee_port=trunk_port, hold_ms=3000
    )
    assert_talked(call)
    assert call.callee.value("INVITE") == f"sip:+33123456789@{TRUNK_IP}:{trunk_port}"
    assert "<sip:+33123456700@" in str(call.callee.value("FROM"))
    record = last_call(pbx)
    assert (record["direction"], record["disposition"]) == ("outbound", "answered")


async def test_emergency_goes_out_even_for_an_internal_only_user(
    pbx: Pbx, app: App, trunk_port: int
) -> None:
    call = await two_party_call(
        pbx, "1002", "112", callee_ip=TRUNK_IP, callee_port=trunk_port, hold_ms=2000
    )
    assert call.caller.final == "200", call.caller.log
    assert call.callee.value("INVITE") == f"sip:112@{TRUNK_IP}:{trunk_port}"


FRAUD = [
    ("1001", "0044207946000", "403"),  # national user, international number
    ("1002", "0123456789", "403"),  # internal user, national number
    ("1004", "+33123456789", "403"),  # local user, national number in E.164
    ("1001", "0123456789&PJSIP/trunk-provider", "404"),
    ("1001", "0123456789,30", "404"),
    ("1001", "00;x", "404"),
    ("1001", "1009", "404"),  # short unknown number: never sent out as "local"
    ("1001", "9" * 25, "404"),
]


async def test_toll_fraud_attempts_never_reach_the_trunk(
    pbx: Pbx, app: App, trunk_port: int
) -> None:
    provider = await start_sipp(
        "uas_answer.xml", pbx, local_ip=TRUNK_IP, local_port=trunk_port, user="provider",
        calls=None, keys={"rtp_port": "9"}, timeout_s=120,
    )  # fmt: skip
    try:
        # The provider answers: anything that leaked would reach it.
        contact = trunk_contact(TRUNK_IP, trunk_port)
        await wait_reachable(pbx, "trunk-provider", contact, settle=True)
        for caller, dialed, final in FRAUD:
            result = await sipp(
                "uac_call.xml", pbx, local_port=free_ports(1)[0], user=caller,
                password=pbx.password(caller), service=dialed, keys={"rtp_port": "9"},
            )  # fmt: skip
            assert result.final == final, (caller, dialed, result.log, result.errors)
        # From the trunk's address, a caller ID and a DID crafted to reach a dial string.
        for caller, did in (
            ("0044207946000&PJSIP/trunk-provider", "+33123456790"),
            ("+336123", "+33123456790,PJSIP/trunk-provider"),
        ):
            result = await sipp(
                "uac_call.xml", pbx, local_port=free_ports(1)[0], local_ip=TRUNK_IP,
                user=caller, service=did, keys={"rtp_port": "9"}, duration_ms=200,
            )  # fmt: skip
            assert result.final in {"404", "480"}, (caller, did, result.log, result.errors)
        await asyncio.sleep(0.5)
        assert not [line for line in provider.log() if line.startswith("INVITE")]
    finally:
        await provider.stop()


async def test_inbound_did_rings_its_user(pbx: Pbx, app: App) -> None:
    call = await two_party_call(
        pbx, "+33612345678", "+33123456790", callee_user="1002", caller_ip=TRUNK_IP,
        hold_ms=3000,
    )  # fmt: skip
    assert_talked(call)
    assert "+33612345678" in str(call.callee.value("FROM"))
    record = last_call(pbx)
    assert (record["direction"], record["to_number"]) == ("inbound", "+33123456790")


async def test_inbound_did_in_national_form_rings_the_group(pbx: Pbx, app: App) -> None:
    call = await two_party_call(
        pbx, "0612345678", "0123456789", callee_user="1003", caller_ip=TRUNK_IP, hold_ms=2000
    )  # 0123456789 is +33123456789: group 600 (1002 and 1003); 1003 answers
    assert call.caller.final == "200", call.caller.log
    assert "ANSWERED" in call.callee.log


@pytest.mark.parametrize("dialed", ["+33199999999", "+33123456790&PJSIP/1001"])
async def test_unknown_or_malformed_did_is_rejected(pbx: Pbx, app: App, dialed: str) -> None:
    call = await sipp(
        "uac_call.xml", pbx, local_port=free_ports(1)[0], local_ip=TRUNK_IP,
        user="+33612345678", service=dialed, keys={"rtp_port": "9"},
    )  # fmt: skip
    assert call.final == "404", (call.log, call.errors)


async def test_a_did_call_from_another_address_is_not_a_trunk_call(pbx: Pbx, app: App) -> None:
    # Same DID, but sent from 127.0.0.1 (not the trunk's address): Asterisk challenges it
    # as it would any phone, and without the right credentials it never rings anyone.
    call = await sipp(
        "uac_call.xml", pbx, local_port=free_ports(1)[0], user="+33612345678",
        password="guess", service="+33123456790", keys={"rtp_port": "9"},
    )  # fmt: skip
    assert call.final in {"401", "403"}, (call.log, call.errors)


async def _phone(pbx: Pbx, user: str, scenario: str, rtp: int = 9) -> tuple[SippRun, int]:
    """A registered, reachable phone of ``user`` running ``scenario``; returns it and its port."""
    port = free_ports(1)[0]
    await register(pbx, user, pbx.password(user), port)
    phone = await start_sipp(
        scenario, pbx, local_port=port, user=user, calls=None, keys={"rtp_port": str(rtp)},
        duration_ms=300, timeout_s=40,
    )  # fmt: skip
    await wait_reachable(pbx, user, phone_contact(user, port))
    return phone, port


async def _call_and_hang_up(pbx: Pbx, dialed: str, hold_ms: int = 2000) -> SippResult:
    return await sipp(
        "uac_call.xml", pbx, local_port=free_ports(1)[0], user="1001",
        password=pbx.password("1001"), service=dialed, keys={"rtp_port": "9"},
        duration_ms=hold_ms, timeout_s=40,
    )  # fmt: skip


async def test_every_device_of_the_user_rings_and_the_first_to_answer_wins(
    pbx: Pbx, app: App
) -> None:
    desk, desk_port = await _phone(pbx, "1002", "uas_ring.xml")  # never answers
    mobile, mobile_port = await _phone(pbx, "1002", "uas_answer.xml")
    try:
        caller = await _call_and_hang_up(pbx, "1002")
        assert caller.final == "200", caller.log
        assert "BYE 200" in caller.log
        assert "ANSWERED" in (await mobile.wait()).log
        assert "CANCELLED" in (await desk.wait()).log  # answered elsewhere: it stopped ringing
    finally:
        await desk.stop()
        await mobile.stop()
        for port in (desk_port, mobile_port):
            await register(pbx, "1002", pbx.password("1002"), port, expires=0)


async def test_linear_group_rings_members_in_turn(pbx: Pbx, app: App) -> None:
    first, first_port = await _phone(pbx, "1003", "uas_ring.xml")
    second, second_port = await _phone(pbx, "1004", "uas_answer.xml")
    try:
        started = asyncio.get_running_loop().time()
        caller = await _call_and_hang_up(pbx, "601")
        assert caller.final == "200", caller.log
        first_log, second_log = (await first.wait()).log, (await second.wait()).log
        assert "CANCELLED" in first_log  # 1003 rang 5 s, unanswered
        assert "ANSWERED" in second_log  # then 1004 rang and answered
        assert asyncio.get_running_loop().time() - started >= 5
    finally:
        await first.stop()
        await second.stop()
        await register(pbx, "1003", pbx.password("1003"), first_port, expires=0)
        await register(pbx, "1004", pbx.password("1004"), second_port, expires=0)
