"""The command palette's lab actions (Ctrl+P): the screens of the registry, and what to do on them."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, the screen it acts on ('' for the app), the action)
ACTIONS = (
    ("Place an inbound call", "The PSTN dials one of your numbers through a System Gateway address",
     "calls", "place_inbound"),
    ("Place an outbound call", "Your PBX calls the PSTN: IP, proxy or header authentication",
     "calls", "place_outbound"),
    ("Run the Verification Checklist", "Inbound, outbound, authentication and audio, for real", "", "run_checklist"),
    ("Reveal the VoIP token", "Endpoints: show the selected endpoint's token", "endpoints", "reveal_token"),
    ("Regenerate the VoIP token", "Endpoints: issue a new token; the old one stops working",
     "endpoints", "regenerate_token"),
    ("Start as a new customer (blank account)", "Home: the account a new CarrierX customer has, to build "
     "the trunk from zero", "dashboard", "start_blank"),
    ("Add New Endpoint", "Endpoints: a third-party endpoint for your PBX (and its trunk group)",
     "endpoints", "add_endpoint"),
    ("New trunk group", "Trunk Groups: a trunk group, to add trunks to", "trunk_groups", "create_group"),
    ("Add a phone number", "Phone Numbers: a number with its name and trunk group", "numbers", "add_number"),
    ("Show the keys", "Every key of the screen on top, with what it does", "", "help"),
)


class LabCommands(Provider):
    def _commands(self) -> list[tuple[str, str, str, str]]:
        opens = [(f"Open {entry.title}", entry.help, "", f"open('{entry.name}')") for entry in self.app.REGISTRY]
        return [*ACTIONS, *opens]

    async def _run(self, screen: str, action: str) -> None:
        if screen:
            await self.app.run_action(f"open('{screen}')")
            await self.app.screen.run_action(action)
        else:
            await self.app.run_action(action)

    async def discover(self) -> Hits:
        for title, help_text, screen, action in self._commands():
            yield DiscoveryHit(title, partial(self._run, screen, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, screen, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, screen, action), help=help_text)
