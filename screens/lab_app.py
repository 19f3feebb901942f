"""The console app: opens the store, starts the lab's agents in the background, and shows the
CarrierX portal (CONFIGURE) beside the live call flow.

The lab (sip/lab.py) owns everything shown: the account, the exercise progress, the calls, the
checklist. The app subscribes to it once and posts each of its events, as the message of its
kind (screens/messages.py), to the screen on top; the message bubbles on to the app. Edits go
straight to the store; the lab sees every committed change, by any process, pushes it to the
running agents (no restart) and announces it (AccountChanged).

The screens are modes (one per entry of screens/registry.py), so each keeps its place while
another is shown.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import App
from textual.binding import Binding

from sip.checklist import ChecklistItem
from sip.events import EngineEvent
from sip.exercise import shows_fix
from sip.lab import Lab, LabError
from store import Account, Store

from . import messages
from .commands import LabCommands
from .help import HelpScreen, keys_of
from .registry import BY_NAME, SCREENS, entry_of

EngineFactory = Callable[[Store], Lab]
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
SCREEN_KEYS = Binding.Group("screens", compact=True)  # a kill, a closed terminal: quit as Ctrl+Q does


class TrunkLabApp(App):
    CSS_PATH = "lab.tcss"
    TITLE = "trunklab"
    SUB_TITLE = "carrier SIP trunking lab"
    COMMANDS = App.COMMANDS | {LabCommands}
    MODES = {entry.name: entry.screen for entry in SCREENS}
    REGISTRY = SCREENS
    # The footer shows the screen's keys first (esc, ? and its own), then these: the screens'
    # keys as one group, their names being on Home's menu and under ?. Quit is listed under ?
    # only: q is what a terminal user tries first (as in sngrep and htop), and ctrl+c; q is no
    # priority key, so a text field takes it as a letter, and a dialog (modal: the app's other
    # keys do not reach it) does not quit.
    BINDINGS = [
        Binding("k", "run_checklist", "Checklist"),
        *(Binding(entry.key, f"open('{entry.name}')", entry.label, group=SCREEN_KEYS) for entry in SCREENS),
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        db_path: str | Path,
        *,
        engine_factory: EngineFactory = Lab,
        new_sid: Callable[[], str] | None = None,
        new_token: Callable[[], str] | None = None,
        deterministic: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.engine_factory = engine_factory
        self._ids = {k: v for k, v in (("new_sid", new_sid), ("new_token", new_token)) if v is not None}
        self.deterministic = deterministic  # snapshot tests: no blinking cursor, no animation
        self.store: Store | None = None
        self.lab: Lab | None = None
        self.stopped = False  # shutdown() ran: the agents are stopped, the store closed
        self.now = clock  # snapshot tests fix it

    # ------------------------------------------------------------------ what the lab holds

    @property
    def account(self) -> Account:
        return self.lab.account

    @property
    def checklist(self) -> list[ChecklistItem]:
        return self.lab.checklist

    @property
    def exercise(self) -> str | None:
        return self.lab.exercise

    def trainee_mode(self) -> bool:
        """An exercise is under way and no hint was asked for yet: the checklist shows each
        failing item's symptom and cause, not its fix (sip.exercise.shows_fix)."""
        exercise = self.lab.exercise if self.lab is not None else None
        return exercise is not None and not shows_fix(self.lab.progress.get(exercise))

    @property
    def engine_error(self) -> str:
        return self.lab.engine_error if self.lab is not None else ""

    # ------------------------------------------------------------------ life cycle

    async def on_mount(self) -> None:
        if self.deterministic:
            self.animation_level = "none"
        self._quit_on_signals()
        self.store = await Store.open(self.db_path, **self._ids)
        self.lab = self.engine_factory(self.store)
        self.lab.subscribe(self._post_engine_event)
        await self.lab.load()
        if self.deterministic:  # snapshots: every recorded event is in before the first frame
            await self._start_engine()
            await self.switch_mode("dashboard")
        else:  # a person: the console at once, the agents starting in the background
            await self.switch_mode("dashboard")
            self.run_worker(self._start_engine(), name="engine", group="engine")

    def _quit_on_signals(self) -> None:
        """SIGTERM and SIGHUP end the console as Ctrl+Q does: agents stopped, terminal restored
        (by default they would end the process with the terminal in the alternate screen,
        mouse tracking on and the cursor hidden). Not in tests (headless)."""
        if self.is_headless or threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in QUIT_SIGNALS:
            loop.add_signal_handler(sig, lambda: self.call_later(self.action_quit))

    def _post_engine_event(self, event: EngineEvent) -> None:
        """Each lab event, once, to the screen on top; it bubbles from there to the app."""
        if self.stopped or not self.screen_stack:  # shutting down: the agents' last words
            return
        self.screen.post_message(messages.message_for(event))

    async def _start_engine(self) -> None:
        try:
            await self.lab.start()
        except Exception:  # noqa: BLE001 - the lab published EngineFailed; the console stays usable
            pass

    def exports_folder(self) -> Path:
        """Where reports and pcaps go: exports/<database name>/ beside the database. Labs and
        classroom sessions keep their databases side by side, so the name keeps them apart."""
        return self.db_path.parent / "exports" / self.db_path.stem

    # ------------------------------------------------------------------ what the app itself shows

    @on(messages.AgentError)
    def _agent_error(self, message: messages.AgentError) -> None:
        event = message.event  # e.g. a PBX source port that is taken
        self.notify(f"{event.agent}: {event.message}", severity="warning", markup=False)

    @on(messages.EngineFailed)
    def _engine_failed(self, message: messages.EngineFailed) -> None:
        self.notify(f"The lab's agents could not start: {message.event.reason}", severity="error", timeout=30,
                    markup=False)

    # ------------------------------------------------------------------ actions

    def agents_ready(self) -> bool:
        """True when calls can be placed; otherwise say why, once."""
        states = self.lab.agent_states if self.lab is not None else {}
        if self.engine_error or not states or any(state != "up" for state in states.values()):
            self.notify("The checklist needs every agent up; see the status bar", severity="warning")
            return False
        if self.checklist_running():
            self.notify("The checklist is already running")
            return False
        return True

    def checklist_running(self) -> bool:
        """A checklist (k) or an exercise's check is placing its calls (or about to)."""
        return self.lab.checklist_running or any(
            w.group == "checklist" and not w.is_finished for w in self.workers)

    async def action_open(self, name: str) -> None:
        """Show a screen of the registry (a mode: it keeps its place while others are shown)."""
        while len(self.screen_stack) > 1:  # a dialog or the help on top: closed first
            self.pop_screen()
        await self.switch_mode(BY_NAME[name].name)  # awaited: the palette acts on it next

    def action_help(self) -> None:
        entry = entry_of(self.screen)
        if entry is None:  # a dialog is on top: it has its own keys
            return
        self.push_screen(HelpScreen(f"{entry.title}  ({entry.key})", entry.help, keys_of(self, self.screen)))

    async def action_run_checklist(self) -> None:
        if not self.agents_ready():
            return
        if not self._checklist_on_screen():  # Home shows it running: no toast over it
            self.notify("Running the Verification Checklist: 2 inbound and 3 outbound calls ...", timeout=4)
        self.run_worker(self._checklist(), name="checklist", group="checklist", exit_on_error=False)

    def _checklist_on_screen(self) -> bool:
        return entry_of(self.screen) is BY_NAME["dashboard"]

    async def _checklist(self) -> None:
        try:
            items, _ = await self.lab.run_checklist()
        except LabError as error:
            self.notify(f"The checklist could not run: {error}", severity="error", markup=False)
            return
        if self._checklist_on_screen():  # the results are there: a toast would only cover them
            return
        passed = all(i.passed for i in items)
        self.notify("Checklist: all four items pass" if passed else "Checklist: some items fail: Home (d) shows why",
                    severity="information" if passed else "warning")

    async def action_quit(self) -> None:
        self.notify("Stopping the agents ...")
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop every agent and close the store (idempotent: quit, Ctrl-C, a signal, a crash all
        come here)."""
        if self.stopped:
            return
        self.stopped = True
        if self.lab is not None:
            await self.lab.stop()  # app.py ends agents by pid if this never completed
        store, self.store = self.store, None
        if store is not None:
            await store.close()

    async def on_unmount(self) -> None:
        await self.shutdown()
