"""Which process owns a call in progress, and whether that process still runs (Linux /proc).

A pid alone cannot say: pids are reused. The kernel's start time of the process (clock ticks
since boot, field 22 of /proc/PID/stat) together with the boot's id names one process for good.
"""

from __future__ import annotations

from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def identity(pid: int) -> str:
    """'<boot id>/<start time>' of a running process; '' when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = BOOT_ID.read_text().strip()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    if fields[0] in ("Z", "X"):  # a zombie runs nothing any more
        return ""
    return f"{boot}/{fields[19]}"  # fields[0] is field 3 (the state), so field 22 is fields[19]


def still_running(pid: int | None, owner: str) -> bool:
    """True when process `pid` is the one recorded as `owner` and it still runs."""
    return pid is not None and bool(owner) and identity(pid) == owner
