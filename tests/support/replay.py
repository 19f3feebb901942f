"""Replaying recorded agent events (tests/fixtures/events) through the pure call book."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sip.calls import CallBook, apply_wire
from sip.replay import PLACED_FIELDS
from store.records import Account

from .accounts import default_account

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "events"


def recorded(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVENTS / f"{name}.jsonl").read_text().splitlines() if line]


def scenario_account(name: str) -> Account:
    """The account as it was when the scenario was recorded (record_events.py)."""
    account = default_account()
    if name == "inbound_firewall_drop":
        account = replace(account, firewall_rules=tuple(r for r in account.firewall_rules if r.cidr != "127.0.0.3/32"))
    return account


def replay(name: str, records: list[dict] | None = None, *, firewall=None) -> CallBook:
    """The recording through a fresh call book; firewall: other rules than the recording's."""
    account = scenario_account(name)
    pbx, roaming = account.party("pbx"), account.party("pbx_roaming")
    book = CallBook(pbx_addresses=(f"{pbx.ip}:{pbx.port}", f"{roaming.ip}:{roaming.port}"))
    book.set_firewall(account.firewall_rules if firewall is None else firewall)
    for record in records if records is not None else recorded(name):
        source, event = record["source"], record["event"]
        if source == "lab":
            if event.get("ev") == "placed":  # where the lab opened its call
                book.open(event["ref"], started_at=event["t"], **{k: event[k] for k in PLACED_FIELDS if k in event})
            continue
        apply_wire(book, source.split()[0], record["address"], event)
    return book
