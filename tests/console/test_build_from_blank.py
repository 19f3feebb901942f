"""The whole trunk built from a blank account through the console alone, with real agents:
Add New Endpoint (Provision Trunk Group), its address, two numbers assigned, the firewall's two
System Gateway rules, the PBX's endpoint SID and token; then the real Verification Checklist
(k on Home) passes all four items. Every key press is counted: the figure is printed (run
with -s) and kept as the test's `key_presses` property (--junitxml)."""

from __future__ import annotations

import pytest

from screens.dialogs.form import FormDialog
from tests.console.conftest import agents_up, live_console, settle


class CountingPilot:
    """Pilot.press, counting each key (a typed word counts one per character)."""

    def __init__(self, pilot) -> None:
        self.pilot, self.presses = pilot, 0

    async def press(self, *keys: str) -> None:
        self.presses += len(keys)
        await self.pilot.press(*keys)
        await self.pilot.pause(0.05)

    async def type(self, text: str) -> None:
        await self.press(*text)


@pytest.mark.agents
@pytest.mark.timeout(180)
async def test_build_the_whole_trunk_from_a_blank_account_then_the_checklist_passes(tmp_path, record_property):
    db = tmp_path / "live.db"
    app = await live_console(db)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await settle(pilot, lambda: agents_up(app), 200)
        keys = CountingPilot(pilot)
        pbx_ip = app.account.party("pbx").ip
        gateways = [a.ip for a in app.account.system_gateway.addresses]

        # Home: start as a new customer
        await keys.press("ctrl+n", "enter")
        assert await settle(pilot, lambda: not app.account.third_party_endpoints and not app.account.firewall_rules)
        assert await settle(pilot, lambda: agents_up(app), 100)

        # Endpoints: Add New Endpoint, Provision Trunk Group ticked (the default)
        await keys.press("e", "plus")
        await keys.type("Acme PBX")
        await keys.press("enter")
        assert await settle(pilot, lambda: len(app.account.third_party_endpoints) == 1
                            and app.screen.selected == app.account.third_party_endpoints[0])
        # ... and its address: where the PBX listens
        await keys.press("a")
        await keys.type(pbx_ip)
        await keys.press("enter")
        assert await settle(pilot, lambda: app.account.third_party_endpoints[0].addresses)
        assert not isinstance(app.screen, FormDialog)

        # Phone Numbers: the first two, to the trunk group (enter: Edit; the group; ctrl+s: Save)
        await keys.press("n")
        for row in range(2):
            await keys.press("enter", "enter", "down", "enter", "ctrl+s")
            assert await settle(pilot, lambda: app.account.dids[row].trunk_group_sid is not None)
            await keys.press("down")

        # Firewall: allow the System Gateway's addresses
        await keys.press("f", "a")
        for ip in gateways:
            await keys.type(ip)
            await keys.press("enter")
        assert await settle(pilot, lambda: len(app.account.firewall_rules) == len(gateways))
        await keys.press("escape")

        # PBX settings: the endpoint SID and VoIP token, copied from the portal
        await keys.press("b", "u")
        assert await settle(pilot, lambda: app.account.pbx_trunk.configured)

        # Home: the Verification Checklist, for real
        await keys.press("d", "k")
        assert await settle(pilot, lambda: app.checklist and all(i.status in ("pass", "fail") for i in app.checklist)
                            and not app.checklist_running(), 600)
        assert [(i.title, i.status) for i in app.checklist] == [(i.title, "pass") for i in app.checklist], [
            (i.title, i.status, i.cause) for i in app.checklist]
        assert len(app.checklist) == 4

        account = app.account
        endpoint = account.third_party_endpoints[0]
        [group] = account.trunk_groups
        assert [t.endpoint_sid for t in group.trunks] == [endpoint.endpoint_sid]
        assert [d.trunk_group_sid for d in account.dids][:2] == [group.trunk_group_sid] * 2
        assert (account.pbx_trunk.endpoint_sid, account.pbx_trunk.voip_token) == (
            endpoint.endpoint_sid, endpoint.voip_token)
        print(f"\nbuild from blank: {keys.presses} key presses")
        record_property("key_presses", keys.presses)
        await app.action_quit()
