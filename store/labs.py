"""Several labs on one machine: lab N owns the loopback block 127.0.N.0/24 and a database of
its own, so a trainer can run one lab per trainee and tests can run labs side by side.

A process that runs agents reserves its lab for as long as it lives: an exclusive `flock` on
a lock file per lab number. The kernel drops the lock when the process ends, however it ends,
so a crashed lab never leaves a stale reservation. Choosing a free lab takes the lock first
and only then probes the block's SIP addresses with a bind, so two processes choosing at the
same moment never pick the same number, and a lab started without a reservation (an older
trunklab, a test fixture) is still seen as busy.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .dbfile import make_private_folder
from .defaults import AddressPlan
from .errors import StoreError
from .paths import default_db_path
from .records import Account

LAST_LAB = 254
# `--lab auto` leaves lab 0 alone: it is the plain `./lab` of whoever owns the machine.
AUTO_LABS = range(1, LAST_LAB + 1)


class LabError(StoreError):
    """A lab number that is malformed, taken, or does not match the database."""


def parse_labs(text: str) -> range:
    """What `--lab` accepts: N (0-254), 'auto' (the first free lab from 1), or A-B (the first
    free lab from A to B). Always a range: one number is a range of one."""
    value = text.strip().lower()
    if value == "auto":
        return AUTO_LABS
    first, dash, last = value.partition("-")
    try:
        low, high = int(first), int(last if dash else first)
    except ValueError:
        raise LabError(f"--lab takes a number from 0 to {LAST_LAB}, 'auto', or a range like 60-90; not {text!r}") from None
    if not (0 <= low <= LAST_LAB and 0 <= high <= LAST_LAB):
        raise LabError(f"--lab {text}: a lab number is 0 to {LAST_LAB} (lab N uses 127.0.N.0/24)")
    if low > high:
        raise LabError(f"--lab {text}: the range is empty (write the lower number first)")
    return range(low, high + 1)


def lab_block(number: int) -> str:
    return f"127.0.{number}.0/24"


def lab_plan(number: int) -> AddressPlan:
    return AddressPlan.in_block(lab_block(number))


def lab_db_path(number: int) -> Path:
    """Each lab's own database in the user data directory: trunklab.db for lab 0 (the file
    trunklab always used), trunklab-lab-N.db for the others."""
    name = "trunklab.db" if number == 0 else f"trunklab-lab-{number}.db"
    return default_db_path().with_name(name)


def default_lock_dir() -> Path:
    return default_db_path().parent / "locks"


# ---------------------------------------------------------------------------- the database's block

def plan_mismatch(account: Account, number: int, path: Path) -> str | None:
    """None when every lab address of the account is in lab `number`'s block, else the one
    line that says whose database this is."""
    block = ipaddress.ip_network(lab_block(number))
    addresses = [a.ip for a in account.system_gateway.addresses] + [p.ip for p in account.parties]
    outside = [ip for ip in addresses if ipaddress.ip_address(ip) not in block]
    if not outside:
        return None
    stored = ipaddress.ip_network(f"{outside[0]}/24", strict=False)
    owner = _lab_of(stored)
    whose = f"lab {owner} ({stored})" if owner is not None else f"the block {stored}"
    hint = f"use --lab {owner}" if owner is not None else "leave out --lab"
    return f"{path} belongs to {whose}, not to lab {number} ({block}): {hint}, or give another --db; nothing was changed"


def _lab_of(block: ipaddress.IPv4Network | ipaddress.IPv6Network) -> int | None:
    text = str(block)
    if text.startswith("127.0.") and text.endswith(".0/24"):
        return int(text.split(".")[2])
    return None


# ---------------------------------------------------------------------------- reservations

@dataclass
class Reservation:
    """Lab `number`, held by this process until release() or exit."""

    number: int
    _fd: int

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = -1


def try_reserve(number: int, lock_dir: Path | None = None) -> Reservation | None:
    """Take lab `number`'s lock, or None if another process (or another open of the file in
    this one) holds it. The file records the holder's pid for error messages."""
    lock_dir = lock_dir or default_lock_dir()
    make_private_folder(lock_dir)  # beside the databases: the data folder is made owner-only
    fd = os.open(lock_dir / f"lab-{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return Reservation(number, fd)


def holder_of(number: int, lock_dir: Path | None = None) -> str:
    """The pid written by the process holding lab `number`, for a message ('' if unknown)."""
    try:
        return ((lock_dir or default_lock_dir()) / f"lab-{number}.lock").read_text().strip()
    except OSError:
        return ""


def addresses_in_use(plan: AddressPlan) -> list[str]:
    """The block's SIP addresses that something already holds, found by binding each one."""
    busy = []
    for ip in (*plan.gateway_ips, plan.pbx_ip, plan.pbx_roaming_ip, plan.pstn_ip):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((ip, plan.sip_port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                busy.append(f"{ip}:{plan.sip_port}")
    return busy


def reserve(number: int, lock_dir: Path | None = None) -> Reservation:
    """Lab `number` asked for by name: refused at once if another trunklab holds it."""
    held = try_reserve(number, lock_dir)
    if held is None:
        pid = holder_of(number, lock_dir)
        raise LabError(f"lab {number} ({lab_block(number)}) is in use by another trunklab"
                       f"{f' (pid {pid})' if pid else ''}: choose another --lab, or --lab auto")
    return held


def reserve_first_free(numbers: Iterable[int], lock_dir: Path | None = None) -> Reservation:
    """The first lab in `numbers` that no process has reserved and whose addresses are free."""
    numbers = list(numbers)
    for number in numbers:
        held = try_reserve(number, lock_dir)
        if held is None:
            continue
        if not addresses_in_use(lab_plan(number)):
            return held
        held.release()  # a lab without a reservation runs there: keep looking
    span = f"{numbers[0]}-{numbers[-1]}" if numbers else "(none)"
    raise LabError(f"no free lab among {span}: every one is in use on this machine")
