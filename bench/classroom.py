"""A scripted classroom: how many trainees one machine holds.

    .venv/bin/python bench/classroom.py [--trainees 4,8,12,16] [--minutes 3] [--labs 185-214]

For each room size N: `app.py web` is started as the trainer would, and N trainees join it,
one every half second. Each trainee is a websocket client that speaks textual-serve's protocol
as the browser's page does (a name posted to the join link, the session cookie, then key
presses as ["stdin", KEY] and the console's screen bytes read and dropped): no browser runs, so
that the machine's CPU goes to what the trainer's machine would really run (the server, the
real consoles, their real agents).

The trainer then hands out "The PBX sends a stale VoIP token" to everyone (the dashboard's
"Give to everyone", as a POST to its action), and every trainee fixes it the way the exercise
teaches (PBX settings b, copy from the portal u, back to Home d) and runs the Verification
Checklist (k) every 20 s, trainees staggered over those 20 s. The dashboard's own data
(room.json, polled every second as the trainer's page does) tells when each check finished and
how: a check passes when all four items pass (the trunk is fixed, so anything else is the
machine failing the trainee).

Printed per trainee: join time (the join posted -> the console's first screen bytes, and -> its
four agents running). Printed per N: checks passed / run; check duration p50 and p95 (the lab's
own start-to-finish); dashboard lag (a check's end to the dashboard showing it, polling
included) p50 and max; PSS per trainee (the server, the consoles and their agents,
/proc/PID/smaps_rollup, divided by N); CPU per trainee (the same processes, utime+stime over
the checking phase, in % of one core); the bench client's own CPU; whether the goal held (every
check passed, dashboard lag <= 2 s, PSS <= 150 MiB per trainee); and `uptime` before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CHECK_EVERY_S = 20.0
CHECK_GIVE_UP_S = 90.0  # a check not on the dashboard by then did not happen
EXERCISE = "stale_voip_token"
GOAL_LAG_S = 2.0
GOAL_PSS_MIB = 150.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- processes

def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == parent:
                found.append(int(entry.name))
    return found


def tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children(pid)
    return pids


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


def pss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kind_of(pid: int, server: int) -> str:
    """server, console, or the agent's role."""
    if pid == server:
        return "server"
    line = cmdline(pid)
    return line.split("sip.agent ", 1)[1].split()[0] if "sip.agent " in line else "console"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------- one trainee

