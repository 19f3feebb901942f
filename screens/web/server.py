"""The classroom's web server (aiohttp): the trainees' pages and consoles, the trainer's dashboard.

    /join/CODE              the trainee's link: a name, then their console (a cookie keeps it theirs)
    /join/CODE/ws           their console's websocket (textual-serve's protocol, re-attachable)
    /trainer/SECRET/        the trainer's dashboard; room.json, room.csv, room.md; action (POST);
                            view/ID, a trainee's console read-only
    /static/                textual-serve's page assets (files only, no listing)

Only this page listens where the trainer says (`--host`); the labs' SIP and RTP stay on
loopback. The room code and the trainer's secret are in the links the server prints once, in
nothing it logs (no access log), and compared in constant time. A trainee's session is a
random token in an HttpOnly cookie (SameSite=Strict: another site's page cannot use it), of
which the room keeps only a hash. Websockets and posts from pages of another origin are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from aiohttp import WSMsgType, web

from .classroom import Classroom, Seat, same_secret
from .console import Console, Page
from .room import JoinRefused, room_document, room_markdown, rows_csv

TEMPLATES = Path(__file__).resolve().parent / "templates"
COOKIE = "trunklab_session"
COOKIE_MAX_AGE_S = 24 * 3600  # a day of workshop; the room's own life ends with its folder
STATIC = Path(__import__("textual_serve").__file__).resolve().parent / "static"
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")


def public_base(host: str, port: int, tls: bool, public_url: str | None) -> str:
    """The address printed in the links: --public-url if given (a reverse proxy in front), else
    this machine's name when listening on every interface, else the address given."""
    if public_url:
        return public_url.rstrip("/")
    scheme = "https" if tls else "http"
    name = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in name:  # an IPv6 address
        name = f"[{name}]"
    default = 443 if tls else 80
    return f"{scheme}://{name}" + ("" if port == default else f":{port}")


