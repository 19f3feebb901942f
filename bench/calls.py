"""Call benchmarks through a real lab (real pjsua2 agents, real SIP and RTP on loopback).

    .venv/bin/python bench/calls.py [--calls 200] [--block 127.0.200.0/24]

Prints, in one run:
  - call setup latency p50/p95/p99 (caller's makeCall -> CONFIRMED) for inbound calls
    (PSTN -> gateway -> PBX), outbound calls (PBX -> gateway -> PSTN, IP auth) and the
    direct baseline (PSTN agent -> PBX agent, no gateway), N sequential calls each;
  - failures among those calls (target: none);
  - short calls per second sustained through one gateway address, driven by SIPp with header
    auth (target: 20 calls/s for 200 calls, no failure);
  - a 100 calls/s SIPp flood: what the gateway refused, whether it stayed up (or was back within
    2 s), and that every call it routed was authenticated;
  - RSS of every agent process.
The last line is `inbound setup p50 ratio lab/direct: R` (target R <= 3).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sip.events import AgentStateChanged  # noqa: E402
import sip.lab as lab_module  # noqa: E402
from sip.lab import Lab, LabCall  # noqa: E402
from store import AddressPlan, Store  # noqa: E402

SCENARIO = ROOT / "tests" / "interop" / "scenarios" / "uac_call.xml"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def describe(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<28} no answered calls"
    return (f"{name:<28} n={len(values):<4} p50 {percentile(values, 50):6.2f} ms  p95 {percentile(values, 95):6.2f} ms  "
            f"p99 {percentile(values, 99):6.2f} ms  mean {statistics.fmean(values):6.2f} ms")


async def sequential(lab: Lab, count: int, place) -> tuple[list[float], int]:
    """Place `count` calls one after the other, each hung up as soon as it is answered."""
    setups: list[float] = []
    failures = 0
    for _ in range(count):
        call: LabCall = await place()
        await lab.wait_until(lambda: call.state in ("answered", "ended", "failed"), 10)
        if call.state == "answered" and call.setup_ms is not None:
            setups.append(call.setup_ms)
        else:
            failures += 1
            print(f"  failed: {call.ref} {call.state} {call.final_code} {call.final_reason} {call.notes}")
        await lab.hangup(call.ref)
        await lab.wait_until(lambda: call.finished, 10)
    return setups, failures


async def place_direct(lab: Lab) -> LabCall:
    """The baseline: the PSTN agent calls the PBX agent directly, no gateway in between."""
    pbx = lab.account.party("pbx")
    call = lab._placed(direction="inbound", to_number="12025550100", from_number="14155550123",
                       gateway=f"{pbx.ip}:{pbx.port}")
    await lab.supervisor.send("pstn", {"cmd": "dial", "ref": call.ref, "to": "12025550100",
                                       "via": f"{pbx.ip}:{pbx.port}", "from_number": "14155550123"})
    return call


async def run_sipp(args: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "sipp", *args, "-nostdin", cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, "timeout"
    return process.returncode, out.decode(errors="replace")


def sipp_counts(cwd: Path) -> dict[str, int]:
    """Successful/failed call totals from SIPp's statistics file (-trace_stat)."""
    stats = sorted(cwd.glob("*_.csv"))
    if not stats:
        return {}
    lines = stats[-1].read_text().splitlines()
    head, last = lines[0].split(";"), lines[-1].split(";")
    row = dict(zip(head, last))
    return {k: int(row.get(k, 0) or 0) for k in ("SuccessfulCall(C)", "FailedCall(C)", "OutgoingCall(C)")}


