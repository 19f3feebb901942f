"""Console benchmarks (headless Textual, recorded engine, no agents).

    .venv/bin/python bench/ui.py [--messages 10000]

Prints:
  - the time from creating the app to the first screen (the dashboard) being shown;
  - the time to show a call whose ladder has N SIP messages (build and first render);
  - the time to scroll that ladder from the top to the bottom and back, page by page;
  - the time to process one more engine event while that call is shown (its media figures;
    an agent's error). A new SIP message of the shown call still redraws its whole ladder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screens.lab_app import TrunkLabApp  # noqa: E402
from sip.lab import Lab  # noqa: E402
from sip.replay import load_recording, recorded_supervisor_factory  # noqa: E402
from store.records import SipMessageRecord  # noqa: E402

EVENTS = ROOT / "tests" / "fixtures" / "events"


def big_call(lab: Lab, count: int) -> None:
    """Give the recorded call `count` more messages: OPTIONS pings back and forth."""
    call = next(c for c in lab.book.calls.values() if not c.external)
    start = call.messages[-1].t
    for i in range(count):
        src, dst = ("127.0.0.2:5060", "127.0.0.10:5060") if i % 2 == 0 else ("127.0.0.10:5060", "127.0.0.2:5060")
        line = "OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0" if i % 2 == 0 else "SIP/2.0 200 OK"
        call.messages.append(SipMessageRecord(start + i * 0.001, "gateway" if i % 2 == 0 else "pbx", "tx", src, dst,
                                      "bench", line, line + "\r\n\r\n"))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    options = parser.parse_args()
    records = load_recording(EVENTS / "inbound_ok.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app = TrunkLabApp(Path(tmp) / "ui.db", deterministic=True,
                          engine_factory=lambda store: Lab(store, supervisor_factory=recorded_supervisor_factory(records)))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            print(f"start to first screen:        {(time.perf_counter() - started) * 1000:8.1f} ms")
            big_call(app.lab, options.messages)
            started = time.perf_counter()
            await pilot.press("c")
            await pilot.pause()
            ladder = app.screen.query_one("#ladder")
            print(f"show a {options.messages}-message ladder:  {(time.perf_counter() - started) * 1000:8.1f} ms "
                  f"({len(ladder.rungs)} rungs)")
            ladder.focus()
            await pilot.pause()
            started = time.perf_counter()
            pages = 0
            while ladder.cursor < len(ladder.rungs) - 1 and pages < 5000:
                await pilot.press("pagedown")
                pages += 1
            while ladder.cursor and pages < 10000:
                await pilot.press("pageup")
                pages += 1
            elapsed = time.perf_counter() - started
            # the same without Pilot's per-key overhead: move, then let the screen repaint
            raw_started = time.perf_counter()
            for _ in range(50):
                ladder.action_move("page")
                await pilot.pause()
            raw = (time.perf_counter() - raw_started) / 50
            print(f"one page down, repainted:     {raw * 1000:8.2f} ms")
            print(f"scroll down and up, {pages} pages: {elapsed * 1000:8.1f} ms ({elapsed / pages * 1000:.2f} ms a page)")
            call = next(c for c in app.lab.book.calls.values() if not c.external)
            leg = next(iter(call.legs))
            figures = {"ev": "media", "t": time.time(), "sip_call_id": leg[1], "rx": {"pkt": 1}, "tx": {"pkt": 1}}
            for what, event in (("media figures of the shown call", figures),
                                ("an agent's error (a notification)", {"ev": "error", "t": time.time(), "message": "x"})):
                started = time.perf_counter()
                app.lab.on_agent_event(leg[0], dict(event))
                await pilot.pause()
                print(f"one engine event, {what}: {(time.perf_counter() - started) * 1000:8.1f} ms")
            await app.action_quit()


if __name__ == "__main__":
    asyncio.run(main())
