"""`python app.py web`: the options turned into a room and a server; and the console side of a
classroom session (`--web-session`)."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import time
from pathlib import Path

import platformdirs

from store import labs

from .classroom import ROOM_FILE, Classroom, RoomFileError

DEFAULT_MAX_TRAINEES = 30


class WebOptionError(ValueError):
    """An option of `web` that cannot work, in one line."""


def web_root() -> Path:
    return Path(platformdirs.user_data_dir("trunklab", appauthor=False)) / "web"


def default_sessions_dir() -> Path:
    """A new room's folder: one per server start, unless --sessions-dir or --resume says otherwise."""
    return web_root() / time.strftime("%Y%m%d-%H%M%S")


def latest_room(root: Path | None = None) -> Path:
    """--resume: the newest room folder under the default place."""
    root = root or web_root()
    rooms = sorted((p for p in root.glob("*") if (p / ROOM_FILE).is_file()), key=lambda p: p.stat().st_mtime)
    if not rooms:
        raise WebOptionError(f"--resume: there is no room to resume under {root}")
    return rooms[-1]


def listen_address(host: str) -> str:
    """Any address or name of this machine may serve the page; say so for a name that is none."""
    if host in ("localhost", "0.0.0.0", "::"):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not host or any(c.isspace() or c in "/@" for c in host):
            raise WebOptionError(f"--host {host!r}: give an address of this machine (e.g. 0.0.0.0 for every interface)") from None
    return host


def serve(*, host: str, port: int, lab_choice: str, sessions_dir: str | None, resume: bool, max_trainees: int,
          certfile: str | None, keyfile: str | None, public_url: str | None) -> int:
    from .server import public_base, run, tls_context

    host = listen_address(host)
    if not 1 <= port <= 65535:
        raise WebOptionError(f"--port {port}: a port is 1-65535")
    if max_trainees < 1:
        raise WebOptionError("--max-trainees: at least 1")
    if keyfile and not certfile:
        raise WebOptionError("--keyfile needs --certfile")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise WebOptionError(f"--public-url {public_url}: give the address trainees open, e.g. https://class.example.org")
    numbers = labs.parse_labs(lab_choice)
    if sessions_dir and resume:
        raise WebOptionError("--resume takes the newest room; --sessions-dir names one: give one of them")
    folder = Path(sessions_dir).expanduser() if sessions_dir else latest_room() if resume else default_sessions_dir()
    tls = tls_context(certfile, keyfile) if certfile else None
    os.umask(0o077)  # the room's folder, its databases (VoIP tokens), exports: owner-only
    try:
        room = Classroom.open(folder, numbers, max_trainees)
    except RoomFileError as error:
        raise WebOptionError(str(error)) from None
    base = public_base(host, port, tls is not None, public_url)
    joined = len(room.state.active())
    trainees = f"{joined} trainee" + ("" if joined == 1 else "s")
    print(f"trunklab web: room in {folder} ({trainees} so far; labs "
          f"{numbers[0]}-{numbers[-1]}, at most {max_trainees} trainees)", flush=True)
    links = (f"{base}/join/{room.state.code}", f"{base}/trainer/{room.state.secret}/")
    run(room, host, port, tls=tls, links=links, say=lambda line: print(line, flush=True))
    return 0


def end_with_parent() -> None:
    """A classroom console: SIGTERM when the server dies, however it dies. The web driver turns
    SIGTERM into a clean quit, which stops the agents."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the server died before prctl took effect
        sys.exit(1)
