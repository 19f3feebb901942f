"""Interop: SIPp judges the System Gateway as a carrier edge (docs: EDGE-SPEC, issue 9).

Each test sends what a real peer sends (one scenario file each, under scenarios/) and judges
the answer from SIPp's own log of what crossed the wire, not from the lab's ladder; the lab's
agents play the other side of each call (the PSTN answering, the PSTN calling in). SIPp plays
a PBX on .30 (.31 for an attacker), or the customer's PBX itself on .12 for inbound calls.

Where a test needs IP-based authentication, SIPp's address is made an address of the PBX's
endpoint for that test (`add_peer_address`); a real VoIP token reaches SIPp in an owner-only
injection file, never on its command line.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from sip.lab import PSTN_TEST_NUMBER, Lab
from store import EndpointAttributes
from tests.support.labpeers import (
    PstnLegs,
    Watch,
    add_peer_address,
    change_account,
    fails_today,
    gateway,
    host,
    lab_call_of,
    pbx_endpoint,
)
from tests.support.sipp import Logged, Sipp, SippRun, injection_file, run_sipp, scenario

pytestmark = [pytest.mark.sipp, pytest.mark.agents]

ALLOWED = {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"}
OTHER_NUMBER = "14155550124"  # another PSTN number: the gateway routes any E.164 number there


def uac(lab: Lab, name: str, *extra: str, me: int = 30, number: str = PSTN_TEST_NUMBER, via: int = 0) -> list[str]:
    """SIPp as a customer device on host .me of the lab block, calling `number` at a gateway."""
    ip = host(lab, me)
    return ["-sf", name if "/" in name else scenario(name), "-i", ip, "-p", "5070", "-mi", ip, "-mp", str(6000 + me),
            "-s", number, "-m", "1", *extra, gateway(lab, via)]


def final_to(run: SippRun, method: str = "INVITE") -> Logged:
    if not run.sent():  # SIPp refused the scenario: a broken test, not the gateway's answer
        raise RuntimeError(f"SIPp sent nothing\n{run.explain()}")
    finals = [m for m in run.received(method=method) if m.status is not None and m.status >= 200]
    assert finals, f"no final response to {method}\n{run.explain()}"
    return finals[0]


def methods(values: list[str]) -> set[str]:
    return {token.strip().upper() for value in values for token in value.split(",") if token.strip()}


def assert_warning(answer: Logged, lab: Lab) -> None:
    """EDGE-SPEC: refusals (other than authentication) say why: Warning: 399 <G's ip> "why".
    RFC 3261 20.43 has more precise codes (e.g. 305 incompatible media format): any 3xx
    warn-code is taken; the warn-agent must name the gateway, as the RFC asks."""
    warning = answer.header("Warning") or ""
    gateway_ip = gateway(lab).split(":")[0]
    assert re.fullmatch(rf'3\d\d {re.escape(gateway_ip)}(:\d+)? "[^"]+"', warning), \
        f"{answer.first_line}: Warning is {warning!r}, expected 399 {gateway_ip} \"<why>\""


def digest_params(value: str) -> dict[str, str]:
    """The parameters of a Digest challenge, as a peer reads them."""
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^\s,]+)', value)}


# ---------------------------------------------------------------------- methods a carrier edge meets


async def test_options_gets_200_with_an_allow_of_what_the_gateway_does(lab: Lab, tmp_path: Path):
    run = await run_sipp(tmp_path, *uac(lab, "options.xml"))
    answer = final_to(run, "OPTIONS")
    assert answer.status == 200, run.explain()  # no authentication for OPTIONS
    assert methods(answer.headers("Allow")) == ALLOWED, answer.text
    assert methods(answer.headers("Accept")) == {"APPLICATION/SDP"}, answer.text


async def test_register_gets_405_with_allow(lab: Lab, tmp_path: Path):
    run = await run_sipp(tmp_path, *uac(lab, "register.xml"), timeout_s=5)
    answer = final_to(run, "REGISTER")
    assert answer.status == 405, run.explain()
    assert methods(answer.headers("Allow")) == ALLOWED, answer.text
    assert_warning(answer, lab)


async def test_refer_in_an_established_call_gets_405_and_dials_nothing(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    pstn = lab.account.party("pstn")
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_refer_in_call.xml", "-key", "refer_to",
                                        f"sip:{OTHER_NUMBER}@{pstn.ip}:{pstn.port}"), timeout_s=8)
    await asyncio.sleep(1.0)  # time for a REFER wrongly accepted to be acted on
    assert run.received(status=200, method="INVITE"), run.explain()
    answer = final_to(run, "REFER")
    new_legs = PstnLegs.now(lab).new_since(before)
    assert answer.status == 405, f"REFER answered {answer.first_line}; PSTN legs since: {len(new_legs)}"
    assert methods(answer.headers("Allow")) == ALLOWED, answer.text
    assert len(new_legs) == 1, f"{len(new_legs)} PSTN legs for one call: the REFER was acted on"


async def test_invite_with_max_forwards_0_gets_483(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_max_forwards_zero.xml"), timeout_s=5)
    answer = final_to(run)
    assert answer.status == 483, run.explain()
    assert_warning(answer, lab)
    assert not PstnLegs.now(lab).new_since(before)


async def test_invite_with_a_header_line_without_colon_gets_400(lab: Lab, tmp_path: Path):
    watch = Watch(lab)
    await add_peer_address(lab, host(lab, 30), 5070)
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_malformed_header.xml"), timeout_s=5)
    answer = final_to(run)
    assert answer.status == 400, run.explain()
    assert_warning(answer, lab)
    assert not PstnLegs.now(lab).new_since(before)
    assert not watch.crashes()


# Out-of-dialog requests the edge does not carry, and what each must get (EDGE-SPEC).
NOT_CARRIED = {"REFER": 405, "SUBSCRIBE": 405, "NOTIFY": 405, "PUBLISH": 405, "MESSAGE": 405, "INFO": 405,
               "UPDATE": 405, "PRACK": 405, "FROBNICATE": 501, "BYE": 481, "CANCEL": 481}


async def test_requests_the_gateway_does_not_carry_get_405_501_or_481(lab: Lab, tmp_path: Path):
    wrong = {}
    template = Path(scenario("uac_request.xml")).read_text()
    for method, expected in NOT_CARRIED.items():
        request = tmp_path / f"uac_{method.lower()}.xml"
        request.write_text(template.replace("METHOD", method))
        run = await run_sipp(tmp_path, *uac(lab, str(request)), timeout_s=2)
        if not run.sent():
            raise RuntimeError(f"SIPp sent no {method}\n{run.explain()}")
        finals = [m for m in run.received(method=method) if m.status is not None and m.status >= 200]
        answer = finals[0] if finals else None
        if answer is None or answer.status != expected:
            wrong[method] = answer.first_line if answer else "no answer"
        elif expected != 481 and methods(answer.headers("Allow")) != ALLOWED:
            wrong[method] = f"{answer.first_line} with Allow: {', '.join(answer.headers('Allow'))}"
    assert not wrong, "\n".join(f"{m}: expected {NOT_CARRIED[m]}, got {got}" for m, got in wrong.items())


async def test_invite_requiring_100rel_gets_420_with_unsupported(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_require_100rel.xml"), timeout_s=3)
    answer = final_to(run)
    assert answer.status == 420, run.explain()
    assert "100REL" in methods(answer.headers("Unsupported")), answer.text


async def test_invite_over_4000_bytes_gets_513(lab: Lab, tmp_path: Path):
    watch = Watch(lab)
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_too_large.xml"), timeout_s=3)
    assert len(run.sent("INVITE")[0].text.encode()) > 4000
    answer = final_to(run)
    assert answer.status == 513, run.explain()
    assert not watch.crashes()


async def test_an_outbound_number_that_is_not_e164_gets_484(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_invite_refused.xml", "-key", "codec", "0", number="5550100"),
                         timeout_s=3)
    answer = final_to(run)
    assert answer.status == 484, run.explain()
    assert_warning(answer, lab)


async def test_no_codec_in_common_gets_488_only_after_authentication(lab: Lab, tmp_path: Path):
    g729_only = ("-key", "codec", "18")
    before = PstnLegs.now(lab)
    stranger = await run_sipp(tmp_path, *uac(lab, "uac_invite_refused.xml", *g729_only, me=31), timeout_s=3)
    assert final_to(stranger).status == 407, f"an unauthenticated caller learns nothing else\n{stranger.explain()}"
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_invite_refused.xml", *g729_only), timeout_s=3)
    await asyncio.sleep(0.3)
    answer = final_to(run)
    assert answer.status == 488, run.explain()
    assert_warning(answer, lab)
    assert not PstnLegs.now(lab).new_since(before), "a PSTN leg was placed before the offer was checked"


async def test_header_auth_with_a_wrong_token_gets_401_with_a_challenge(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_refused.xml", "-key", "h1", f"X-Auth-EndpointSid: {endpoint.endpoint_sid}",
                                        "-key", "h2", "X-Auth-VoipToken: 00000000-0000-4000-8000-000000000000"),
                         timeout_s=3)
    answer = final_to(run)
    assert answer.status == 401, run.explain()
    params = digest_params(answer.header("WWW-Authenticate") or "")
    assert (answer.header("WWW-Authenticate") or "").startswith("Digest ") and params.get("nonce"), answer.text


# ---------------------------------------------------------------------- delayed offer


async def test_delayed_offer_outbound_gets_the_offer_in_200_and_the_audio_flows(lab: Lab, tmp_path: Path):
    watch = Watch(lab)
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_delayed_offer.xml", "-d", "2000", "-rtp_echo"), timeout_s=10)
    answered = run.received(status=200, method="INVITE")
    assert answered, f"crashes: {watch.crashes()}\n{run.explain()}"
    offer = answered[0]
    assert "application/sdp" in (offer.header("Content-Type") or "") and "m=audio" in offer.body, offer.text
    assert run.returncode == 0, run.explain()  # ACK with the answer, hold, BYE, 200
    await asyncio.sleep(0.6)  # the last media figures
    call = lab_call_of(lab, run.sent("INVITE")[0].call_id)
    assert call is not None and call.final_code == 200
    pstn = [leg for (agent, _), leg in call.legs.items() if agent == "pstn"]
    assert pstn and pstn[0].rx.pkt > 30, f"PSTN leg received {pstn}: no audio came back from SIPp's echo"
    assert not watch.crashes()


# ---------------------------------------------------------------------- flood and capacity


async def test_a_flood_of_new_invites_with_cseq_2_is_bounded_and_survived(lab: Lab, tmp_path: Path):
    """200 new INVITEs (CSeq 2, as in issue 9) at 200/s from one address, no credentials."""
    watch = Watch(lab)
    ip = host(lab, 30)
    run = await run_sipp(tmp_path, "-sf", scenario("uac_invite_flood.xml"), "-i", ip, "-p", "5070", "-mi", ip,
                         "-mp", "6030", "-s", PSTN_TEST_NUMBER, "-base_cseq", "2", "-m", "200", "-r", "200",
                         "-l", "200", gateway(lab), timeout_s=12)
    sent = {m.call_id: m for m in run.sent("INVITE")}
    assert len(sent) == 200 and all((m.header("CSeq") or "").split()[0] == "2" for m in sent.values()), run.explain()
    finals = run.final_responses()
    refused = [m for m in finals.values() if m.status == 503]
    counts = {code: sum(1 for m in finals.values() if m.status == code) for code in {m.status for m in finals.values()}}
    assert not watch.crashes(), f"gateway crashed under the flood: {watch.crashes()[:3]}; answers {counts}"
    assert len(finals) == 200, f"{200 - len(finals)} INVITEs got no final answer; answers {counts}"
    assert len(refused) >= 150, f"answers {counts}: the CPS limit should refuse most of 200 new INVITEs in 1 s"
    assert all(m.header("Retry-After") for m in refused), "a 503 without Retry-After"
    await asyncio.sleep(1.0)  # the limit's window and any held slot pass
    call = await lab.run_call(await lab.place_outbound(PSTN_TEST_NUMBER, auth="ip", via=gateway(lab)), hold_s=0.5)
    assert call.final_code == 200, f"a good call right after the flood: {call.final_code} {call.final_reason}"


async def test_a_third_call_at_a_gateway_address_carrying_2_gets_503_with_retry_after(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    held = [await lab.place_outbound(PSTN_TEST_NUMBER, auth="ip", via=gateway(lab)) for _ in range(2)]
    try:
        assert await lab.wait_until(lambda: all(c.state == "answered" for c in held), 8.0), \
            [(c.state, c.final_code, c.final_reason) for c in held]
        run = await run_sipp(tmp_path, *uac(lab, "uac_beyond_capacity.xml"), timeout_s=5)
    finally:
        for call in held:
            await lab.hangup(call.ref)
        await lab.wait_until(lambda: all(c.finished for c in held), 5.0)
    answer = final_to(run)
    assert answer.status == 503, run.explain()
    assert answer.header("Retry-After"), answer.text
    assert_warning(answer, lab)


# ---------------------------------------------------------------------- authentication


async def test_a_wrong_digest_gets_401_with_a_fresh_challenge(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    wrong = injection_file(tmp_path, [[endpoint.endpoint_sid,
                                       f"[authentication username={endpoint.endpoint_sid} password=not-the-token]"]])
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_wrong_digest.xml", "-inf", str(wrong)), timeout_s=6)
    challenge = run.received(status=407)
    answers = [m for m in run.received(method="INVITE") if m.status is not None and m.status >= 200]
    assert challenge and len(answers) == 2, run.explain()
    refusal = answers[1]
    assert refusal.status == 401, run.explain()
    offered = refusal.header("WWW-Authenticate") or ""
    params = digest_params(offered)
    assert offered.startswith("Digest ") and params.get("realm") and params.get("nonce"), refusal.text
    assert params["nonce"] != digest_params(challenge[0].header("Proxy-Authenticate") or "").get("nonce"), \
        "the 401 repeats the nonce already used: not a fresh challenge"
    assert params.get("stale", "false").lower() == "false", offered
    assert not PstnLegs.now(lab).new_since(before)


@pytest.mark.parametrize("number", [PSTN_TEST_NUMBER, OTHER_NUMBER], ids=["same number", "another number"])
async def test_a_replayed_proxy_authorization_places_no_call(lab: Lab, tmp_path: Path, number: str):
    endpoint = pbx_endpoint(lab)
    good = injection_file(tmp_path, [[endpoint.endpoint_sid,
                                      f"[authentication username={endpoint.endpoint_sid} password={endpoint.voip_token}]"]],
                          name="good.csv")
    first = await run_sipp(tmp_path, *uac(lab, "uac_digest_call.xml", "-inf", str(good), "-d", "300"), timeout_s=8)
    assert first.returncode == 0, first.explain()
    (authorized,) = [m for m in first.sent("INVITE") if m.header("Proxy-Authorization")]
    seen_on_the_wire = f"Proxy-Authorization: {authorized.header('Proxy-Authorization')}"
    replay = injection_file(tmp_path, [[seen_on_the_wire]], name="replay.csv")
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_replayed_credentials.xml", "-inf", str(replay), me=31, number=number),
                         timeout_s=6)
    await asyncio.sleep(0.5)
    new_legs = PstnLegs.now(lab).new_since(before)
    answer = final_to(run)
    assert not new_legs, f"the replay placed a call to the PSTN (answer {answer.first_line})"
    assert answer.status == 407, run.explain()
    assert digest_params(answer.header("Proxy-Authenticate") or "").get("stale", "").lower() == "true", answer.text


def digest_file(lab: Lab, folder: Path):
    """An injection file with the PBX endpoint's real credentials ([field1])."""
    endpoint = pbx_endpoint(lab)
    return str(injection_file(folder, [[endpoint.endpoint_sid, f"[authentication username={endpoint.endpoint_sid} "
                                                               f"password={endpoint.voip_token}]"]], name="good.csv"))


