"""Every screen of the console, once: its name, title, key, class and what it is for.

The app's keys and modes, the Home menu, the command palette and the help screen are all built
from SCREENS, so a screen is added (or a key changed) here and nowhere else. A key of this
table means the same on every screen: no screen binds it to anything else (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import LabScreen
from .calls import CallsScreen
from .dashboard import DashboardScreen
from .endpoints import EndpointsScreen
from .exercises import ExercisesScreen
from .firewall import FirewallScreen
from .lesson import LessonScreen
from .numbers import PhoneNumbersScreen
from .pbx import PbxScreen
from .trunk_groups import TrunkGroupsScreen


@dataclass(frozen=True)
class ScreenEntry:
    name: str  # the mode's name and the argument of app.open()
    title: str  # on the Home menu, the palette and the help screen
    label: str  # in the footer (short: the footer is one line)
    key: str
    screen: type[LabScreen]
    help: str  # one sentence: what the screen is for
    on_menu: bool = True  # Home's CONFIGURE menu (Home itself is not on it)


SCREENS = (
    ScreenEntry("dashboard", "Home", "Home", "d", DashboardScreen,
                "The parties and their addresses, the CONFIGURE menu and the Verification Checklist.",
                on_menu=False),
    ScreenEntry("endpoints", "Endpoints", "Endpoints", "e", EndpointsScreen,
                "CONFIGURE > Endpoints: the System Gateway, your PBX's endpoint, its token, addresses and numbers."),
    ScreenEntry("numbers", "Phone Numbers", "Numbers", "n", PhoneNumbersScreen,
                "CONFIGURE > Phone Numbers: assign each number (DID) to a trunk group."),
    ScreenEntry("trunk_groups", "Trunk Groups", "Trunks", "t", TrunkGroupsScreen,
                "CONFIGURE > Trunk Groups: the trunks to your endpoints and the numbers they carry."),
    ScreenEntry("firewall", "Firewall", "Firewall", "f", FirewallScreen,
                "The PBX's firewall: the allow list, what each rule let through, what it dropped."),
    ScreenEntry("calls", "Calls", "Calls", "c", CallsScreen,
                "Place calls; the call list, the ladder of the selected call and the audio of each leg."),
    ScreenEntry("pbx", "PBX settings", "PBX", "b", PbxScreen,
                "The customer's side: the credentials the PBX sends, its source port and codecs."),
    ScreenEntry("exercises", "Exercises", "Exercises", "w", ExercisesScreen,
                "Broken trunks to fix, with hints, Check my fix and a report."),
    ScreenEntry("lesson", "Lesson", "Lesson", "y", LessonScreen,
                "The guided lesson: the page's five sections as steps that tick from the live account and "
                "real calls, each with the next thing to do in the portal and on the PBX."),
)

BY_NAME = {entry.name: entry for entry in SCREENS}


def entry_of(screen: object) -> ScreenEntry | None:
    """The registry entry of a screen instance (None for dialogs)."""
    return next((e for e in SCREENS if type(screen) is e.screen), None)