class ClassroomServer:
    def __init__(self, room: Classroom, *, secure_cookies: bool = False, join_url: str | None = None) -> None:
        self.room = room
        self.secure_cookies = secure_cookies
        self.join_url = join_url  # the trainee link as printed (behind a proxy, the proxy's address)
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)

    # ------------------------------------------------------------------ the application

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self.index),
            web.get("/join/{code}", self.join_page),
            web.post("/join/{code}", self.join),
            web.get("/join/{code}/ws", self.trainee_socket),
            web.get("/join/{code}/alive", self.alive),
            web.get("/trainer/{secret}", self.to_dashboard),
            web.get("/trainer/{secret}/", self.dashboard),
            web.get("/trainer/{secret}/room.json", self.room_json),
            web.get("/trainer/{secret}/room.csv", self.room_csv),
            web.get("/trainer/{secret}/room.md", self.room_md),
            web.post("/trainer/{secret}/action", self.action),
            web.get("/trainer/{secret}/view/{trainee}", self.view_page),
            web.get("/trainer/{secret}/view/{trainee}/ws", self.view_socket),
            web.get("/trainer/{secret}/alive", self.alive_trainer),
            web.static("/static", STATIC, show_index=False, follow_symlinks=False),
        ])
        app.on_shutdown.append(self._shutdown)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler):
        try:
            response = await handler(request)
        except web.HTTPException as error:
            self._harden(request, error.headers)
            raise
        if not response.prepared:  # a websocket's headers went out with its handshake
            self._harden(request, response.headers)
        return response

    @staticmethod
    def _harden(request: web.Request, headers) -> None:
        headers.setdefault("Referrer-Policy", "same-origin")  # our links carry a code or a secret: never to another site
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
            headers.setdefault("Content-Security-Policy", CSP)

    async def _shutdown(self, app: web.Application) -> None:
        await self.room.close()

    # ------------------------------------------------------------------ pages

    def render(self, template: str, status: int = 200, **context) -> web.Response:
        text = self.templates.get_template(template).render(**context)
        return web.Response(text=text, status=status, content_type="text/html")

    def message(self, heading: str, message: str, status: int, hint: str = "") -> web.Response:
        return self.render("message.html", status, heading=heading, message=message, hint=hint)

    def refuse_code(self) -> web.Response:
        return self.message("This is not the room's code",
                            "The link you opened does not carry this classroom's room code.", 403,
                            "Check the link your trainer gave you (it ends with the room code), or ask for it again.")

    def refuse_trainer(self) -> web.Response:
        return self.message("Not for you", "This page is the trainer's: its link carries a secret that this one "
                            "does not.", 403)

    @staticmethod
    def same_origin(request: web.Request) -> bool:
        """A browser's request from a page of this server (a request with no Origin is not a
        browser's, and carries no one else's cookie)."""
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    def code_ok(self, request: web.Request) -> bool:
        return same_secret(request.match_info["code"].upper(), self.room.state.code)

    def trainer_ok(self, request: web.Request) -> bool:
        return same_secret(request.match_info["secret"], self.room.state.secret)

    def seat_of(self, request: web.Request) -> Seat | None:
        return self.room.seat_for_token(request.cookies.get(COOKIE))

    # ------------------------------------------------------------------ the trainee

    async def index(self, request: web.Request) -> web.Response:
        return self.message("trunklab classroom", "Open the link your trainer gave you: it ends with the room code.",
                            200)

    async def join_page(self, request: web.Request) -> web.Response:
        if not self.code_ok(request):
            return self.refuse_code()
        seat = self.seat_of(request)
        if seat is None:
            return self.render("join.html", action=request.path, name="", error="")
        return self.console_page(f"trunklab: {seat.trainee.name}, lab {seat.trainee.lab}",
                                 websocket=f"{request.path}/ws", alive=f"{request.path}/alive",
                                 waiting=f"Starting your lab (lab {seat.trainee.lab}) ...")

    def console_page(self, title: str, *, websocket: str, alive: str, waiting: str, viewer: bool = False,
                     badge: str = "", size: tuple[int, int] | None = None, font_size: int = 16) -> web.Response:
        page = {"websocket": websocket, "alive": alive, "viewer": viewer,
                "columns": size[0] if size else None, "rows": size[1] if size else None}
        return self.render("console.html", title=title, page=page, waiting=waiting, badge=badge, font_size=font_size)

    async def join(self, request: web.Request) -> web.Response:
        if not self.same_origin(request):
            return self.message("Refused", "A page of another site cannot join this room.", 403)
        if not self.code_ok(request):
            return self.refuse_code()
        if self.seat_of(request) is not None:  # already in: back to the console (two join forms, one person)
            raise web.HTTPSeeOther(request.path)
        form = await request.post()
        name = str(form.get("name", ""))
        try:
            _, token = await self.room.join(name)
        except JoinRefused as refusal:
            if refusal.kind == "name":
                return self.render("join.html", 400, action=request.path, name=name[:40], error=str(refusal))
            return self.message("No place for you in this room", str(refusal), 503)
        response = web.Response(status=303, headers={"Location": request.path})
        response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict",
                            secure=self.secure_cookies or request.secure, path="/")
        return response

    async def alive(self, request: web.Request) -> web.Response:
        """What a page that lost its connection polls before reloading itself."""
        if not self.code_ok(request):
            return self.refuse_code()
        return web.Response(status=204)

    async def trainee_socket(self, request: web.Request) -> web.StreamResponse:
        if not self.same_origin(request):
            raise web.HTTPForbidden(text="cross-origin session refused")
        if not self.code_ok(request):
            raise web.HTTPForbidden(text="wrong room code")
        seat = self.seat_of(request)
        if seat is None:
            raise web.HTTPForbidden(text="no session: join first")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        width, height = _size(request)
        try:
            console = await self.room.console_for(seat, width, height)
        except JoinRefused as refusal:
            await websocket.close(code=4003, message=str(refusal)[:120].encode())
            return websocket
        page = _page(websocket, controls=True)
        try:
            await console.attach(page, width, height)
            await self._pump(websocket, console, page, seat)
        finally:
            console.detach(page)
            await websocket.close()
        return websocket

    async def _pump(self, websocket: web.WebSocketResponse, console: Console, page: Page, seat: Seat | None) -> None:
        """The page's messages (textual-serve's JSON envelopes) to the console."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = json.loads(message.data)
            except (ValueError, TypeError):
                continue
            if kind == "stdin" and isinstance(data, str):
                if await console.input(page, data) and seat is not None:
                    seat.last_input_at = time.time()
            elif kind == "resize" and isinstance(data, dict) and page.controls:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    await console.resize(int(data["width"]), int(data["height"]))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind in ("focus", "blur"):
                await console.focus(page, kind == "focus")
            if page not in console.pages:  # taken over by a newer page, or the console ended
                break

    # ------------------------------------------------------------------ the trainer

    async def to_dashboard(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        raise web.HTTPFound(request.path + "/")

    async def dashboard(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        join_url = self.join_url or f"{request.scheme}://{request.host}/join/{self.room.state.code}"
        return self.render("dashboard.html", join_url=join_url,
                           scenarios=[(s.name, s.title) for s in self.room.scenarios])

    async def _rows(self):
        return await self.room.rows()

    async def room_json(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        rows = await self._rows()
        document = room_document(rows, now=time.time(), max_trainees=self.room.max_trainees,
                                 scenarios=[(s.name, s.title) for s in self.room.scenarios],
                                 started_at=self.room.state.created_at)
        return web.json_response(document)

    def _download(self, text: str, name: str, content_type: str) -> web.Response:
        response = web.Response(text=text, content_type=content_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def _stem(self) -> str:
        return "trunklab-room-" + time.strftime("%Y%m%d-%H%M", time.localtime(self.room.state.created_at))

    async def room_csv(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        return self._download(rows_csv(await self._rows()), f"{self._stem()}.csv", "text/csv")

    async def room_md(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        text = room_markdown(await self._rows(), now=time.time(), titles=self.room.titles)
        return self._download(text, f"{self._stem()}.md", "text/markdown")

    async def action(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        if not self.same_origin(request):
            return web.json_response({"ok": False, "message": "refused: another site's page"}, status=403)
        try:
            body = await request.json()
            action, who = str(body["action"]), str(body["trainee"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"ok": False, "message": "give {action, trainee[, scenario]} as JSON"}, status=400)
        from store import StoreError

        try:
            if action == "give":
                names = await self.room.give(who, str(body.get("scenario", "")))
                message = f"Exercise {body.get('scenario')} given to {_who(who, names)}"
            elif action == "reset":
                names = await self.room.reset(who)
                message = f"Reset {_who(who, names)} to the default account"
            elif action == "end":
                message = f"Ended {await self.room.end(who)}'s session"
            else:
                return web.json_response({"ok": False, "message": f"no action {action!r}"}, status=400)
        except KeyError:
            return web.json_response({"ok": False, "message": "no such trainee in the room"}, status=404)
        except StoreError as error:
            return web.json_response({"ok": False, "message": error.message}, status=400)
        return web.json_response({"ok": True, "message": message})

    async def alive_trainer(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        return web.Response(status=204)

    def _watched(self, request: web.Request) -> Seat | None:
        seat = self.room.seats.get(request.match_info["trainee"])
        return seat if seat is not None and seat.trainee.active else None

    async def view_page(self, request: web.Request) -> web.Response:
        if not self.trainer_ok(request):
            return self.refuse_trainer()
        seat = self._watched(request)
        if seat is None:
            return self.message("No such trainee", "Nobody in the room has this id (or their session ended).", 404)
        console = seat.console
        size = console.size if console is not None else None
        name = seat.trainee.name
        return self.console_page(f"{name}'s console (read-only)", websocket=f"{request.path}/ws",
                                 alive=f"/trainer/{request.match_info['secret']}/alive",
                                 waiting=f"{name}'s console is not running: it starts when they open their link.",
                                 viewer=True, badge=f"read-only: {name}, lab {seat.trainee.lab}", size=size)

    async def view_socket(self, request: web.Request) -> web.StreamResponse:
        if not self.trainer_ok(request) or not self.same_origin(request):
            raise web.HTTPForbidden(text="refused")
        seat = self._watched(request)
        if seat is None:
            raise web.HTTPNotFound(text="no such trainee")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        console = seat.console
        if console is None or not console.running:
            await websocket.close(code=1000, message=b"not running")
            return websocket
        page = _page(websocket, controls=False)
        try:
            await console.attach(page)
            await self._pump(websocket, console, page, None)
        finally:
            console.detach(page)
            await websocket.close()
        return websocket


def _who(who: str, names: list[str]) -> str:
    return f"everyone ({len(names)})" if who == "all" else names[0]


def _size(request: web.Request) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        try:
            return int(request.query.get(key, default))
        except ValueError:
            return default

    return number("width", 80), number("height", 24)


def _page(websocket: web.WebSocketResponse, *, controls: bool) -> Page:
    async def close(code: int, reason: str) -> None:
        await websocket.close(code=code, message=reason.encode()[:120])

    return Page(websocket.send_bytes, close, controls)


def tls_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def run(room: Classroom, host: str, port: int, *, tls: ssl.SSLContext | None, links: tuple[str, str],
        say=print) -> None:
    """Serve until SIGINT or SIGTERM; every console stops with the server. The links are printed
    once the page is listening, and only then."""
    server = ClassroomServer(room, secure_cookies=tls is not None or links[0].startswith("https:"), join_url=links[0])

    async def main() -> None:
        runner = web.AppRunner(server.application(), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=tls).start()
            trainee, trainer = links
            say(f"trainee: {trainee}")
            say(f"trainer: {trainer}")
            say("trunklab web: share the trainee link; keep the trainer link to yourself. Ctrl-C stops the room "
                "(start it again with the same --sessions-dir, or --resume, to bring it back).")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            say("trunklab web: stopping every console ...")
        finally:
            await runner.cleanup()  # on_shutdown: the consoles and their agents stop, the labs are freed

    asyncio.run(main())
