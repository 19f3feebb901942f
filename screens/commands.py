"""The command palette's lab actions (Ctrl+P)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = (
    ("Place an inbound call", "The PSTN dials one of your numbers through a System Gateway address", "place_inbound"),
    ("Place an outbound call", "Your PBX calls the PSTN: IP, proxy or header authentication", "place_outbound"),
    ("Run the Verification Checklist", "Inbound, outbound, authentication and audio, for real", "app.run_checklist"),
    ("Reveal the VoIP token", "Endpoints: show the selected endpoint's token", "reveal_token"),
    ("Regenerate the VoIP token", "Endpoints: issue a new token; the old one stops working", "regenerate_token"),
    ("Open Endpoints", "CONFIGURE > Endpoints", "app.open('endpoints')"),
    ("Open Phone Numbers", "CONFIGURE > Phone Numbers", "app.open('numbers')"),
    ("Open Trunk Groups", "CONFIGURE > Trunk Groups", "app.open('trunk_groups')"),
    ("Open the Firewall", "The PBX's allow list and its drops", "app.open('firewall')"),
    ("Open Calls", "The call list, the ladder and the audio", "app.open('calls')"),
    ("Open PBX settings", "The customer's side: credentials the PBX sends, source port, codecs", "app.open('pbx')"),
    ("Open Exercises", "Broken trunks to fix, with hints and your progress", "app.open('exercises')"),
)


class LabCommands(Provider):
    async def _run(self, action: str) -> None:
        if action.startswith("app."):
            await self.app.run_action(action[4:])
        elif action in ("reveal_token", "regenerate_token"):
            await self.app.run_action("open('endpoints')")
            await self.app.screen.run_action(action)
        else:
            await self.app.run_action("open('calls')")
            await self.app.screen.run_action(action)

    async def discover(self) -> Hits:
        for title, help_text, action in ACTIONS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in ACTIONS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help_text)
