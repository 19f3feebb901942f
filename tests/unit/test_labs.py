"""Lab numbers, their blocks and databases, and choosing a free lab (store/labs.py).

Lab numbers here are 60-90, away from the blocks other tests use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from store import AddressPlan, Store
from store.labs import (
    AUTO_LABS,
    LabError,
    addresses_in_use,
    lab_block,
    lab_db_path,
    lab_plan,
    parse_labs,
    plan_mismatch,
    reserve,
    reserve_first_free,
    try_reserve,
)

ROOT = Path(__file__).resolve().parent.parent.parent


# ---------------------------------------------------------------------------- --lab's value

@pytest.mark.parametrize("text, expected", [
    ("0", range(0, 1)), ("61", range(61, 62)), ("254", range(254, 255)), (" 7 ", range(7, 8)),
    ("auto", AUTO_LABS), ("AUTO", AUTO_LABS), ("60-90", range(60, 91)), ("70-70", range(70, 71)),
])
def test_lab_values(text, expected):
    assert parse_labs(text) == expected


def test_auto_leaves_lab_0_to_the_plain_lab():
    assert AUTO_LABS[0] == 1 and AUTO_LABS[-1] == 254


@pytest.mark.parametrize("text, words", [
    ("255", "a lab number is 0 to 254"), ("1000", "a lab number is 0 to 254"),
    ("60-300", "a lab number is 0 to 254"), ("x", "not 'x'"), ("", "not ''"), ("-1", "not '-1'"),
    ("7.5", "not '7.5'"), ("90-60", "the range is empty"), ("auto-3", "not 'auto-3'"),
])
def test_bad_lab_values_are_one_clear_line(text, words):
    with pytest.raises(LabError) as refused:
        parse_labs(text)
    assert words in refused.value.message and "\n" not in refused.value.message


def test_lab_n_is_block_127_0_n():
    plan = lab_plan(61)
    assert lab_block(61) == "127.0.61.0/24"
    assert plan == AddressPlan.in_block("127.0.61.0/24")
    assert (plan.gateway_ips, plan.pbx_ip, plan.pstn_ip) == (("127.0.61.2", "127.0.61.3"), "127.0.61.10", "127.0.61.20")


def test_each_lab_has_its_own_database_file(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert lab_db_path(0) == tmp_path / "trunklab" / "trunklab.db"  # the file trunklab always used
    assert lab_db_path(61) == tmp_path / "trunklab" / "trunklab-lab-61.db"
    assert len({lab_db_path(n) for n in range(255)}) == 255


# ---------------------------------------------------------------------------- the database's block

async def test_a_database_matches_its_own_lab_only(tmp_path):
    path = tmp_path / "lab61.db"
    async with await Store.open(path, plan=lab_plan(61)) as store:
        account = await store.account()
    assert plan_mismatch(account, 61, path) is None
    problem = plan_mismatch(account, 62, path)
    assert problem == (f"{path} belongs to lab 61 (127.0.61.0/24), not to lab 62 (127.0.62.0/24): "
                       "use --lab 61, or give another --db; nothing was changed")


async def test_a_database_outside_any_numbered_lab(tmp_path):
    path = tmp_path / "other.db"
    async with await Store.open(path, plan=AddressPlan.in_block("127.1.0.0/24")) as store:
        problem = plan_mismatch(await store.account(), 0, path)
    assert "belongs to the block 127.1.0.0/24, not to lab 0 (127.0.0.0/24): leave out --lab" in problem


async def test_a_moved_party_is_a_mismatch_too(tmp_path):
    async with await Store.open(tmp_path / "lab.db", plan=lab_plan(63)) as store:
        await store.set_party("pstn", "127.0.64.20")
        assert "lab 64 (127.0.64.0/24)" in plan_mismatch(await store.account(), 63, store.path)


# ---------------------------------------------------------------------------- reservations

def test_a_lab_is_held_until_released(tmp_path):
    held = try_reserve(61, tmp_path)
    assert held is not None and held.number == 61
    assert try_reserve(61, tmp_path) is None  # a second holder, even in the same process
    assert try_reserve(62, tmp_path) is not None
    held.release()
    again = try_reserve(61, tmp_path)
    assert again is not None
    again.release()


def test_asking_for_a_held_lab_names_its_holder(tmp_path):
    held = reserve(65, tmp_path)
    with pytest.raises(LabError) as refused:
        reserve(65, tmp_path)
    assert refused.value.message == (f"lab 65 (127.0.65.0/24) is in use by another trunklab (pid {os.getpid()}): "
                                     "choose another --lab, or --lab auto")
    held.release()


def test_first_free_skips_reserved_labs(tmp_path):
    held = [reserve(n, tmp_path) for n in (66, 67)]
    chosen = reserve_first_free(range(66, 70), tmp_path)
    assert chosen.number == 68
    for reservation in (*held, chosen):
        reservation.release()


def test_first_free_skips_a_block_someone_bound_without_a_reservation(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.71.20", 5060))  # like a lab started by an older trunklab
        assert addresses_in_use(lab_plan(71)) == ["127.0.71.20:5060"]
        chosen = reserve_first_free(range(71, 73), tmp_path)
        assert chosen.number == 72
        assert try_reserve(71, tmp_path) is not None  # the probe let go of lab 71's lock
    chosen.release()


def test_no_free_lab_is_a_clear_error(tmp_path):
    held = [reserve(n, tmp_path) for n in (73, 74)]
    with pytest.raises(LabError, match="no free lab among 73-74"):
        reserve_first_free(range(73, 75), tmp_path)
    for reservation in held:
        reservation.release()


CHOOSE = """
import sys
from pathlib import Path
from store.labs import reserve_first_free
chosen = reserve_first_free(range(75, 90), Path(sys.argv[1]))
print(chosen.number, flush=True)
sys.stdin.read()  # hold the lab until the test lets go
"""


def test_processes_starting_at_once_choose_different_labs(tmp_path):
    """Eight processes choose at the same moment: the locks give each a lab of its own."""
    choosers = [subprocess.Popen([sys.executable, "-c", CHOOSE, str(tmp_path)], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(8)]
    try:
        chosen = [int(p.stdout.readline()) for p in choosers]
    finally:
        for p in choosers:
            p.stdin.close()
            p.wait(10)
    assert len(set(chosen)) == 8 and set(chosen) <= set(range(75, 90))
    assert try_reserve(min(chosen), tmp_path) is not None  # a process's end releases its lab
