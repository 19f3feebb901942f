"""Console benchmarks (headless Textual, recorded engine, no agents).

    .venv/bin/python bench/ui.py [--messages 100 10000] [--events 200]

Prints:
  - the time from creating the app to the first screen (the dashboard) being shown;
  - for a call of N SIP messages on the Calls screen (N = 100 and 10,000 by default):
    - the time to show it (its ladder built and drawn);
    - the time to move the ladder's cursor one page down and repaint;
    - the cost of one engine event while it is on screen, for the events that reach the
      Calls screen: a new SIP message of the shown call (a new rung), its media figures
      (the audio panel), a CallChanged (its state, its rows in the list).

How an event's cost is measured: the lab is handed the agent's event as an agent would send
it (Lab.on_agent_event), then the app runs until idle. What is timed is the Calls screen's own
work, not Pilot's pauses: the screen's message handler for the engine message (wrapped around
Screen._on_message) plus the layout and repaint that follow it (wrapped around
Screen._refresh_layout and Screen._compositor_refresh, where Textual computes the changed
regions and renders their lines). Each figure is the median over --events events.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screens.lab_app import TrunkLabApp  # noqa: E402
from screens.messages import EngineMessage  # noqa: E402
from sip.lab import Lab  # noqa: E402
from sip.replay import load_recording, recorded_supervisor_factory  # noqa: E402
from store.records import SipMessageRecord  # noqa: E402

EVENTS = ROOT / "tests" / "fixtures" / "events"


def big_call(lab: Lab, count: int) -> str:
    """Give the recorded call `count` more messages (OPTIONS pings back and forth between the
    gateway and the PBX, in its B leg); returns that leg's Call-ID."""
    call = next(c for c in lab.book.calls.values() if not c.external)
    b_leg = next(m.sip_call_id for m in call.messages if m.agent == "pbx")
    start = call.messages[-1].t
    for i in range(count - len(call.messages) // 2):  # each message of the call is captured twice (sent, received)
        src, dst = ("127.0.0.2:5060", "127.0.0.10:5060") if i % 2 == 0 else ("127.0.0.10:5060", "127.0.0.2:5060")
        line = "OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0" if i % 2 == 0 else "SIP/2.0 200 OK"
        text = f"{line}\r\nCall-ID: {b_leg}\r\nCSeq: {i // 2 + 100} OPTIONS\r\n\r\n"
        call.messages.append(SipMessageRecord(start + i * 0.001, "gateway" if i % 2 == 0 else "pbx", "tx", src, dst,
                                              b_leg, line, text))
    return b_leg


class Meter:
    """The screen's own time: its handler for engine messages, then layout and repaint."""

    def __init__(self, screen) -> None:
        self.spent = 0.0
        for name in ("_on_message", "_refresh_layout", "_compositor_refresh"):
            self._wrap(screen, name)

    def _wrap(self, screen, name: str) -> None:
        original = getattr(screen, name)
        meter = self
        if asyncio.iscoroutinefunction(original):
            async def timed(message, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return await original(message, *args, **kwargs)
                finally:
                    if isinstance(message, EngineMessage):
                        meter.spent += time.perf_counter() - started
        else:
            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    meter.spent += time.perf_counter() - started
        setattr(screen, name, timed)


def sip_event(b_leg: str, n: int) -> dict:
    text = f"OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-b{n}\r\n" \
           f"From: <sip:gw@127.0.0.2>;tag=b\r\nTo: <sip:pbx@127.0.0.10>;tag=p\r\nCall-ID: {b_leg}\r\n" \
           f"CSeq: {10_000 + n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    return {"ev": "sip", "t": time.time(), "dir": "tx", "remote": "127.0.0.10:5060", "local": "127.0.0.2:5060",
            "text": text}


async def measure(size: int, events: int) -> None:
    records = load_recording(EVENTS / "inbound_ok.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        app = TrunkLabApp(Path(tmp) / "ui.db", deterministic=True,
                          engine_factory=lambda store: Lab(store, supervisor_factory=recorded_supervisor_factory(records)))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            b_leg = big_call(app.lab, size)
            started = time.perf_counter()
            await pilot.press("c")
            await pilot.pause()
            ladder = app.screen.query_one("#ladder")
            shown = (time.perf_counter() - started) * 1000
            rungs = len(ladder.rungs)
            meter = Meter(app.screen)
            call = next(c for c in app.lab.book.calls.values() if not c.external)
            leg = next(iter(call.legs))

            async def one(event_of, agent: str) -> float:
                meter.spent = 0.0
                app.lab.on_agent_event(agent, event_of())
                await pilot.pause()
                return meter.spent * 1000

            n = iter(range(1, 1_000_000))
            figures = lambda: {"ev": "media", "t": time.time(), "sip_call_id": leg[1],  # noqa: E731
                               "rx": {"pkt": next(n)}, "tx": {"pkt": 1}}
            call_state = lambda: {"ev": "call", "t": time.time(), "sip_call_id": call.a_leg,  # noqa: E731
                                  "state": "confirmed", "ref": call.ref, "setup_ms": 50.0}
            results = {}
            for what, event_of, agent in (("a new SIP message (a rung)", lambda: sip_event(b_leg, next(n)), "gateway 127.0.0.2"),
                                          ("its media figures", figures, leg[0]),
                                          ("its state (CallChanged)", call_state, "pstn")):
                results[what] = statistics.median([await one(event_of, agent) for _ in range(events)])
            # the ladder scrolled to its end, its cursor on the last rung (what the trainee reads)
            ladder.focus()
            ladder.action_move("all")
            await pilot.pause()
            results["a new SIP message, at the end"] = statistics.median(
                [await one(lambda: sip_event(b_leg, next(n)), "gateway 127.0.0.2") for _ in range(events)])
            app.screen.query_one("#call-list").focus()
            await pilot.pause()
            pages = []
            for _ in range(20):
                started = time.perf_counter()
                ladder.action_move("page")
                await pilot.pause()
                pages.append((time.perf_counter() - started) * 1000)
            print(f"{rungs:>6} rungs on screen: shown in {shown:7.1f} ms (Pilot included); "
                  f"a page down {statistics.median(pages):5.1f} ms (Pilot included)")
            for what, ms in results.items():
                print(f"        one engine event, {what + ':':<32} {ms:6.2f} ms (handler, layout and repaint)")
            await app.action_quit()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--events", type=int, default=200)
    options = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    records = load_recording(EVENTS / "inbound_ok.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app = TrunkLabApp(Path(tmp) / "ui.db", deterministic=True,
                          engine_factory=lambda store: Lab(store, supervisor_factory=recorded_supervisor_factory(records)))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            print(f"start to first screen: {(time.perf_counter() - started) * 1000:8.1f} ms")
            await app.action_quit()
    for size in options.messages:
        await measure(size, options.events)
    print(f"load average after:  {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