@pytest.mark.parametrize("names", ["another number", "another host"])
async def test_right_credentials_whose_digest_uri_names_something_else_get_401(lab: Lab, tmp_path: Path, names: str):
    auth_uri = f"{OTHER_NUMBER}@{gateway(lab)}" if names == "another number" else gateway(lab, 1)
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_digest_refused.xml", "-inf", digest_file(lab, tmp_path),
                                        "-auth_uri", auth_uri), timeout_s=4)
    sent = [m.header("Proxy-Authorization") or "" for m in run.sent("INVITE")]
    assert any(f'uri="sip:{auth_uri}"' in header for header in sent), sent  # SIPp did send that uri
    answer = [m for m in run.received(method="INVITE") if m.status is not None and m.status >= 200][-1]
    assert answer.status == 401, run.explain()
    assert digest_params(answer.header("WWW-Authenticate") or "").get("nonce"), answer.text
    assert not PstnLegs.now(lab).new_since(before)


async def test_right_credentials_whose_digest_uri_is_the_request_uri_are_accepted(lab: Lab, tmp_path: Path):
    """What baresip and linphone send (the Request-URI), through SIPp's -auth_uri."""
    auth_uri = f"{PSTN_TEST_NUMBER}@{gateway(lab)}"
    run = await run_sipp(tmp_path, *uac(lab, "uac_digest_call.xml", "-inf", digest_file(lab, tmp_path),
                                        "-auth_uri", auth_uri, "-d", "300"), timeout_s=5)
    assert run.returncode == 0, run.explain()


