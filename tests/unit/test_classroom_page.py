"""The classroom server's pages and guards, and `web`'s options, without a browser and without a
console: a Classroom on a temporary folder behind a real aiohttp server on loopback (the
labs' locks in the test's own folder). What a browser and live consoles show is
tests/web/test_classroom.py; the room over HTTP as a subprocess, tests/web/test_room_http.py.

- every page asks the browser for nothing off the server (no web font, no CDN);
- a page of another origin cannot join, act for the trainer, or open a console;
- a page reached under another name (DNS rebinding) learns nothing without the code or the
  secret: the server may be reached under any name the trainer's network gives it (its host
  name, its LAN address, a proxy's name), so the code and the secret guard it, not the Host;
- `--host` takes any address or name of this machine (the command line's refusals are
  tests/test_cli_labs.py), and the links name the address trainees open;
- each trainee is a console of their own: their own lab, their own database, and a room
  started again on its folder gives each of them back.
"""

from __future__ import annotations

import re
import socket
import stat
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from screens.web.classroom import APP_PY, ROOM_FILE, Classroom
from screens.web.command import WebOptionError, listen_address
from screens.web.server import COOKIE, ClassroomServer, public_base

LABS = range(185, 200)


@pytest.fixture
def room(tmp_path):
    classroom = Classroom.open(tmp_path / "room", LABS, 30, lock_dir=tmp_path / "locks", say=lambda line: None)
    yield classroom


@pytest.fixture
async def client(room):
    async with TestClient(TestServer(ClassroomServer(room).application(), host="127.0.0.1")) as client:
        yield client
    await room.close()


async def joined(client, room, name: str = "Ana") -> str:
    """Join as a browser does; the session cookie."""
    answer = await client.post(f"/join/{room.state.code}", data={"name": name}, allow_redirects=False)
    assert answer.status == 303
    return answer.cookies[COOKIE].value


def outside_references(page: str) -> list[str]:
    """Every address the page would make the browser load or open that is not on this server."""
    found = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)""", page)
    addresses = [a or b for a, b in found]
    return [a for a in addresses if a.startswith(("//", "http:", "https:", "ws:", "wss:"))]


async def test_every_page_asks_for_nothing_off_the_server(client, room):
    token = await joined(client, room)
    pages = {
        "index": await client.get("/"),
        "join form": await client.get(f"/join/{room.state.code}"),
        "console": await client.get(f"/join/{room.state.code}", cookies={COOKIE: token}),
        "dashboard": await client.get(f"/trainer/{room.state.secret}/"),
        "read-only view": await client.get(f"/trainer/{room.state.secret}/view/t1"),
        "wrong code": await client.get("/join/WRONGCODE1"),
    }
    for what, answer in pages.items():
        text = await answer.text()
        assert "googleapis" not in text and outside_references(text) == [], what
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"], what
        assert answer.headers["X-Frame-Options"] == "DENY", what
    console = await pages["console"].text()
    assert 'href="/static/css/xterm.css"' in console and 'src="/static/js/textual.js"' in console
    assert '"websocket": "/join/' in console  # the console's websocket on the page's own address


async def test_a_page_of_another_origin_cannot_join_act_or_open_a_console(client, room):
    evil = {"Origin": "http://evil.example"}
    join = await client.post(f"/join/{room.state.code}", data={"name": "Eve"}, headers=evil)
    assert join.status == 403 and room.state.trainees == ()

    token = await joined(client, room)
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}
    console = await client.get(f"/join/{room.state.code}/ws", headers={**upgrade, **evil}, cookies={COOKIE: token})
    assert console.status == 403
    view = await client.get(f"/trainer/{room.state.secret}/view/t1/ws", headers={**upgrade, **evil})
    assert view.status == 403
    action = await client.post(f"/trainer/{room.state.secret}/action", headers=evil,
                               json={"action": "end", "trainee": "t1"})
    assert action.status == 403
    assert room.state.trainees[0].active and room.seats["t1"].console is None  # nothing happened


@pytest.mark.parametrize("host", ["evil.example:8000", "192.168.1.20:8000"])
async def test_a_page_reached_by_another_name_learns_nothing_without_the_code(client, room, host):
    """DNS rebinding: another site's name pointed at this server, Origin and Host both that name."""
    headers = {"Host": host, "Origin": f"http://{host}"}
    guesses = {f"/join/{room.state.code[::-1]}": 403, f"/trainer/{room.state.secret[::-1]}/": 403,
               f"/trainer/{room.state.secret[::-1]}/room.json": 403, "/": 200}
    for path, status in guesses.items():
        answer = await client.get(path, headers=headers)
        text = await answer.text()
        assert answer.status == status, path
        assert room.state.code not in text and room.state.secret not in text, path
    join = await client.post(f"/join/{room.state.code[::-1]}", data={"name": "Eve"}, headers=headers)
    assert join.status == 403 and room.state.trainees == ()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.5.1", "::1", "localhost", "0.0.0.0", "::", "192.168.1.20",
                                  "10.0.0.1", "fe80::1", "trainer-laptop", "class.example.org"])
