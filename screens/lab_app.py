"""The console app: opens the store, starts the lab's agents in the background, and shows the
CarrierX portal (CONFIGURE) beside the live call flow.

Everything the agents report arrives as EngineEvent messages; edits go straight to the store,
whose committed changes the lab pushes to the running agents (no restart).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from sip.checklist import ChecklistItem, evaluate
from sip.exercise import running_exercise
from sip.lab import Lab, LabError
from store import Account, Store

from .commands import LabCommands
from .messages import AccountChanged, EngineEvent

EngineFactory = Callable[[Store], Lab]


class TrunkLabApp(App):
    CSS_PATH = "lab.tcss"
    TITLE = "trunklab"
    SUB_TITLE = "carrier SIP trunking lab"
    COMMANDS = App.COMMANDS | {LabCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),  # what a terminal user tries first
        Binding("d", "open('dashboard')", "Home"),
        Binding("e", "open('endpoints')", "Endpoints"),
        Binding("n", "open('numbers')", "Numbers"),
        Binding("t", "open('trunk_groups')", "Trunks"),
        Binding("f", "open('firewall')", "Firewall"),
        Binding("c", "open('calls')", "Calls"),
        Binding("k", "run_checklist", "Checklist"),
        Binding("b", "open('pbx')", "PBX"),
        Binding("w", "open('exercises')", "Exercises"),
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
        self.account: Account | None = None
        self.checklist: list[ChecklistItem] = []
        self.engine_error = ""
        self.now = clock  # snapshot tests fix it
        self.exercise: str | None = None  # the scenario loaded into this lab as an exercise

    async def on_mount(self) -> None:
        if self.deterministic:
            self.animation_level = "none"
        self.store = await Store.open(self.db_path, **self._ids)
        self.account = await self.store.account()
        self.store.subscribe(self._store_changed)
        self.lab = self.engine_factory(self.store)
        self.lab.subscribe(lambda source, event: self.post_message(EngineEvent(source, event)))
        self.checklist = evaluate([], self.account)
        self.exercise = running_exercise(await self.store.exercise_progress())
        from .dashboard import DashboardScreen

        if self.deterministic:  # snapshots: every recorded event is in before the first frame
            await self._start_engine()
            await self.push_screen(DashboardScreen())
        else:  # a person: the console at once, the agents starting in the background
            await self.push_screen(DashboardScreen())
            self.run_worker(self._start_engine(), name="engine", group="engine")

    def exports_folder(self) -> Path:
        """Where reports and pcaps go: exports/<database name>/ beside the database. Labs and
        classroom sessions keep their databases side by side, so the name keeps them apart."""
        return self.db_path.parent / "exports" / self.db_path.stem

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
        """A checklist (k) or an exercise's check is placing its calls."""
        return any(w.group == "checklist" and not w.is_finished for w in self.workers)

    async def _start_engine(self) -> None:
        try:
            await self.lab.start()
        except Exception as error:  # noqa: BLE001 - shown to the user, the console stays usable
            self.engine_error = str(error)
            self.notify(f"The lab's agents could not start: {error}", severity="error", timeout=30, markup=False)
        if self.screen_stack:
            self.screen.post_message(EngineEvent("lab", {"ev": "engine", "error": self.engine_error}))

    def _store_changed(self) -> None:
        self.run_worker(self._reload_account(), group="account")

    async def _reload_account(self) -> None:
        self.account = await self.store.account()
        self.screen.post_message(AccountChanged())

    def on_engine_event(self, message: EngineEvent) -> None:
        if self.lab is None:  # shutting down: the last events of the agents
            return
        kind = message.event.get("ev")
        if kind == "error":  # an agent refused a command (e.g. a PBX source port that is taken)
            self.notify(f"{message.source}: {message.event.get('message', '')}", severity="warning", markup=False)
        if kind in ("call", "placed", "media", "decision", "agent") or message.source == "lab":
            self.checklist = evaluate(list(self.lab.book.calls.values()), self.account)
        self.screen.post_message(EngineEvent(message.source, message.event))

    # ------------------------------------------------------------------ actions

    async def action_open(self, name: str) -> None:
        from .calls import CallsScreen
        from .dashboard import DashboardScreen
        from .endpoints import EndpointsScreen
        from .exercises import ExercisesScreen
        from .firewall import FirewallScreen
        from .numbers import PhoneNumbersScreen
        from .pbx import PbxScreen
        from .trunk_groups import TrunkGroupsScreen

        screens = {"dashboard": DashboardScreen, "endpoints": EndpointsScreen, "numbers": PhoneNumbersScreen,
                   "trunk_groups": TrunkGroupsScreen, "firewall": FirewallScreen, "calls": CallsScreen,
                   "pbx": PbxScreen, "exercises": ExercisesScreen}
        if type(self.screen) is screens[name]:
            return
        while len(self.screen_stack) > 2:  # the default screen + the dashboard stay
            await self.pop_screen()
        if name != "dashboard":
            await self.push_screen(screens[name]())  # awaited: the palette acts on it next

    async def action_run_checklist(self) -> None:
        if not self.agents_ready():
            return
        self.notify("Running the Verification Checklist: 2 inbound and 3 outbound calls ...")
        self.run_worker(self._checklist(), name="checklist", group="checklist", exit_on_error=False)

    async def _checklist(self) -> None:
        try:
            items, _ = await self.lab.run_checklist()
        except LabError as error:
            self.notify(f"The checklist could not run: {error}", severity="error", markup=False)
            return
        self.checklist = items
        passed = all(i.passed for i in items)
        self.notify("Checklist: all four items pass" if passed else "Checklist: some items fail — see the causes",
                    severity="information" if passed else "warning")
        self.screen.post_message(EngineEvent("lab", {"ev": "checklist"}))

    async def action_quit(self) -> None:
        self.notify("Stopping the agents ...")
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop every agent and close the store (idempotent: quit, Ctrl-C, crash all come here)."""
        if self.lab is not None:
            await self.lab.stop()
            self.lab = None  # only now: app.py ends agents by pid if this never completed
        store, self.store = self.store, None
        if store is not None:
            await store.close()

    async def on_unmount(self) -> None:
        await self.shutdown()
