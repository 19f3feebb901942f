"""The Calls screen, driven with Pilot on recorded calls: a ladder whose arrows and labels fit
any width and follow a resize, a cursor that is bright only where the keys go, a search, the
newest call followed, clock time, the legs of a bridged call, the audio of each leg, DTMF,
hold, early media and the gateway's refusals, and a ladder that grows without being rebuilt."""

from __future__ import annotations

import re
from pathlib import Path

import sip.ladder
from screens.lab_app import TrunkLabApp
from screens.widgets.ladder import LadderView, clock, grid_text, layout
from sip.lab import Lab
from sip.ladder import Ladder, columns
from sip.replay import load_recording, recorded_supervisor_factory
from store.records import SipMessageRecord
from tests.console.conftest import FIXED_NOW, arrive, console, fixed_ids, prepared, settle
from tests.console.test_pilot import shown_text
from tests.support.replay import EVENTS, replay, scenario_account


def line(view: LadderView, y: int) -> str:
    """What the ladder shows on its line y (0: the column names), as plain text."""
    return view.render_line(y).text


def rows(app) -> list[str]:
    return [row.key.value for row in app.screen.query_one("#call-list").ordered_rows]


def cell(app, key: str, column: str) -> str:
    value = app.screen.query_one("#call-list").get_cell(key, column)
    return getattr(value, "plain", value)


def replayed_into(app: TrunkLabApp, name: str, prefix: str) -> None:
    """A recorded call arrives in a running console, as the agents would have sent it."""
    for record in load_recording(EVENTS / f"{name}.jsonl", ref_prefix=prefix):
        arrive(app, record)


def console_with(db: Path, records: list[dict]) -> TrunkLabApp:
    """A console whose engine replays these records (a recording cut short: a call still up)."""
    return TrunkLabApp(db, engine_factory=lambda store: Lab(store, supervisor_factory=recorded_supervisor_factory(records)),
                       new_sid=fixed_ids("01000000"), new_token=fixed_ids("71000000"), deterministic=True,
                       clock=lambda: FIXED_NOW)


# ---------------------------------------------------------------------------- the ladder's width


def test_every_arrow_and_label_fits_between_its_columns_at_any_width():
    """Once `|-INVITE 1202>|` at 200 columns: now each rung shows its full label where the
    room allows and its short one ("INVITE", "183 SDP") where not, never a label cut short,
    and always the arrow's head at the column it points to."""
    for name in ("inbound_ok", "inbound_dtmf_hold", "inbound_failover", "outbound_wrong_token"):
        call = next(iter(replay(name).calls.values()))
        ladder = Ladder(call, columns(scenario_account(name)))
        ladder.sync()
        for room in (30, 45, 60, 90, 140):
            lay = layout(ladder.columns, ladder.spans, room)
            for rung in ladder.rungs:
                text = grid_text(rung, lay).plain
                assert rung.label in text or rung.short in text, (room, rung.label, text)
                assert "…" not in text
                start, end = lay.centers[rung.src], lay.centers[rung.dst]
                head = text[end - 1] if end > start else text[end + 1]
                assert head in "><x", (room, text)
                left, right = sorted((start, end))
                assert all(text[x] == "|" for x in lay.centers if not left < x < right), text  # the arrow crosses only
            if lay.width <= room:  # it fits: nothing wider than the room
                assert max(len(grid_text(r, lay).plain) for r in ladder.rungs) <= room


async def test_pstn_arrows_carry_their_whole_label_at_120_and_200_columns(db_path):
    await prepared(db_path)
    for size in ((200, 50), (120, 40)):
        app = console(db_path, "inbound_ok")
        async with app.run_test(size=size) as pilot:
            await pilot.press("c")
            await pilot.pause()
            view = app.screen.query_one(LadderView)
            first = line(view, 1)
            assert re.search(r"\|-+INVITE 12025550100-+>\|", first), first
            assert "PSTN" in line(view, 0) and "GW 127.0.0.2" in line(view, 0) or size[0] == 120


async def test_the_ladder_is_drawn_again_when_the_terminal_is_resized(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        view = app.screen.query_one(LadderView)
        wide = line(view, 1)
        assert "INVITE 12025550100" in wide
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.2)
        narrow = line(view, 1).rstrip()
        assert narrow != wide.rstrip()
        assert "-INVITE-" in narrow.replace("--", "-") and narrow.count("|") == 5, narrow  # every column still there
        assert len(narrow) <= view.scrollable_content_region.width
        await pilot.resize_terminal(200, 50)
        await pilot.pause(0.2)
        assert line(view, 1).rstrip() == wide.rstrip()


