"""Deterministic consoles: fixed SIDs and tokens, UTC clock, recorded engine events (no agents)."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from screens.lab_app import TrunkLabApp
from sip.lab import Lab
from sip.replay import load_recording, recorded_supervisor_factory
from store import AddressPlan, Store
from tests.support.replay import EVENTS


def fixed_ids(prefix: str):
    counter = itertools.count(1)
    return lambda: f"{prefix}-0000-4000-8000-{next(counter):012d}"


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def prepared(db: Path, edit=None) -> None:
    """Create the database with fixed SIDs, then apply edit(store) before the console opens it."""
    async with await Store.open(db, new_sid=fixed_ids("00000000"), new_token=fixed_ids("70000000")) as store:
        if edit is not None:
            await edit(store)


def prepare(db: Path, edit=None) -> None:
    """prepared(), for the synchronous snapshot tests."""
    asyncio.run(prepared(db, edit))


def console(db: Path, *recordings: str) -> TrunkLabApp:
    records = [r for i, name in enumerate(recordings)
               for r in load_recording(EVENTS / f"{name}.jsonl", ref_prefix=f"r{i}-")]
    return TrunkLabApp(
        db,
        engine_factory=lambda store: Lab(store, supervisor_factory=recorded_supervisor_factory(records)),
        # records made in the console get their own fixed series (prepare() seeded the others)
        new_sid=fixed_ids("01000000"), new_token=fixed_ids("71000000"), deterministic=True,
        clock=lambda: FIXED_NOW,
    )


def arrive(app: TrunkLabApp, record: dict) -> None:
    """One recorded record reaches a running console's lab, as from the agents (or from the
    lab itself: the call it placed)."""
    event = record["event"]
    if record["source"] == "lab":
        if event.get("ev") == "placed":
            details = {k: v for k, v in event.items() if k not in ("ev", "t", "ref")}
            app.lab.open_call(event["ref"], started_at=event["t"], **details)
    else:
        app.lab.on_agent_event(record["source"], event)


FIXED_NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC: the snapshots' "now"


def exercise_checked(scenario_name: str, *recordings: str, after_s: float = 95.0, hints: int = 0):
    """An edit for prepare(): the exercise started, then one "Check my fix" judged from the
    recorded calls (the real checklist and judge over replayed events, no agents), then `hints`
    hints asked for (each chosen as the console would)."""
    from sip.checklist import evaluate
    from sip.exercise import hint_for, judge
    from store.scenario import find, load
    from tests.support.replay import replay

    async def edit(store: Store) -> None:
        scenario = find(scenario_name)
        await load(store, scenario)
        await store.start_exercise(scenario.name, now=FIXED_NOW - after_s)
        account = await store.account()
        calls = [c for name in recordings for c in replay(name).calls.values()]
        outcome = judge(evaluate(calls, account), calls, account)
        progress = await store.record_check(scenario.name, passed=outcome.passed, checklist=outcome.checklist,
                                            ladder=outcome.ladder, now=FIXED_NOW)
        for _ in range(hints):
            progress = await store.give_hint(scenario.name, hint_for(scenario, progress).text)

    return edit


async def remove_gateway3_rule(store: Store) -> None:
    account = await store.account()
    await store.remove_firewall_rule(next(r.rule_id for r in account.firewall_rules if r.cidr == "127.0.0.3/32"))


async def unassign_all(store: Store) -> None:
    for did in (await store.account()).dids:
        await store.assign_did(did.did_sid, None)


# ---------------------------------------------------------------------------- live consoles (real agents)


async def settle(pilot, predicate, tries: int = 50) -> bool:
    """Let the app run until predicate() holds, 50 ms at a time, at most `tries` times."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if predicate():
            return True
    return False


def agents_up(app: TrunkLabApp) -> bool:
    return app.lab is not None and set(app.lab.agent_states.values()) == {"up"}


async def live_console(db: Path, **lab_options) -> TrunkLabApp:
    """A console on a new database in a loopback block of its own, with real agents (Lab
    options such as capture=True pass through)."""
    from tests.conftest import next_block

    async with await Store.open(db, plan=AddressPlan.in_block(next_block())):
        pass
    return TrunkLabApp(db, engine_factory=lambda store: Lab(store, b_leg_timeout_s=1.5, **lab_options))
