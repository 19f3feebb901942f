"""How long the Verification Checklist takes, on a working trunk and on broken ones.

    .venv/bin/python bench/checklist.py [--runs 3] [--block 127.0.251.0/24] [SCENARIO ...]

For the default account and each scenario (default: the two firewall scenarios, where calls
wait for timeouts), start a lab with the production timings (a B leg gives up after 4 s), load
the scenario and run the checklist `--runs` times in a row, printing each run's duration and
verdict. Runs in a row matter: a check that leaves call slots held (an INVITE nobody answered)
slows the next one down.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sip.lab import Lab  # noqa: E402
from store import AddressPlan, Store  # noqa: E402
from store import scenario as scenarios  # noqa: E402

DEFAULT_SCENARIOS = ("gateway_missing_from_firewall", "firewall_allows_no_carrier")


async def measure(name: str | None, runs: int, block: str, folder: Path) -> None:
    store = await Store.open(folder / f"{name or 'default'}.db", plan=AddressPlan.in_block(block))
    try:
        if name is not None:
            await scenarios.load(store, scenarios.find(name))
        lab = Lab(store)  # production timings: a B leg gives up after 4 s
        await lab.start()
        try:
            durations = []
            for run in range(1, runs + 1):
                started = time.perf_counter()
                items, _ = await lab.run_checklist()
                durations.append(time.perf_counter() - started)
                verdict = " ".join("pass" if i.passed else i.status for i in items)
                print(f"{name or 'default account':<32} run {run}: {durations[-1]:5.2f} s  [{verdict}]", flush=True)
            print(f"{name or 'default account':<32} median {statistics.median(durations):.2f} s, "
                  f"max {max(durations):.2f} s over {runs} runs", flush=True)
        finally:
            await lab.stop()
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--block", default="127.0.251.0/24")
    parser.add_argument("scenarios", nargs="*", default=list(DEFAULT_SCENARIOS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name in (None, *args.scenarios):
            await measure(name, args.runs, args.block, Path(folder))


if __name__ == "__main__":
    asyncio.run(main())