# ---------------------------------------------------------------------------- focus


async def test_the_ladder_cursor_is_bright_only_while_the_keys_move_it(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        view = app.screen.query_one(LadderView)
        table = app.screen.query_one("#call-list")

        def cursor_background():
            return view.render_line(1 + view.cursor - int(view.scroll_offset.y))._segments[0].style.bgcolor

        assert app.focused is table and (table.cursor_row, view.cursor) == (0, 0)
        dimmed = cursor_background()
        await pilot.press("pagedown")  # the list's page down (its B1 row), not the ladder's
        await pilot.pause()
        b1 = view.ladder.first_rung_of(view.ladder.ordered_legs()[1][1].sip_call_id)
        assert (table.cursor_row, view.cursor) == (1, b1)
        await pilot.press("tab")
        assert app.focused is view
        bright = cursor_background()
        assert bright != dimmed
        assert bright == view.get_component_rich_style("ladder-view--cursor").bgcolor
        await pilot.press("pagedown")  # now the ladder's
        assert view.cursor == len(view.rungs) - 1 and table.cursor_row == 1
        await pilot.press("shift+tab")
        assert cursor_background() == dimmed


# ---------------------------------------------------------------------------- search, follow, time


async def test_search_by_code_call_id_address_and_state(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "inbound_unassigned", "inbound_failover")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        everything = rows(app)
        calls = {c.to_number + c.gateway: c for c in app.lab.book.calls.values()}
        failover = calls["12025550100127.0.0.3:5060"]
        await pilot.press("slash", *"404")
        await pilot.pause()
        assert rows(app) == ["r1-c1"]  # the refused one
        assert app.screen.selected.final_code == 404
        assert "search:" in shown_text(app.screen.query_one("#calls-status"))
        assert app.screen.query_one("#search").value == "404"
        await pilot.press("escape")  # clears it, and stays on the screen
        await pilot.pause()
        assert rows(app) == everything and app.screen.__class__.__name__ == "CallsScreen"
        b_leg = next(cid for cid in failover.sip_call_ids if cid != failover.a_leg)
        await pilot.press("slash", *b_leg[:10].lower(), "enter")  # any leg's Call-ID, any case
        await pilot.pause()
        assert [k.split("\t")[0] for k in rows(app)] == [failover.ref] * 3
        assert app.focused is app.screen.query_one("#call-list")  # enter keeps the search, back to the list
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"127.0.0.12")  # an address a leg went to
        await pilot.pause()
        assert {k.split("\t")[0] for k in rows(app)} == {failover.ref}
        await pilot.press("ctrl+a", "ctrl+k", *"failed gw .2")  # every word must match
        await pilot.pause()
        assert rows(app) == ["r1-c1"]
        await pilot.press("ctrl+a", "ctrl+k", *"nothing-like-this")
        await pilot.pause()
        assert rows(app) == [] and "no call matches" in shown_text(app.screen.query_one("#audio"))


