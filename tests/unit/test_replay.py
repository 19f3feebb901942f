"""sip.replay: a recorded session through the real Lab (no agents), as the console's snapshots use it."""

from __future__ import annotations

from sip.lab import Lab
from sip.replay import load_recording, recorded_supervisor_factory
from store import Store
from tests.support.replay import EVENTS


async def test_a_recording_replays_into_the_lab(db_path):
    async with await Store.open(db_path) as store:
        lab = Lab(store, supervisor_factory=recorded_supervisor_factory(load_recording(EVENTS / "inbound_ok.jsonl")))
        await lab.start()
        calls = [c for c in lab.book.calls.values() if not c.external]
        assert len(calls) == 1 and calls[0].final_code == 200 and calls[0].heard == {"pstn": True, "pbx": True}
        assert set(lab.agent_states.values()) == {"up"}
        # the lab still configured its (absent) agents as it would real ones
        assert {name for name, _ in lab.supervisor.sent} == {"gateway 127.0.0.2", "gateway 127.0.0.3", "pbx"}
        await lab.stop()
        await lab.wait_until(lambda: False, 0.5)
        assert len(await store.calls()) == 1  # the CDR was written as for a live call