def test_any_address_or_name_of_this_machine_may_serve_the_page(host):
    assert listen_address(host) == host


@pytest.mark.parametrize("host", ["", "two words", "http://x", "user@host"])
def test_what_is_not_an_address_is_refused(host):
    with pytest.raises(WebOptionError, match="give an address of this machine"):
        listen_address(host)


def test_the_links_carry_the_address_trainees_open():
    assert public_base("127.0.0.1", 8000, False, None) == "http://127.0.0.1:8000"
    assert public_base("192.168.1.20", 443, True, None) == "https://192.168.1.20"
    assert public_base("::1", 8000, False, None) == "http://[::1]:8000"
    assert public_base("0.0.0.0", 80, False, None) == f"http://{socket.gethostname()}"  # every interface: the name
    assert public_base("127.0.0.1", 8000, False, "https://class.example.org/") == "https://class.example.org"


async def test_each_trainee_is_a_console_on_a_lab_and_a_database_of_their_own(room):
    (ana, ana_token), (ben, _) = await room.join("Ana"), await room.join("Ben")
    try:
        assert ana.trainee.lab != ben.trainee.lab and {ana.trainee.lab, ben.trainee.lab} <= set(LABS)
        assert room.console_argv(ana) == [sys.executable, str(APP_PY), "--lab", str(ana.trainee.lab),
                                          "--db", str(room.folder / f"lab-{ana.trainee.lab}-t1.db"), "--web-session"]
        assert room.db_path(ben.trainee) == room.folder / f"lab-{ben.trainee.lab}-t2.db"
        assert room.seat_for_token(ana_token) is ana and room.seat_for_token("not a session") is None
        assert ana_token not in (room.folder / ROOM_FILE).read_text()  # only its hash is kept
    finally:
        await room.close()


async def test_a_room_started_again_on_its_folder_gives_everyone_back(room, tmp_path):
    (ana, token), _ = await room.join("Ana"), await room.join("Ben")
    labs_held = {seat.trainee.id: seat.trainee.lab for seat in room.seats.values()}
    await room.close()  # the server stopped: the labs are free

    again = Classroom.open(room.folder, LABS, 30, lock_dir=tmp_path / "locks", say=lambda line: None)
    try:
        assert (again.state.code, again.state.secret) == (room.state.code, room.state.secret)
        assert {seat.trainee.id: seat.trainee.lab for seat in again.seats.values()} == labs_held
        assert all(seat.reservation is not None for seat in again.seats.values())  # held again, before anyone comes
        assert again.seat_for_token(token).trainee.name == "Ana"
    finally:
        await again.close()


def test_the_room_folder_is_the_trainers_alone(room):
    assert stat.S_IMODE(room.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((room.folder / ROOM_FILE).stat().st_mode) == 0o600  # it holds the code and the secret


def test_a_room_file_this_trunklab_cannot_read_is_refused_and_kept(tmp_path):
    from screens.web.classroom import RoomFileError

    folder = tmp_path / "room"
    folder.mkdir()
    (folder / ROOM_FILE).write_text('{"version": 99}')
    with pytest.raises(RoomFileError, match="another --sessions-dir"):
        Classroom.open(folder, LABS, 30, lock_dir=tmp_path / "locks", say=lambda line: None)
    assert (folder / ROOM_FILE).read_text() == '{"version": 99}'



async def test_behind_a_reverse_proxy_that_passes_the_host_the_room_works(client, room):
    """The proxy's name in Host (nginx: proxy_set_header Host $http_host) and in the page's Origin."""
    proxied = {"Host": "class.example.org", "Origin": "https://class.example.org"}
    join = await client.post(f"/join/{room.state.code}", data={"name": "Ana"}, headers=proxied, allow_redirects=False)
    assert join.status == 303 and room.state.trainees[0].name == "Ana"
    dashboard = await client.get(f"/trainer/{room.state.secret}/", headers=proxied)
    assert f"http://class.example.org/join/{room.state.code}" in await dashboard.text()
    action = await client.post(f"/trainer/{room.state.secret}/action", headers=proxied,
                               json={"action": "end", "trainee": "t1"})
    assert action.status == 200 and not room.state.trainees[0].active
    # a proxy that does not pass the Host: the pages' own requests look like another site's
    unpassed = {"Host": "127.0.0.1:8000", "Origin": "https://class.example.org"}
    refused = await client.post(f"/join/{room.state.code}", data={"name": "Ben"}, headers=unpassed)
    assert refused.status == 403 and len(room.state.trainees) == 1