async def test_the_newest_call_is_followed_until_the_trainee_picks_another(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert screen.follow and screen.selected.ref == "r0-c1"
        replayed_into(app, "inbound_unassigned", "n1-")  # a new call arrives: selected, its ladder shown
        await pilot.pause()
        assert screen.selected.ref == "n1-c1"
        assert screen.query_one(LadderView).ladder.call.ref == "n1-c1"
        await pilot.press("up", "up")  # the trainee picks the first call
        await pilot.pause()
        assert screen.selected.ref == "r0-c1" and not screen.follow
        assert "not following" in shown_text(screen.query_one("#calls-status"))
        replayed_into(app, "inbound_failover", "n2-")  # ... and keeps it while calls come in
        await pilot.pause()
        assert screen.selected.ref == "r0-c1"
        assert "n2-c1" in rows(app)
        await pilot.press("l")  # following again: the newest call
        await pilot.pause()
        assert screen.follow and screen.selected.ref == "n2-c1"


async def test_clock_time_toggles_with_the_time_since_the_message_before(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        view = app.screen.query_one(LadderView)
        assert line(view, 0).lstrip().startswith("Δt") and line(view, 2).lstrip().startswith("+0.003")
        await pilot.press("m")
        await pilot.pause()
        assert line(view, 0).lstrip().startswith("clock")
        first, second = view.ladder.rungs[0], view.ladder.rungs[1]
        assert line(view, 1).startswith(clock(first.at)) and line(view, 2).startswith(clock(second.at))
        assert clock(first.at) == "03:48:58.515"  # the message's own wall-clock time (UTC here)
        await pilot.press("m")
        await pilot.pause()
        assert line(view, 1).lstrip().startswith("+0.000")


# ---------------------------------------------------------------------------- legs, audio, what issue 9 added


async def test_each_leg_of_a_bridged_call_has_its_row_and_its_mark_on_the_ladder(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_failover")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        call = app.screen.selected
        a, b1, b2 = rows(app)
        assert a == call.ref and b1.startswith(call.ref + "\t") and b2.startswith(call.ref + "\t")
        assert [cell(app, k, "leg") for k in (a, b1, b2)] == ["A", "└B1", "└B2"]
        assert (cell(app, b1, "to"), cell(app, b1, "state")) == ("127.0.0.12", "no answer")
        assert (cell(app, b2, "to"), cell(app, b2, "state"), cell(app, b2, "code")) == ("PBX", "ended", "200")
        assert cell(app, a, "call_id") == call.a_leg[:15] + "…"
        view = app.screen.query_one(LadderView)
        assert {line(view, y)[9:11] for y in range(1, 16)} >= {"A ", "B1", "B2"}
        await pilot.press("down", "down")  # the B2 row: the ladder goes to that leg's first message
        await pilot.pause()
        rung = view.ladder.rungs[view.cursor]
        assert view.ladder.leg_name(rung.leg) == "B2" and rung.label == "INVITE 12025550100"
        assert "B2 leg" in shown_text(app.screen.query_one("#message"))


async def test_the_audio_panel_has_headings_and_names_each_leg_and_its_far_end(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_dtmf_hold")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        audio = shown_text(app.screen.query_one("#audio")).splitlines()
        assert audio[0].split()[:5] == ["leg", "at", "⇄", "far", "end"] and "DTMF" in audio[0] and "tone" in audio[0]
        where = ["A PSTN ⇄ GW 127.0.0.2 ", "A GW .2 ⇄ PSTN 127.0.0.20 ", "B1 GW .2 ⇄ PBX 127.0.0.10 ",
                 "B1 PBX ⇄ GW 127.0.0.2 "]
        assert [" ".join(row.split()).startswith(start) for row, start in zip(audio[1:5], where)] == [True] * 4, audio
        assert audio[1].split()[-2:] == ["12#", "-"]  # the PSTN sent 12#
        assert audio[4].split()[-2:] == ["-", "12#"]  # and the PBX received it
        notes = shown_text(app.screen.query_one("#message"))
        assert "PSTN DTMF sent 12#, received -" in notes and "PBX DTMF sent -, received 12#" in notes


async def test_a_call_on_hold_says_so_and_its_re_invites_are_on_the_ladder(db_path):
    await prepared(db_path)
    records = load_recording(EVENTS / "inbound_dtmf_hold.jsonl")
    held = next(i for i, r in enumerate(records) if r["event"].get("ev") == "hold"
                and r["event"].get("status") == "local_hold")
    resumed = max(i for i, r in enumerate(records) if r["event"].get("ev") == "hold"
                  and r["event"].get("status") == "active")
    app = console_with(db_path, records[:held + 12])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        ref = app.screen.selected.ref
        assert cell(app, ref, "state") == "on hold"
        b_row = next(k for k in rows(app) if k.startswith(ref + "\t"))
        assert cell(app, b_row, "state") == "on hold"  # the gateway's leg to the PBX, held too
        labels = [r.label for r in app.screen.query_one(LadderView).ladder.rungs]
        assert labels.count("re-INVITE (hold)") == 2  # the PSTN's, and the gateway's on to the PBX
        sent = app.lab.supervisor.sent
        await pilot.press("u")  # resume: the caller is asked to take it off hold
        assert await settle(pilot, lambda: ("pstn", {"cmd": "hold", "ref": ref, "on": False}) in sent)
        for record in records[held + 12:resumed + 1]:
            app.lab.on_agent_event(record["source"], record["event"])
        await pilot.pause()
        assert cell(app, ref, "state") == "answered"
        assert cell(app, b_row, "state") == "answered"
        assert "re-INVITE" in [r.label for r in app.screen.query_one(LadderView).ladder.rungs]


async def test_early_media_is_marked_on_its_183(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_dtmf_hold")
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        view = app.screen.query_one(LadderView)
        shown = [line(view, y) for y in range(1, 12)]
        assert sum("183 Session Progress (SDP)" in text for text in shown) == 2, shown  # on both legs


async def test_a_refusal_shows_the_gateway_s_decision_and_its_warning(db_path):
    await prepared(db_path)
    app = console(db_path, "inbound_unassigned")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        notes = " ".join(shown_text(app.screen.query_one("#message")).split())
        assert "gateway refused 404 Not Found: +12025550199 is not assigned to a trunk group" in notes
        assert 'the 404 on the A leg carries Warning: 399 127.0.0.2 "+12025550199 is not assigned to a trunk group' in notes


async def test_digits_typed_in_the_dialog_are_sent_once_answered(db_path):
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c", "i")
        await pilot.pause()
        app.screen.query_one("#dtmf").value = "12#"
        await pilot.press("enter")
        sent = app.lab.supervisor.sent
        assert await settle(pilot, lambda: any(c.get("cmd") == "dial" for _, c in sent))
        (agent, command), = [(a, c) for a, c in sent if c.get("cmd") == "dial"]
        assert (agent, command["dtmf"], command["to"]) == ("pstn", "12#", "12025550100")


async def test_the_notes_beside_the_ladder_follow_the_call(db_path):
    """Digits arrive while the cursor stays on the INVITE: the notes say so at once."""
    await prepared(db_path)
    records = load_recording(EVENTS / "inbound_dtmf_hold.jsonl")
    digits = next(i for i, r in enumerate(records) if r["event"].get("ev") == "dtmf")
    app = console_with(db_path, records[:digits])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        message = app.screen.query_one("#message")
        assert "DTMF" not in shown_text(message) and "INVITE sip:12025550100" in shown_text(message)
        for record in records[digits:digits + 12]:
            app.lab.on_agent_event(record["source"], record["event"])
        await pilot.pause()
        assert "PSTN DTMF sent 12#" in shown_text(message) and "INVITE sip:12025550100" in shown_text(message)


# ---------------------------------------------------------------------------- the cost of an event


async def test_a_new_message_adds_its_rung_without_rebuilding_the_ladder(db_path, monkeypatch):
    """With 10,000 messages on screen, one more SIP message labels one message and draws at
    most the lines on screen, and does not judge the checklist again (the ladder used to be
    rebuilt whole, and the checklist re-evaluated, on every event)."""
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(120, 40)) as pilot:
        call = next(iter(app.lab.book.calls.values()))
        b_leg = next(m.sip_call_id for m in call.messages if m.agent == "pbx")
        for i in range(10_000):
            call.messages.append(SipMessageRecord(call.messages[-1].t + 0.001, "gateway", "tx", "127.0.0.2:5060",
                                                  "127.0.0.10:5060", b_leg, "OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0",
                                                  "OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0\r\n\r\n"))
        await pilot.press("c")
        await pilot.pause()
        view = app.screen.query_one(LadderView)
        count = len(view.rungs)
        labelled, drawn = [], []
        real_labels, real_grid = sip.ladder.labels, __import__("screens.widgets.ladder", fromlist=["grid_text"]).grid_text
        monkeypatch.setattr(sip.ladder, "labels", lambda m: labelled.append(m) or real_labels(m))
        monkeypatch.setattr("screens.widgets.ladder.grid_text", lambda r, lay: drawn.append(r) or real_grid(r, lay))
        judged = []  # the checklist is judged again only when a call that counts ends, not per message
        real_update = app.lab._update_checklist
        monkeypatch.setattr(app.lab, "_update_checklist", lambda: judged.append(1) or real_update())
        text = (f"OPTIONS sip:pbx@127.0.0.10:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-x\r\n"
                f"From: <sip:gw@127.0.0.2>;tag=b\r\nTo: <sip:pbx@127.0.0.10>\r\nCall-ID: {b_leg}\r\nCSeq: 9 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n")
        app.lab.on_agent_event("gateway 127.0.0.2", {"ev": "sip", "t": call.messages[-1].t + 1, "dir": "tx",
                                                     "remote": "127.0.0.10:5060", "local": "127.0.0.2:5060", "text": text})
        await pilot.pause()
        assert len(view.rungs) == count + 1
        assert len(labelled) == 1 and len(drawn) <= 1  # the new rung is below the screen: drawn when scrolled to
        assert judged == []
        await pilot.press("tab", "end")
        await pilot.pause()
        assert view.rungs[view.cursor].message.text == text
