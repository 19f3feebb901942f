"""What a new user met driving the console in tmux at 80x24 and 120x40 (docs/notes/walkthrough.md),
each defect with the Pilot test that keeps it fixed: q quits (but is a letter in a field), the
search field says how to leave it whatever the width, and a followed call keeps its B legs in
view as they arrive."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from screens.widgets.footer import LabFooter
from sip.replay import load_recording
from tests.console.conftest import arrive, console, prepared, settle
from tests.support.replay import EVENTS


def footer_keys(app) -> dict[str, str]:
    """The keys the footer shows, with what it says they do."""
    footer = app.screen.query_one(LabFooter)
    return {k.key: k.description for k in footer.query(FooterKey) if "-command-palette" not in k.classes}


async def test_q_quits_as_in_sngrep_but_not_from_a_field_or_a_dialog(db_path):
    """q did nothing at all (only ctrl+q and ctrl+c quit), the first key a terminal user tries."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", "a", "q")  # typing in the firewall's field: a letter
        await pilot.pause()
        assert app.screen.query_one("#add-rule").value == "q" and not app.stopped
        await pilot.press("escape", "w", "s")  # "Start this exercise?": q is not an answer to it
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmStart" and not app.stopped
        await pilot.press("escape", "q")  # on a screen: quit, agents stopped first
        assert await settle(pilot, lambda: app.stopped)


async def test_the_search_field_says_how_to_leave_it_at_80_columns(db_path):
    """While typing a search the footer said "⏎ Submit / Search": / types a slash there, and
    the way out (escape) was only in the placeholder, which 80 columns cut before it."""
    await prepared(db_path)
    app = console(db_path, "inbound_ok")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c", "slash")
        await pilot.pause()
        keys = footer_keys(app)
        assert keys.get("escape") == "Clear the search" and "enter" in keys
        assert "slash" not in keys
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#call-list")


def end_in_view(table) -> bool:
    return table.max_scroll_y > 0 and table.scroll_y == table.max_scroll_y


async def calls_at_80x24(pilot):
    await pilot.press("c")
    await pilot.pause()
    return pilot.app.screen.query_one("#call-list")


async def test_a_followed_call_keeps_its_b_legs_in_view_as_they_arrive(db_path):
    """At 80x24 the newest call's row was in view but its B legs, which arrive after it, were
    below the list's edge: the list's end stays in view while the newest call is followed."""
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await calls_at_80x24(pilot)
        records = load_recording(EVENTS / "inbound_failover.jsonl", ref_prefix="new-")  # a newer call
        first = next(i for i, r in enumerate(records) if r["source"].startswith("gateway") and r["event"]["ev"] == "sip")
        for record in records[:first]:  # placed, the PSTN's INVITE, its first states
            arrive(app, record)
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows][-1] == "new-c1" and end_in_view(table)
        for record in records[first:]:  # the gateway's side and the B legs, in one go
            arrive(app, record)
        await pilot.pause()
        await pilot.pause()
        last = [row.key.value for row in table.ordered_rows][-1]
        assert last.startswith("new-c1\t")  # a B leg of the new call is the last row
        assert end_in_view(table) and app.screen.selected.ref == "new-c1"


async def test_a_provisional_call_merged_while_on_the_list_is_no_traceback(db_path):
    """An agent may report a Call-ID before the lab knows whose it is (a B leg's first
    message before the gateway's bridge): a provisional call, on the list until it is merged
    into its call. No event names it again, and the list looked it up: KeyError, the console
    gone. Here each event is drawn before the next arrives."""
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await calls_at_80x24(pilot)
        provisional = False
        for record in load_recording(EVENTS / "inbound_failover.jsonl", ref_prefix="new-"):
            arrive(app, record)
            await pilot.pause()
            provisional |= any(not row.key.value.startswith(("new-", "r")) for row in table.ordered_rows)
        await pilot.pause()
        assert provisional  # one was on the list
        refs = {row.key.value.split("\t")[0] for row in table.ordered_rows}
        assert refs == set(app.lab.book.calls) and "new-c1" in refs
        assert end_in_view(table) and app.screen.selected.ref == "new-c1"


async def test_calls_that_came_while_away_show_the_newest_with_its_legs(db_path):
    """The checklist placed its calls while Exercises was on top; back on Calls the newest
    call was selected but its B leg was below the list's edge."""
    await prepared(db_path)
    app = console(db_path, "inbound_ok", "outbound_wrong_token", "inbound_firewall_drop", "outbound_header_ok")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await calls_at_80x24(pilot)
        await pilot.press("w")
        await pilot.pause()
        for record in load_recording(EVENTS / "inbound_failover.jsonl", ref_prefix="new-"):
            arrive(app, record)
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows][-1].startswith("new-c1\t")
        assert end_in_view(table) and app.screen.selected.ref == "new-c1"


async def test_a_dialog_s_footer_shows_the_dialog_s_own_keys(db_path):
    """With a dialog open, the footer was the screen's beneath ("a Add number", "k Checklist",
    "d e n t f c b w"), none of which reaches a dialog, and ctrl+s (save a number) was shown
    nowhere. Each dialog has a footer of its own keys; in its fields esc is the dialog's Cancel
    (it was "Leave the field", which a dialog passes on)."""
    await prepared(db_path)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "enter")  # a number's trunk group
        await pilot.pause()
        keys = footer_keys(app)
        assert keys.get("escape") == "Cancel" and keys.get("ctrl+s") == "Save"
        assert not {"a", "k", "d", "question_mark"} & set(keys)
        await pilot.press("escape", "c", "i")  # the inbound call dialog, its number field focused
        await pilot.pause()
        keys = footer_keys(app)
        assert keys.get("escape") == "Cancel" and "enter" in keys and not {"i", "o", "k"} & set(keys)
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "CallsScreen"
        await pilot.press("w", "s")  # "Start this exercise?"
        await pilot.pause()
        keys = footer_keys(app)
        assert keys.get("escape") == "Cancel" and keys.get("enter") == "Start"


async def test_an_engine_event_reaches_the_screen_once_as_one_message(db_path, monkeypatch):
    """Issue 10: the app re-posted every engine event to the screen (so screens declared their
    handlers bubble=False). Now each event becomes one message, posted to the screen on top,
    which bubbles it to the app: one message made, one post."""
    from screens import lab_app as lab_app_module
    from sip.events import AgentError

    await prepared(db_path)
    app = console(db_path)
    async with app.run_test() as pilot:
        await pilot.pause()
        made = []
        plain = lab_app_module.messages.message_for
        monkeypatch.setattr(lab_app_module.messages, "message_for",
                            lambda event: made.append(plain(event)) or made[-1])
        posted = []
        screen = app.screen
        screen_post = screen.post_message
        monkeypatch.setattr(screen, "post_message", lambda message: posted.append(message) or screen_post(message))
        app_posted = []
        app_post = app.post_message
        monkeypatch.setattr(app, "post_message", lambda message: app_posted.append(message) or app_post(message))
        app.lab._publish(AgentError("lab", "a test event"))
        await pilot.pause(0.2)
        engine_posts = [m for m in posted if isinstance(m, type(made[0]))]  # (Pilot posts callbacks too)
        assert len(made) == 1 and engine_posts == made
        # what reaches the app is that same message, bubbled from the screen (Textual bubbles by
        # posting to the parent), never a second one made for it
        assert all(m is made[0] for m in app_posted if isinstance(m, type(made[0])))
