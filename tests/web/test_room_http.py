"""The classroom server over HTTP, as browsers and scripts meet it: the room code and the trainer's
secret, the pages that refuse (a wrong code, a full room, no free lab), the cookie, the
trainer's exports and actions on the trainees' databases, the static files. `python app.py
web` runs as a subprocess on loopback; no console is started here (the databases are written
the way a console writes them, through the store), so no agent runs."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from store import Store, labs
from store.records import ChecklistRun
from tests.support.classroom import LABS, free_port, start_room, stop_room

pytestmark = pytest.mark.timeout(90)
TITLES = ("Inbound calls reach your SIP system", "Outbound calls are successfully initiated",
          "Authentication succeeds (no 401 or 403 errors)", "Audio is present in both directions")


@pytest.fixture
def room(tmp_path):
    started = start_room(free_port(), tmp_path / "room")
    yield started
    stop_room(started)


async def text_of(answer: aiohttp.ClientResponse) -> str:
    """The page as a person reads it (entities such as &#39; decoded)."""
    return html.unescape(await answer.text())


def client() -> aiohttp.ClientSession:
    # one browser: cookies for 127.0.0.1 kept (aiohttp keeps none for an IP address by default)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def join(url: str, name: str) -> tuple[aiohttp.ClientSession, int, str]:
    """A browser that joined: its session, the status of the page it landed on, and the page."""
    browser = client()
    async with browser.post(url, data={"name": name}) as answer:
        return browser, answer.status, await text_of(answer)


async def room_json(room) -> dict:
    async with aiohttp.ClientSession() as http, http.get(f"{room.trainer_url}room.json") as answer:
        assert answer.status == 200
        return await answer.json()


def db_of(room_folder: Path, trainee: dict) -> Path:
    return room_folder / f"lab-{trainee['lab']}-{trainee['id']}.db"


async def test_a_trainee_joins_with_a_name_and_gets_an_httponly_cookie(room):
    async with client() as browser:
        async with browser.get(room.trainee_url) as answer:
            assert answer.status == 200 and "Your name" in await text_of(answer)
        async with browser.post(room.trainee_url, data={"name": "  Ana \t Lima "}, allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == f"/join/{room.code}"
            cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never come back
        async with browser.get(room.trainee_url) as answer:  # the console's page now
            page = await text_of(answer)
            assert "textual.js" in page and "Ana Lima" in page
        async with browser.post(room.trainee_url, data={"name": "Ana again"}) as answer:
            assert "textual.js" in await text_of(answer)  # already in: back to her console, no second place
    trainees = (await room_json(room))["trainees"]
    assert [(t["name"], t["state"]) for t in trainees] == [("Ana Lima", "practice")]
    assert trainees[0]["lab"] in LABS


async def test_a_name_is_required_and_shown_as_typed_not_as_markup(room):
    browser, status, page = await join(room.trainee_url, "   ")
    await browser.close()
    assert status == 400 and "Type your name" in page
    browser, status, page = await join(room.trainee_url, "<b>Bob</b>")
    async with browser:
        async with browser.get(room.trainee_url) as answer:
            raw = await answer.text()
            assert "&lt;b&gt;Bob&lt;/b&gt;" in raw and "<b>Bob" not in raw


async def test_a_wrong_room_code_is_refused_with_a_page_that_says_so(room):
    wrong = room.code[:-1] + ("A" if room.code[-1] != "A" else "B")
    async with client() as browser:
        for method in (browser.get, browser.post):
            async with method(f"{room.base}/join/{wrong}") as answer:
                assert answer.status == 403
                assert "not the room's code" in await text_of(answer)
        async with browser.get(f"{room.base}/") as answer:
            assert "link your trainer gave you" in await text_of(answer)
    assert (await room_json(room))["trainees"] == []


async def test_the_dashboard_needs_the_secret(room):
    async with aiohttp.ClientSession() as http:
        for path in ("", "room.json", "room.csv", "room.md", "view/t1"):
            async with http.get(f"{room.base}/trainer/not-the-secret/{path}") as answer:
                assert answer.status == 403, path
                assert "trainer" in await text_of(answer)
        async with http.post(f"{room.base}/trainer/not-the-secret/action", json={"action": "reset", "trainee": "all"}) as answer:
            assert answer.status == 403
        async with http.get(room.trainer_url) as answer:
            assert answer.status == 200 and "Give to everyone" in await text_of(answer)
            assert answer.headers["Cache-Control"] == "no-store"
            assert answer.headers["Referrer-Policy"] == "same-origin"


async def test_the_console_socket_needs_the_code_the_cookie_and_this_origin(room):
    browser, _, _ = await join(room.trainee_url, "Ana")
    async with browser:
        for url, headers in ((f"{room.base}/join/WRONG/ws", {}),  # wrong code
                             (f"{room.trainee_url}/ws", {"Origin": "http://evil.example"})):  # another site's page
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await browser.ws_connect(url, headers=headers)
            assert refused.value.status == 403
    async with aiohttp.ClientSession() as stranger:  # the right link, but no session
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await stranger.ws_connect(f"{room.trainee_url}/ws")
        assert refused.value.status == 403
        async with stranger.post(room.trainee_url, data={"name": "Eve"}, headers={"Origin": "http://evil.example"}) as answer:
            assert answer.status == 403  # another site's form cannot join the room either


async def test_a_full_room_says_so(tmp_path, snapshot):
    room = start_room(free_port(), tmp_path / "room", "--max-trainees", "2")
    try:
        for name in ("Ana", "Ben"):
            browser, status, _ = await join(room.trainee_url, name)
            await browser.close()
            assert status == 200
        browser, status, page = await join(room.trainee_url, "Cleo")
        await browser.close()
        assert status == 503
        assert "The room is full: it takes 2 trainees" in page
        assert page == snapshot  # the whole page, as a browser gets it (tests/web/__snapshots__)
        assert [t["name"] for t in (await room_json(room))["trainees"]] == ["Ana", "Ben"]
    finally:
        stop_room(room)


async def test_no_free_lab_says_so(tmp_path, snapshot):
    lab = LABS[-1]
    held = labs.reserve(lab)  # another program holds the room's only lab
    room = start_room(free_port(), tmp_path / "room", labs=range(lab, lab + 1))
    try:
        browser, status, page = await join(room.trainee_url, "Ana")
        await browser.close()
        assert status == 503
        assert f"No free lab on this machine: every lab of the room's range ({lab}-{lab}) is in use" in page
        assert page.replace(f"({lab}-{lab})", "(N-N)") == snapshot  # the whole page; the lab differs per machine
    finally:
        stop_room(room)
        held.release()


async def test_static_files_without_a_listing(room):
    async with aiohttp.ClientSession() as http:
        for folder in ("/static/", "/static/js/", "/static/fonts"):
            async with http.get(room.base + folder) as answer:
                assert answer.status in (403, 404), folder
                assert "textual.js" not in await text_of(answer)
        async with http.get(f"{room.base}/static/js/textual.js") as answer:
            assert answer.status == 200
        async with http.get(f"{room.base}/static/../classroom.json") as answer:
            assert answer.status in (403, 404)


async def write_lab(path: Path, lab: int, *, exercise: str | None = None, hints: int = 0,
                    runs: tuple[bool, ...] = ()) -> None:
    """What a trainee's console writes: an exercise started (and failed checks revealing hints),
    checklist runs."""
    async with await Store.open(path, plan=labs.lab_plan(lab)) as store:
        now = time.time()
        if exercise:
            await store.start_exercise(exercise, now=now - 600)
            for number in range(hints):  # a failed "Check my fix", then the hint the trainee asked for
                await store.record_check(exercise, passed=False, checklist=[], ladder="", now=now)
                await store.give_hint(exercise, f"hint {number + 1}")
        for passed in runs:
            items = tuple((title, "pass" if passed or i else "fail", "via x: ok" if passed or i else "408")
                          for i, title in enumerate(TITLES))
            await store.record_checklist_run(ChecklistRun(now - 5, now - 2, passed, items, exercise))


async def test_room_json_csv_and_markdown(room, tmp_path):
    sessions = []
    for name in ("Ana", "=HYPERLINK(\"http://x\")", "Cleo | *bold*"):
        browser, status, _ = await join(room.trainee_url, name)
        sessions.append(browser)
        assert status == 200
    for browser in sessions:
        await browser.close()
    folder = tmp_path / "room"
    first = (await room_json(room))["trainees"]
    by_name = {t["name"]: t for t in first}
    await write_lab(db_of(folder, by_name["Ana"]), by_name["Ana"]["lab"], exercise="stale_voip_token", hints=3,
                    runs=(False, False, False))
    await write_lab(db_of(folder, by_name["Cleo | *bold*"]), by_name["Cleo | *bold*"]["lab"], runs=(True,))
    await asyncio.sleep(0.6)  # the server reads the databases at most twice a second

    document = await room_json(room)
    assert set(document) == {"generated_at", "room", "scenarios", "trainees"}
    assert document["room"]["max_trainees"] == 30 and document["room"]["trainees"] == 3
    assert {"name": "stale_voip_token", "title": "The PBX sends a stale VoIP token"} in document["scenarios"]
    rows = document["trainees"]
    assert rows[0]["name"] == "Ana"  # stuck first
    ana = rows[0]
    assert set(ana) == {"id", "name", "lab", "state", "why", "exercise", "exercise_title", "hints_used",
                        "hints_total", "exercise_checks", "checks", "last_check", "time_on_task_s",
                        "last_activity_at", "joined_at", "online", "console", "solved"}
    assert (ana["state"], ana["exercise"], ana["hints_used"], ana["hints_total"], ana["exercise_checks"],
            ana["checks"]) == ("stuck", "stale_voip_token", 3, 3, 3, 3)
    assert "all 3 hints used" in ana["why"] and 590 < ana["time_on_task_s"] < 700
    assert [i["status"] for i in ana["last_check"]["items"]] == ["fail", "pass", "pass", "pass"]
    assert ana["last_check"]["scenario"] == "stale_voip_token" and not ana["last_check"]["passed"]
    assert (ana["online"], ana["console"]) == (False, False)
    cleo = next(t for t in rows if t["name"].startswith("Cleo"))
    assert (cleo["state"], cleo["checks"], cleo["last_check"]["passed"]) == ("practice", 1, True)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{room.trainer_url}room.csv") as answer:
            assert answer.headers["Content-Type"].startswith("text/csv")
            assert "attachment" in answer.headers["Content-Disposition"]
            table = list(csv.DictReader(io.StringIO(await text_of(answer))))
        async with http.get(f"{room.trainer_url}room.md") as answer:
            assert "attachment" in answer.headers["Content-Disposition"]
            report = await text_of(answer)
    assert [r["name"] for r in table][0] == "Ana" and len(table) == 3
    assert table[0]["state"] == "stuck" and table[0]["inbound"] == "fail" and table[0]["audio"] == "pass"
    assert table[0]["exercise"] == "stale_voip_token" and table[0]["hints_used"] == "3"
    assert "'=HYPERLINK(\"http://x\")" in [r["name"] for r in table]  # a spreadsheet shows it, never runs it
    assert "# Classroom results" in report and "## Ana (lab" in report
    assert "Cleo \\| \\*bold\\*" in report and "| Cleo | *bold* |" not in report
    assert "- [ ] Inbound calls reach your SIP system (408)" in report


async def trainer_action(room, **body) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(f"{room.trainer_url}action", json=body) as answer:
        return answer.status, await answer.json()


async def account_of(path: Path, lab: int):
    async with await Store.open(path, plan=labs.lab_plan(lab)) as store:
        return await store.account(), await store.exercise_progress()


async def test_give_an_exercise_to_one_or_everyone_and_reset_one(room, tmp_path):
    for name in ("Ana", "Ben"):
        browser, _, _ = await join(room.trainee_url, name)
        await browser.close()
    folder = tmp_path / "room"
    ana, ben = sorted((await room_json(room))["trainees"], key=lambda t: t["id"])

    status, reply = await trainer_action(room, action="give", trainee=ana["id"], scenario="number_not_assigned")
    assert status == 200 and reply["message"] == "Exercise number_not_assigned given to Ana"
    account, progress = await account_of(db_of(folder, ana), ana["lab"])
    assert list(progress) == ["number_not_assigned"]
    assert not any(d.phonenumber == "12025550100" and d.trunk_group_sid for d in account.dids)
    assert not db_of(folder, ben).exists() or not (await account_of(db_of(folder, ben), ben["lab"]))[1]

    status, reply = await trainer_action(room, action="give", trainee="all", scenario="stale_voip_token")
    assert status == 200 and reply["message"] == "Exercise stale_voip_token given to everyone (2)"
    for trainee in (ana, ben):
        account, progress = await account_of(db_of(folder, trainee), trainee["lab"])
        assert list(progress)[-1] == "stale_voip_token"
        assert account.pbx_trunk.voip_token != account.pbx_endpoint().voip_token  # the stale token
    shown = {t["id"]: t["exercise"] for t in (await room_json(room))["trainees"]}
    assert shown == {ana["id"]: "stale_voip_token", ben["id"]: "stale_voip_token"}

    status, reply = await trainer_action(room, action="reset", trainee=ben["id"])
    assert status == 200 and reply["message"] == "Reset Ben to the default account"
    ben_account, _ = await account_of(db_of(folder, ben), ben["lab"])
    ana_account, _ = await account_of(db_of(folder, ana), ana["lab"])
    assert ben_account.pbx_trunk.voip_token == ben_account.pbx_endpoint().voip_token  # back to a working trunk
    assert ana_account.pbx_trunk.voip_token != ana_account.pbx_endpoint().voip_token  # Ana's still broken

    for body, code in (({"action": "give", "trainee": "all", "scenario": "no_such"}, 400),
                       ({"action": "reset", "trainee": "t99"}, 404),
                       ({"action": "dance", "trainee": "all"}, 400),
                       ({"trainee": "all"}, 400)):
        status, reply = await trainer_action(room, **body)
        assert status == code and not reply["ok"], body


async def test_ending_a_session_frees_the_lab_and_the_cookie(room, tmp_path):
    browser, _, _ = await join(room.trainee_url, "Ana")
    async with browser:
        ana = (await room_json(room))["trainees"][0]
        assert labs.try_reserve(ana["lab"]) is None  # the room holds her lab
        status, reply = await trainer_action(room, action="end", trainee=ana["id"])
        assert status == 200 and reply["message"] == "Ended Ana's session"
        freed = labs.try_reserve(ana["lab"])
        assert freed is not None
        freed.release()
        async with browser.get(room.trainee_url) as answer:
            assert "Your name" in await text_of(answer)  # her old session opens nothing: she may join again
    rows = (await room_json(room))["trainees"]
    assert [(r["name"], r["state"]) for r in rows] == [("Ana", "ended")]


async def test_the_links_are_printed_once_and_nothing_else_says_the_code_or_the_secret(room):
    browser, _, _ = await join(room.trainee_url, "Ana")
    async with browser:
        async with browser.get(room.trainer_url) as answer:
            assert answer.status == 200
        await trainer_action(room, action="reset", trainee="all")
    await asyncio.sleep(0.5)
    stop_room(room)
    output = "".join(room.output)
    assert output.count(room.code) == 1 and output.count(room.secret) == 1
    assert "Ana joined" in output


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_https_with_a_certificate(tmp_path):
    cert, key = self_signed(tmp_path)
    room = start_room(free_port(), tmp_path / "room", "--certfile", str(cert), "--keyfile", str(key))
    try:
        assert room.trainee_url.startswith("https://127.0.0.1:") and room.trainer_url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert))
        trust.check_hostname = False  # the certificate names 127.0.0.1 as its CN only
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.post(room.trainee_url, data={"name": "Ana"}, ssl=trust, allow_redirects=False) as answer:
                assert answer.status == 303 and "Secure" in answer.headers["Set-Cookie"]
            async with browser.get(room.trainer_url, ssl=trust) as answer:
                assert answer.status == 200
    finally:
        stop_room(room)


async def test_behind_a_reverse_proxy_the_links_name_the_proxy_and_the_cookie_is_https_only(tmp_path):
    room = start_room(free_port(), tmp_path / "room", "--public-url", "https://class.example.org/")
    try:
        assert room.trainee_url == f"https://class.example.org/join/{room.code}"
        assert room.trainer_url == f"https://class.example.org/trainer/{room.secret}/"
        port = room.process.args[room.process.args.index("--port") + 1]
        async with client() as browser:  # as the proxy forwards it: plain HTTP on loopback
            async with browser.post(f"http://127.0.0.1:{port}/join/{room.code}", data={"name": "Ana"},
                                    allow_redirects=False) as answer:
                assert answer.status == 303 and "Secure" in answer.headers["Set-Cookie"]
            async with browser.get(f"http://127.0.0.1:{port}/trainer/{room.secret}/") as answer:
                assert room.trainee_url in await text_of(answer)  # the dashboard shows the link trainees open
    finally:
        stop_room(room)
