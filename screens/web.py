"""The browser classroom: `python app.py web` serves the console through textual-serve.

Every browser session (one websocket) runs its own console process, started with a lab of
its own (`--lab auto`, or the range the trainer gave) and a fresh database in the sessions
directory. The network rule holds: the server listens on loopback only, and the page it
sends asks the browser for nothing outside this server (textual-serve's own page would fetch
a web font from the internet).

A session ends with its tab: the websocket closes, the console is asked to quit (which stops
its agents), and if it has not gone within a few seconds it is terminated, then killed. A
console also ends when the server dies (PR_SET_PDEATHSIG), and its agents end with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import shlex
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
import platformdirs
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from store.dbfile import make_private_folder

APP_PY = Path(__file__).resolve().parent.parent / "app.py"
QUIT_GRACE_S = 8.0  # a console stops its agents in about 1 s; past this it is stuck
# textual-serve's page links a font stylesheet on the internet; the same font ships in /static.
_EXTERNAL_LINK = re.compile(r"<link[^>]*https?://[^>]*>\s*", re.IGNORECASE)


class HostError(ValueError):
    """--host names an address off the loopback network."""


def loopback_host(host: str) -> str:
    """The host to listen on, refused unless it is loopback: the lab sends nothing off 127/8."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise HostError(f"--host {host}: give a loopback address such as 127.0.0.1") from None
    if not address.is_loopback:
        raise HostError(
            f"--host {host} is not a loopback address: the lab never serves off this machine. "
            "Listen on 127.0.0.1 and let trainees reach it through SSH port forwarding (see the README)")
    return host


def addressed_to_loopback(host_header: str) -> bool:
    """True when the browser reached us by a loopback name or address. A page of another site
    whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name here, and its
    Origin matches it, so the Origin check alone would let it in."""
    hostname = urlsplit(f"//{host_header}").hostname or ""
    try:
        loopback_host(hostname)
    except HostError:
        return False
    return True


def default_sessions_dir() -> Path:
    """Where this server's sessions keep their databases: one folder per server start."""
    data = Path(platformdirs.user_data_dir("trunklab", appauthor=False))
    return data / "web" / time.strftime("%Y%m%d-%H%M%S")


def session_command(labs: str, sessions_dir: Path) -> str:
    """The shell command textual-serve runs per browser session. `exec` makes the console the
    server's own child, so the parent-death signal and the server's terminate reach it."""
    argv = [sys.executable, str(APP_PY), "--lab", labs, "--web-session", str(sessions_dir)]
    return "exec " + shlex.join(argv)


class Session(AppService):
    """One browser session's console process."""

    async def end(self) -> None:
        """Ask the console to quit; terminate, then kill it if it does not."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(self.stop(), QUIT_GRACE_S)
        process = self._process
        if process is None:
            return
        for sig, wait_s in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if process.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), wait_s)


class ClassroomServer(Server):
    def __init__(self, command: str, host: str, port: int) -> None:
        super().__init__(command, host=host, port=port, title="trunklab")
        self.sessions: set[Session] = set()

    async def handle_index(self, request: web.Request) -> web.Response:
        """textual-serve's page, with URLs built from the Host the browser used (so a trainee's
        forwarded port works whatever its number) and no link off this server."""
        if not addressed_to_loopback(request.host):
            raise web.HTTPForbidden(text="open the classroom at http://127.0.0.1:PORT/")
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"ws://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},  # relative: any absolute link is off this server
            "application": {"name": self.title},
        }
        page = aiohttp_jinja2.render_string("app_index.html", request, context)
        return web.Response(text=_EXTERNAL_LINK.sub("", page), content_type="text/html")

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        # A web page elsewhere must not open labs here through the trainee's browser.
        origin = request.headers.get("Origin")
        if not addressed_to_loopback(request.host) or (origin and urlsplit(origin).netloc != request.host):
            raise web.HTTPForbidden(text="cross-origin session refused")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        session = Session(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                          close=websocket.close, download_manager=self.download_manager)
        self.sessions.add(session)
        try:
            await session.start(to_int(request.query.get("width", "80"), 80),
                                to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            await session.end()
            self.sessions.discard(session)
            await websocket.close()
        return websocket

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(session.end() for session in list(self.sessions)), return_exceptions=True)

    async def on_startup(self, app: web.Application) -> None:
        print(f"trunklab web: serving the console on {self.public_url} "
              f"(one lab per browser session); Ctrl-C to stop", flush=True)


def serve(host: str, port: int, labs: str, sessions_dir: Path) -> int:
    host = loopback_host(host)  # refused before anything is created
    make_private_folder(sessions_dir)  # the sessions' databases hold their VoIP tokens: owner-only
    print(f"trunklab web: session databases in {sessions_dir}", flush=True)
    ClassroomServer(session_command(labs, sessions_dir), host, port).serve()
    return 0


def end_with_parent() -> None:
    """A browser session's console: SIGTERM when the server dies, however it dies. The web
    driver turns SIGTERM into a clean quit, which stops the agents."""
    import ctypes
    import os

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the server died before prctl took effect
        sys.exit(1)
