"""How fast the lab cleans up after an agent dies mid-call (real agents, real RTP on loopback).

    .venv/bin/python bench/crash.py [--runs 10] [--block 127.0.201.0/24]

For each way an agent dies (the gateway by os.abort() and by SIGKILL, the PSTN by SIGKILL, the
PBX by os.abort()), `--runs` times: place a call, wait until both parties hear each other,
kill the agent, then measure
  - legs gone: from the kill until every surviving agent says it holds no call (target <= 2 s);
  - last RTP: from the kill until the last datagram that still reached the dead agent's RTP
    or RTCP port (none after the legs are gone);
  - slots free: from the kill until the survivors' pjsua call slots are free as well. A BYE to
    the dead agent is answered (481) only by the agent the supervisor restarts, at the BYE's
    next retransmission, so this follows the restart back-off. Each drill waits for it, so
    one drill does not inherit the last one's slots.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sip.lab import Lab  # noqa: E402
from store import AddressPlan, Store  # noqa: E402
from tests.support.crash import answered_with_audio, kill_during  # noqa: E402

DRILLS = (("gateway", "crash"), ("gateway", "SIGKILL"), ("pstn", "SIGKILL"), ("pbx", "crash"))
SLOTS_WITHIN_S = 40.0  # a BYE nobody answers times out after 32 s


def ms(values: list[float]) -> str:
    if not values:
        return "none"
    return f"p50 {statistics.median(values) * 1000:6.0f} ms  max {max(values) * 1000:6.0f} ms"


async def drills(lab: Lab, victim: str, how: str, runs: int) -> int:
    gone, last_rtp, slots_free, failures = [], [], [], 0
    for _ in range(runs):
        await lab.wait_until(lambda: lab.ready, 10.0)
        gateway = lab.gateway_addresses[0]
        call = await (lab.place_outbound("14155550123", auth="ip", via=gateway) if victim == "pbx"
                      else lab.place_inbound("12025550100", via=gateway))
        if not await answered_with_audio(lab, call):
            failures += 1
            print(f"  not answered with audio both ways: {call.final_code} {call.final_reason}", flush=True)
            await lab.hangup(call.ref)
            continue
        name = f"gateway {gateway.partition(':')[0]}" if victim == "gateway" else victim
        drill = await kill_during(lab, call, name, how, watch_s=2.5, slots_within_s=SLOTS_WITHIN_S)
        if drill.legs_gone_s is None:
            failures += 1
            print(f"  {name}: legs not gone in 2.5 s: {await lab.agent_loads()}", flush=True)
        else:
            gone.append(drill.legs_gone_s)
        last_rtp.append(drill.last_rtp_s or 0.0)
        if drill.slots_free_s is not None:
            slots_free.append(drill.slots_free_s)
    print(f"{victim:>7} {how:<8} n={runs}  legs gone {ms(gone)}  |  last RTP to the dead ports {ms(last_rtp)}  |  "
          f"slots free {ms(slots_free)}  |  failed: {failures}", flush=True)
    return failures


async def run(runs: int, block: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "lab.db", plan=AddressPlan.in_block(block))
        lab = Lab(store, b_leg_timeout_s=1.5)
        await lab.start()
        try:
            failures = [await drills(lab, victim, how, runs) for victim, how in DRILLS]
        finally:
            await lab.stop()
            await store.close()
    return 1 if any(failures) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--block", default="127.0.201.0/24")
    args = parser.parse_args()
    return asyncio.run(run(args.runs, args.block))


if __name__ == "__main__":
    sys.exit(main())