async def sipp_load(lab: Lab, *, rate: int, calls: int, workdir: Path, port: int) -> dict:
    gateway = lab.account.system_gateway.addresses[0]
    endpoint = lab.account.third_party_endpoints[0]
    me = gateway.ip.rsplit(".", 1)[0] + ".30"
    args = ["-sf", str(SCENARIO), "-i", me, "-p", str(port), "-mi", me, "-mp", str(port + 1000), "-d", "0",
            "-s", "14155550123", "-key", "h1", f"X-Auth-EndpointSid: {endpoint.endpoint_sid}",
            "-key", "h2", f"X-Auth-VoipToken: {endpoint.voip_token}",
            "-r", str(rate), "-m", str(calls), "-l", str(max(rate, 10)), "-timeout", f"{calls // rate + 30}s",
            "-trace_stat", "-fd", "1", f"{gateway.ip}:{gateway.port}"]
    started = time.monotonic()
    code, output = await run_sipp(args, workdir, calls / rate + 60)
    elapsed = time.monotonic() - started
    return {"exit": code, "elapsed_s": elapsed, **sipp_counts(workdir), "output": output[-400:]}


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--block", default="127.0.200.0/24")
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        store = await Store.open(tmp_path / "bench.db", plan=AddressPlan.in_block(options.block))
        pstn_ip = (await store.account()).party("pstn").ip
        await store.add_firewall_rule(pstn_ip, note="bench: the direct baseline")  # PSTN -> PBX directly
        # The PSTN takes datagrams from the carrier's gateways only (sip/agent/parties.py); the
        # direct baseline needs the PBX's answers to reach it too. Bench-only: the lab's own
        # agent_specs, with the PBX's address added to what the PSTN accepts.
        pbx_ip = (await store.account()).party("pbx").ip
        plain_specs = lab_module.agent_specs

        def specs_for_the_baseline(account, **options):
            specs = plain_specs(account, **options)
            for spec in specs:
                if spec.role == "pstn":
                    spec.config["gateways"] = [*spec.config["gateways"], pbx_ip]
            return specs

        lab_module.agent_specs = specs_for_the_baseline
        lab = Lab(store)
        agent_events: list[tuple[float, AgentStateChanged]] = []  # (when heard, the event)
        lab.subscribe(lambda event: agent_events.append((time.time(), event))
                      if isinstance(event, AgentStateChanged) else None)
        await lab.start()
        try:
            print(f"machine: {shutil.which('sipp') and 'sipp present' or 'no sipp'}; python {sys.version.split()[0]}")
            inbound, inbound_failed = await sequential(lab, options.calls, lambda: lab.place_inbound("12025550100"))
            outbound, outbound_failed = await sequential(lab, options.calls, lambda: lab.place_outbound("14155550123"))
            direct, direct_failed = await sequential(lab, options.calls, lambda: place_direct(lab))
            print(describe("inbound (through the lab)", inbound))
            print(describe("outbound (through the lab)", outbound))
            print(describe("direct pjsua2 -> pjsua2", direct))
            print(f"sequential calls failed: inbound {inbound_failed}, outbound {outbound_failed}, direct {direct_failed}"
                  f" (of {options.calls} each)")
            if shutil.which("sipp"):
                for rate, calls, port in ((20, 200, 5071), (100, 300, 5072)):
                    workdir = tmp_path / f"sipp{rate}"
                    workdir.mkdir()
                    before = {name: lab.supervisor.pid(name) for name in lab.agent_states}
                    result = await sipp_load(lab, rate=rate, calls=calls, workdir=workdir, port=port)
                    await asyncio.sleep(2.0)
                    name = f"gateway {lab.account.system_gateway.addresses[0].ip}"
                    restarted = lab.supervisor.pid(name) != before[name]
                    routed = [d for c in lab.book.calls.values() if c.external for d in c.decisions
                              if d.status is None]
                    unauthenticated = [d for d in routed if d.auth not in ("ip", "proxy", "header")]
                    refused = sum(1 for c in lab.book.calls.values() if c.external
                                  for d in c.decisions if d.status == 503)
                    crashes = [(t, e) for t, e in agent_events if e.agent == name and e.state == "crashed"]
                    for crashed_at, crash in crashes:
                        back = next((t for t, e in agent_events if e.agent == name and e.state == "up"
                                     and t > crashed_at), None)
                        print(f"  {name} {crash.detail} ({crash.last_words[-120:]}); "
                              f"up again after {back - crashed_at:.2f} s" if back else "  not back up")
                    if "--verbose" in sys.argv:
                        for t, e in agent_events:
                            if e.agent == name:
                                print("   ", round(t % 1000, 3), e.state, e.detail)
                    agent_events.clear()
                    after = await lab.place_inbound("12025550100", via=lab.account.system_gateway.addresses[0].ip)
                    await lab.wait_until(lambda: after.state in ("answered", "failed"), 10)
                    await lab.hangup(after.ref)
                    print(f"sipp {rate} calls/s x {calls}: answered {result.get('SuccessfulCall(C)', '?')}, "
                          f"not answered {result.get('FailedCall(C)', '?')} (of which 503 by the gateway's CPS or capacity limit: {refused}; "
                          f"the rest refused by pjsua with its 4 slots full, or timed out), offered at "
                          f"{calls / result['elapsed_s']:.1f} calls/s; gateway "
                          f"{'restarted' if restarted else 'stayed up'} ({lab.agent_states[name]}); "
                          f"routed without authentication: {len(unauthenticated)}; "
                          f"a normal call right after: {after.final_code}")
            else:
                print("sipp not installed: load figures skipped (apt-get install sip-tester)")
            for name in sorted(lab.agent_states):
                print(f"rss {name:<22} {rss_mb(lab.supervisor.pid(name)):6.1f} MB")
            ratio = percentile(inbound, 50) / percentile(direct, 50) if inbound and direct else float("nan")
            print(f"inbound setup p50 ratio lab/direct: {ratio:.2f}")
        finally:
            await lab.stop()
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