async def test_right_credentials_from_outside_the_ip_restrictions_get_403(lab: Lab, tmp_path: Path):
    endpoint = pbx_endpoint(lab)
    elsewhere = f"{host(lab, 40)}/32"  # SIPp sends from .30
    await change_account(lab, lambda: lab.store.update_endpoint(
        endpoint.endpoint_sid, attributes=EndpointAttributes(ip_restrictions=(elsewhere,))))
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_digest_refused.xml", "-inf", digest_file(lab, tmp_path)), timeout_s=4)
    answer = [m for m in run.received(method="INVITE") if m.status is not None and m.status >= 200][-1]
    assert answer.status == 403, run.explain()  # (a Warning is not asked: EDGE-SPEC counts this
    assert not PstnLegs.now(lab).new_since(before)  # with the authentication answers)


async def test_a_reinvite_for_a_call_the_gateway_does_not_carry_gets_481(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    before = PstnLegs.now(lab)
    run = await run_sipp(tmp_path, *uac(lab, "uac_reinvite_unknown.xml"), timeout_s=3)
    assert final_to(run).status == 481, run.explain()
    assert not PstnLegs.now(lab).new_since(before)


async def test_the_b_leg_max_forwards_is_the_callers_minus_one(lab: Lab, tmp_path: Path):
    await add_peer_address(lab, host(lab, 30), 5070)
    run = await run_sipp(tmp_path, *uac(lab, "uac_call.xml", "-key", "h1", "Subject: trunklab interop",
                                        "-key", "h2", "Subject: trunklab interop"), timeout_s=5)
    assert run.returncode == 0, run.explain()
    sent = run.sent("INVITE")[0]
    await asyncio.sleep(0.3)
    call = lab_call_of(lab, sent.call_id)
    b_leg = [m for m in call.messages if m.agent == "pstn" and m.event == "rx" and m.first_line.startswith("INVITE")]
    assert b_leg, "no B leg reached the PSTN"
    forwarded = re.search(r"(?im)^Max-Forwards:\s*(\d+)", b_leg[0].text)
    assert forwarded and int(forwarded.group(1)) == int(sent.header("Max-Forwards")) - 1, b_leg[0].text


# ---------------------------------------------------------------------- SIPp as the customer's PBX


async def inbound_to_sipp_as_the_pbx(lab: Lab, tmp_path: Path):
    """The PSTN calls the test number; the endpoint's only address is SIPp (.12), which answers
    183 with SDP, then 200 a second later, and echoes the audio. Returns (SIPp's run, the call)."""
    sipp_ip = host(lab, 12)
    await add_peer_address(lab, sipp_ip, 5060, replace=True)
    uas = Sipp(tmp_path, "-sf", scenario("uas_early_media.xml"), "-i", sipp_ip, "-p", "5060", "-mi", sipp_ip,
               "-mp", "6012", "-rtp_echo", "-m", "1", timeout_s=10)
    await uas.start()
    try:
        await asyncio.sleep(0.4)  # SIPp binds
        call = await lab.run_call(await lab.place_inbound(lab.test_number()), hold_s=1.0)
        run = await uas.finish()
    finally:
        await uas.kill()
    return run, call


async def test_inbound_invite_to_the_pbx_has_max_forwards_of_the_pstn_minus_one(lab: Lab, tmp_path: Path):
    run, call = await inbound_to_sipp_as_the_pbx(lab, tmp_path)
    received = run.received(method="INVITE")
    assert received, run.explain()
    pstn_sent = [m for m in call.messages if m.agent == "pstn" and m.event == "tx" and m.first_line.startswith("INVITE")]
    pstn_max_forwards = int(re.search(r"(?im)^Max-Forwards:\s*(\d+)", pstn_sent[0].text).group(1))
    assert received[0].header("Max-Forwards") == str(pstn_max_forwards - 1), received[0].text


async def test_inbound_invite_to_the_pbx_carries_the_caller_in_e164_and_p_asserted_identity(lab: Lab, tmp_path: Path):
    run, call = await inbound_to_sipp_as_the_pbx(lab, tmp_path)
    received = run.received(method="INVITE")
    assert received, run.explain()
    invite = received[0]
    caller = re.search(r"sip:([^@;>]+)@", invite.header("From") or "")
    assert caller and caller.group(1) == "+" + call.from_number.lstrip("+"), invite.header("From")
    identity = invite.header("P-Asserted-Identity") or ""
    assert re.search(rf"(sip:|tel:)\+{call.from_number.lstrip('+')}\b", identity), invite.text


async def test_early_media_183_with_sdp_reaches_the_pstn_caller(lab: Lab, tmp_path: Path):
    run, call = await inbound_to_sipp_as_the_pbx(lab, tmp_path)
    assert run.returncode == 0 and call.final_code == 200, run.explain()
    seen = [m for m in call.messages if m.agent == "pstn" and m.event == "rx" and m.first_line.startswith("SIP/2.0 18")]
    early = [m for m in seen if m.first_line.startswith("SIP/2.0 183") and "m=audio" in m.text]
    assert early, f"the PSTN caller saw {[m.first_line for m in seen]}, no 183 with SDP"
