"""Fuzz the System Gateway through a real lab (real pjsua2 agents on loopback).

    .venv/bin/python bench/fuzz.py [--count 20000] [--seed 1] [--rate 300] [--block 127.0.201.0/24]
    .venv/bin/python bench/fuzz.py --corpus

Fuzz mode sends `count` mutated datagrams (tests/support/fuzz.py: INVITE with and without SDP,
with real X-Auth headers, with a real Proxy-Authorization; ACK, BYE, CANCEL, OPTIONS, REGISTER,
REFER, stray responses, repeats) to both gateway addresses at `rate` per second, from host .50
of the lab's block. After a crash it waits until every agent is back and configured, so every
datagram meets a live gateway. It prints:
  - datagrams sent, how long it took, and datagrams/s survived (over the whole run, the waits
    for restarts included, and while sending);
  - agent crashes, grouped by the agent's last words, and for the first --isolate-max of them
    (default 20) the datagram that reproduces it when the last --isolate N (default 8) sent to
    that address are replayed one by one (a crash may come a moment after its datagram, so the
    last one sent is not necessarily the culprit);
  - a good-call check at the end: an inbound and an outbound call through each address.

Corpus mode sends the torture corpus (tests/torture/) one message at a time to each address,
waiting for each answer, and names every message that crashes an agent and every answer that
is not what EDGE-SPEC.md says.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sip.lab import Lab  # noqa: E402
from store import AddressPlan, Store  # noqa: E402
from tests.support.fuzz import Datagram, FuzzTarget, generate  # noqa: E402
from tests.support.sipwire import (  # noqa: E402
    AgentWatch,
    FuzzSockets,
    failed_calls,
    fetch_challenge,
    gateway_addresses,
    good_calls,
    open_socket,
    send_fuzz,
    send_one,
    stranger_host,
)
from tests.support.torture import load_corpus  # noqa: E402


async def fuzz(lab: Lab, watch: AgentWatch, options: argparse.Namespace) -> None:
    source, gateways = stranger_host(lab), gateway_addresses(lab)
    endpoint = lab.account.pbx_endpoint()
    challenges = tuple([await fetch_challenge(gateway, source) for gateway in gateways])
    print(f"challenges: {sum(1 for c in challenges if c)} of {len(gateways)} gateway addresses answered 407", flush=True)
    sockets = await FuzzSockets.open(source)
    try:
        target = FuzzTarget(tuple(gateways), source, sockets.ports, endpoint.endpoint_sid, endpoint.voip_token,
                            challenges)
        started = time.monotonic()
        datagrams = generate(options.seed, options.count, target)
        print(f"generated {len(datagrams)} datagrams (seed {options.seed}) in {time.monotonic() - started:.2f} s, "
              f"{sum(len(d.payload) for d in datagrams) / 2**20:.1f} MiB, largest {max(len(d.payload) for d in datagrams)} B")

        def progress(run) -> None:
            print(f"  ... {run.sent} sent in {run.elapsed_s:.0f} s, {len(run.suspects)} crashes so far", flush=True)

        run = await send_fuzz(datagrams, sockets, gateways, watch, rate=options.rate,
                              suspects_per_crash=max(options.isolate, 1), progress=progress)
    finally:
        sockets.close()
    sending_s = run.elapsed_s - run.paused_s
    print(f"sent {run.sent} datagrams in {run.elapsed_s:.1f} s ({run.paused_s:.1f} s of it waiting for restarts); "
          f"{run.answered} datagrams came back")
    print(f"datagrams/s survived: {run.sent / run.elapsed_s:.0f} over the whole run, restart waits included "
          f"({run.sent / sending_s:.0f} while sending; asked for {options.rate:g})")
    crashes = list(run.suspects)
    print(f"agent crashes: {len(crashes)} in {run.sent} datagrams")
    for words, count in collections.Counter(f"{c.reason}: {c.last_words}" for c in crashes).most_common():
        print(f"  x{count} {words}")
    culprits: list[Datagram] = []
    for number, crash in enumerate(crashes):
        suspects = run.suspects[crash]
        if options.isolate and suspects and number < options.isolate_max:
            print(f"  crash {number + 1}: {crash}")
            culprit = await isolate(lab, watch, crash, suspects, gateways, source)
            if culprit is not None:
                culprits.append(culprit)
                print(f"    reproduced alone by {culprit.summary}")
                if options.verbose:
                    print("      " + repr(culprit.payload[:600]))
            else:
                print(f"    not reproduced by any of the last {len(suspects)} datagrams alone: "
                      + "; ".join(d.summary for d in suspects[-3:]))
    if culprits:
        print("crashing datagrams by template: "
              + ", ".join(f"{k} {v}" for k, v in collections.Counter(d.template for d in culprits).most_common()))
        print("crashing datagrams by operator: "
              + ", ".join(f"{k} {v}" for k, v in collections.Counter(o for d in culprits for o in d.operators).most_common()))
    await check_calls(lab, watch)


async def isolate(lab: Lab, watch: AgentWatch, crash, suspects: list[Datagram], gateways, source: str) -> Datagram | None:
    """Replay the suspects one by one (newest first) to the crashed address; the first that
    crashes it again is the culprit."""
    gateway = next(g for g in gateways if crash.agent == f"gateway {g[0]}")
    for datagram in reversed(suspects):
        if not await watch.wait_ready():
            return None
        await asyncio.sleep(0.6)  # out of the CPS window of the run
        before = len(watch.crashes)
        socket = await open_socket(source)
        try:
            socket.transport.sendto(datagram.payload, gateway)
            await asyncio.sleep(0.4)
        finally:
            socket.close()
        if len(watch.crashes) > before:
            return datagram
    return None


async def corpus(lab: Lab, watch: AgentWatch, options: argparse.Namespace) -> None:
    source, gateways = stranger_host(lab), gateway_addresses(lab)
    messages = load_corpus()
    crashing: dict[str, list[str]] = collections.defaultdict(list)
    wrong = 0
    started = time.monotonic()
    for message in messages:
        for gateway in gateways:
            await watch.wait_ready()
            before = len(watch.crashes)
            result = await send_one(message, gateway, source)
            await asyncio.sleep(0.1)
            if len(watch.crashes) > before:
                crashing[message.name].append(f"{gateway[0]}: {watch.crashes[-1].last_words}")
            if result.problems:
                wrong += 1
                if options.verbose:
                    print(f"  wrong: {result.report()}")
    elapsed = time.monotonic() - started
    sends = len(messages) * len(gateways)
    print(f"corpus: {len(messages)} messages x {len(gateways)} addresses = {sends} sends in {elapsed:.1f} s")
    print(f"answers not as EDGE-SPEC.md says: {wrong} of {sends}")
    print(f"messages that crash an agent: {len(crashing)} of {len(messages)} "
          f"({sum(len(v) for v in crashing.values())} crashes in {sends} sends)")
    by_name = {m.name: m for m in messages}
    for name, where in crashing.items():
        print(f"  {name} [{by_name[name].category}] x{len(where)}: {where[0]}")
    if crashing:
        print("crashing messages by category: " + ", ".join(
            f"{k} {v}" for k, v in collections.Counter(by_name[n].category for n in crashing).most_common()))
    await check_calls(lab, watch)


async def check_calls(lab: Lab, watch: AgentWatch) -> None:
    await watch.wait_ready()
    await asyncio.sleep(0.6)
    calls = await good_calls(lab)
    failed = failed_calls(calls)
    print(f"good calls afterwards: {len(calls) - len(failed)} of {len(calls)} succeeded")
    for line in failed:
        print(f"  failed: {line}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000, help="datagrams to send (fuzz mode)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=300.0, help="datagrams per second, over both addresses")
    parser.add_argument("--isolate", type=int, default=8,
                        help="replay this many datagrams before each crash to find the culprit (0: off)")
    parser.add_argument("--isolate-max", type=int, default=20, help="isolate the culprits of this many crashes at most")
    parser.add_argument("--block", default="127.0.201.0/24")
    parser.add_argument("--corpus", action="store_true", help="send the torture corpus instead of fuzzing")
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.db", plan=AddressPlan.in_block(options.block))
        lab = Lab(store)
        await lab.start()
        watch = AgentWatch(lab)
        try:
            await (corpus if options.corpus else fuzz)(lab, watch, options)
        finally:
            await lab.stop()
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