@dataclass
class Trainee:
    name: str
    http: aiohttp.ClientSession
    id: str = ""
    lab: int = 0
    ws: aiohttp.ClientWebSocketResponse | None = None
    received: int = 0
    joined_at: float = 0.0  # monotonic: the join posted
    on_screen_s: float | None = None  # -> the console's first screen bytes
    agents_s: float | None = None  # -> its four agents running
    sent_at: list[float] = field(default_factory=list)  # when each k was pressed
    seen: dict[int, tuple[float, dict]] = field(default_factory=dict)  # finished_at -> (seen at, check)
    exercise_started: bool = False
    last_finished: float | None = None

    async def keys(self, *keys: str, gap: float = 0.4) -> None:
        for key in keys:
            await self.ws.send_str(json.dumps(["stdin", key]))
            await asyncio.sleep(gap)

    async def read_screen(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                if self.on_screen_s is None and len(message.data) > 100:  # a screen, not the terminal modes
                    self.on_screen_s = time.monotonic() - self.joined_at
                self.received += len(message.data)


@dataclass
class Room:
    process: subprocess.Popen
    trainee_url: str
    trainer_url: str
    folder: Path


def start_room(port: int, labs: str, max_trainees: int, folder: Path) -> Room:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--lab", labs, "web", "--port", str(port),
         "--max-trainees", str(max_trainees), "--sessions-dir", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    links = {}
    while len(links) < 2:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the classroom did not start")
        if match := re.match(r"(trainee|trainer): (\S+)$", line.strip()):
            links[match.group(1)] = match.group(2)
    import threading

    threading.Thread(target=lambda: [None for _ in iter(process.stdout.readline, "")], daemon=True).start()
    return Room(process, links["trainee"], links["trainer"], folder)


def stop_room(room: Room) -> None:
    room.process.send_signal(signal.SIGTERM)
    try:
        room.process.wait(60)
    except subprocess.TimeoutExpired:
        room.process.kill()
        room.process.wait()


async def join(room: Room, name: str) -> Trainee:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    joined_at = time.monotonic()
    async with http.post(room.trainee_url, data={"name": name}) as answer:
        if answer.status != 200:
            raise SystemExit(f"{name} could not join: {answer.status} {await answer.text()}")
    trainee = Trainee(name, http, joined_at=joined_at)
    trainee.ws = await http.ws_connect(f"{room.trainee_url}/ws?width=120&height=40", max_msg_size=0)
    await trainee.ws.send_str(json.dumps(["resize", {"width": 120, "height": 40}]))
    return trainee


async def fetch_room(http: aiohttp.ClientSession, room: Room) -> tuple[dict, float]:
    started = time.monotonic()
    async with http.get(f"{room.trainer_url}room.json") as answer:
        return await answer.json(), time.monotonic() - started


# ---------------------------------------------------------------------------- one room size

async def run_room(size: int, minutes: float, labs: str, folder: Path) -> dict:
    room = start_room(free_port(), labs, size, folder)
    trainer = aiohttp.ClientSession()
    trainees: list[Trainee] = []
    readers: list[asyncio.Task] = []
    try:
        async def agents_up() -> None:  # each trainee's console and its four agents, as they come
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and any(t.agents_s is None for t in trainees[:size]):
                for console in children(room.process.pid):
                    line = cmdline(console)
                    trainee = next((t for t in trainees if t.lab and f"--lab {t.lab} " in line), None)
                    if trainee is None or trainee.agents_s is not None:
                        continue
                    if sum(1 for pid in children(console) if "sip.agent" in cmdline(pid)) == 4:
                        trainee.agents_s = time.monotonic() - trainee.joined_at
                await asyncio.sleep(0.1)

        watching_agents = None
        for number in range(size):  # a room fills over some seconds, not in one instant
            trainee = await join(room, f"trainee {number + 1:02d}")
            trainees.append(trainee)
            document, _ = await fetch_room(trainer, room)
            row = next(r for r in document["trainees"] if r["name"] == trainee.name)
            trainee.id, trainee.lab = row["id"], row["lab"]
            readers.append(asyncio.create_task(trainee.read_screen()))
            watching_agents = watching_agents or asyncio.create_task(agents_up())
            await asyncio.sleep(0.5)
        await watching_agents
        if any(t.agents_s is None for t in trainees):
            raise SystemExit(f"N={size}: the consoles did not all start their agents within 120 s")
        for trainee in trainees:
            on_screen = f"{trainee.on_screen_s:.1f} s" if trainee.on_screen_s is not None else "never"
            print(f"      {trainee.name} (lab {trainee.lab}): joined -> console on screen {on_screen}, "
                  f"-> four agents running {trainee.agents_s:.1f} s", flush=True)
        await asyncio.sleep(5)  # the agents configured

        # the trainer hands out the exercise to everyone; each trainee fixes it, with keys
        async with trainer.post(f"{room.trainer_url}action",
                                json={"action": "give", "trainee": "all", "scenario": EXERCISE}) as answer:
            reply = await answer.json()
            if not reply.get("ok"):
                raise SystemExit(f"N={size}: giving the exercise failed: {reply}")
        await asyncio.sleep(2)  # the consoles follow their databases

        async def fix(trainee: Trainee) -> None:
            await trainee.keys("b", "u", "d")
        await asyncio.gather(*(fix(t) for t in trainees))
        document, _ = await fetch_room(trainer, room)
        started = {row["id"] for row in document["trainees"] if row["exercise"] == EXERCISE}
        for trainee in trainees:
            trainee.exercise_started = trainee.id in started
        await asyncio.sleep(3)

        # the checking phase: k every 20 s per trainee, staggered; the dashboard polled every second
        phase_end = time.monotonic() + minutes * 60
        pids = tree(room.process.pid)
        cpu_before = {pid: cpu_seconds(pid) for pid in pids}
        client_before = time.process_time()
        wall_before = time.monotonic()
        pss_samples: list[float] = []
        fetch_times: list[float] = []

        async def watch() -> None:
            while time.monotonic() < phase_end + CHECK_GIVE_UP_S:
                document, took = await fetch_room(trainer, room)
                fetch_times.append(took)
                now = time.time()
                by_id = {row["id"]: row for row in document["trainees"]}
                for trainee in trainees:
                    check = by_id.get(trainee.id, {}).get("last_check")
                    if check and check["finished_at"] not in trainee.seen:
                        trainee.seen[check["finished_at"]] = (now, check)
                        trainee.last_finished = check["finished_at"]
                if time.monotonic() > phase_end and all(len(t.seen) >= len(t.sent_at) for t in trainees):
                    return
                await asyncio.sleep(1.0)

        async def checks(trainee: Trainee, offset: float) -> None:
            await asyncio.sleep(offset)
            while time.monotonic() < phase_end:
                before = len(trainee.seen)
                trainee.sent_at.append(time.time())
                await trainee.keys("k", gap=0)
                next_at = time.monotonic() + CHECK_EVERY_S
                while len(trainee.seen) == before and time.monotonic() < next_at + CHECK_GIVE_UP_S:
                    await asyncio.sleep(0.5)  # never press k while a check runs (it would be refused)
                await asyncio.sleep(max(0.5, next_at - time.monotonic()))

        async def sample_memory() -> None:
            while time.monotonic() < phase_end:
                await asyncio.sleep(minutes * 60 / 3)
                pss_samples.append(sum(pss_mib(pid) for pid in tree(room.process.pid)))

        await asyncio.gather(watch(), sample_memory(),
                             *(checks(t, CHECK_EVERY_S * i / size) for i, t in enumerate(trainees)))
        wall = time.monotonic() - wall_before
        spent = {pid: cpu_seconds(pid) - before for pid, before in cpu_before.items()}
        cpu = sum(spent.values())
        kinds: dict[str, float] = {}
        for pid, seconds in spent.items():
            kind = kind_of(pid, room.process.pid)
            kinds[kind] = kinds.get(kind, 0.0) + seconds
        client_cpu = time.process_time() - client_before

        runs = [check for t in trainees for _, check in t.seen.values()]
        lags = [seen_at - check["finished_at"] for t in trainees for seen_at, check in t.seen.values()]
        durations = [c["finished_at"] - c["started_at"] for c in runs]
        passed = sum(1 for c in runs if c["passed"])
        pressed = sum(len(t.sent_at) for t in trainees)
        joins = [t.on_screen_s for t in trainees if t.on_screen_s is not None]
        pss = statistics.mean(pss_samples) / size if pss_samples else float("nan")
        lag_max = max(lags) if lags else float("nan")
        missed = []
        if not runs or passed < pressed:
            failing = [c for c in runs if not c["passed"]]
            missed.append(f"{pressed - passed} of {pressed} checks did not pass ({pressed - len(runs)} pressed but "
                          f"never seen finished; {len(failing)} finished failing"
                          + "".join(f"; items {c.get('items')}" for c in failing[:3]) + ")")
        if not lag_max <= GOAL_LAG_S:
            missed.append(f"dashboard lag {lag_max:.2f} s > {GOAL_LAG_S:.0f} s")
        if not pss <= GOAL_PSS_MIB:
            missed.append(f"PSS {pss:.0f} MiB per trainee > {GOAL_PSS_MIB:.0f}")
        return {
            "N": size, "exercise started": sum(t.exercise_started for t in trainees),
            "join p50": percentile(joins, 0.5), "join max": max(joins) if joins else float("nan"),
            "agents max": max(t.agents_s for t in trainees),
            "goal": "held" if not missed else "missed: " + "; ".join(missed),
            "checks": f"{passed}/{pressed}", "passed": passed, "pressed": pressed,
            "duration p50": percentile(durations, 0.5), "duration p95": percentile(durations, 0.95),
            "lag p50": percentile(lags, 0.5), "lag max": lag_max,
            "room.json p95 ms": 1000 * percentile(fetch_times, 0.95),
            "PSS per trainee MiB": pss,
            "CPU per trainee %": 100 * cpu / wall / size, "CPU total %": 100 * cpu / wall,
            "client CPU %": 100 * client_cpu / wall, "load": load_average(),
            "CPU per trainee by process %": {kind: round(100 * seconds / wall / size, 2) for kind, seconds in kinds.items()},
        }
    finally:
        for trainee in trainees:
            if trainee.ws is not None:
                await trainee.ws.close()
            await trainee.http.close()
        for reader in readers:
            reader.cancel()
        await trainer.close()
        stop_room(room)


def print_row(result: dict) -> None:
    print(f"N={result['N']:>2}  joined -> on screen p50 {result['join p50']:.1f} s max {result['join max']:.1f} s, "
          f"agents running max {result['agents max']:.1f} s  checks {result['checks']:>7} passed  "
          f"(exercise running for {result['exercise started']}/{result['N']})  "
          f"check p50 {result['duration p50']:.1f} s p95 {result['duration p95']:.1f} s  "
          f"dashboard lag p50 {result['lag p50']:.2f} s max {result['lag max']:.2f} s  "
          f"room.json p95 {result['room.json p95 ms']:.0f} ms  "
          f"PSS/trainee {result['PSS per trainee MiB']:.0f} MiB  CPU/trainee {result['CPU per trainee %']:.1f} % "
          f"(room {result['CPU total %']:.0f} %, bench client {result['client CPU %']:.0f} %)  load {result['load']}",
          flush=True)
    print(f"      CPU per trainee by process: "
          + ", ".join(f"{kind} {share:.2f} %" for kind, share in sorted(result["CPU per trainee by process %"].items())),
          flush=True)
    print(f"      goal (every check passed, dashboard lag <= {GOAL_LAG_S:.0f} s, PSS <= {GOAL_PSS_MIB:.0f} MiB "
          f"per trainee): {result['goal']}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainees", default="4,8,12,16", help="room sizes to run, in order (default 4,8,12,16)")
    parser.add_argument("--minutes", type=float, default=3.0, help="the checking phase per room size (default 3)")
    parser.add_argument("--labs", default="185-214", help="the labs the rooms may use (default 185-214)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.trainees.split(",")]
    print(f"classroom bench: {os.cpu_count()} cores; checks every {CHECK_EVERY_S:.0f} s for {args.minutes:g} min "
          f"per room size", flush=True)
    print(f"uptime: {uptime()}", flush=True)
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="trunklab-bench-") as folder:
            print_row(await run_room(size, args.minutes, args.labs, Path(folder) / "room"))
        print(f"uptime: {uptime()}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
