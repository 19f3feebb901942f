"""The PBX firewall: edit a rule in place (its source and its protocol); it keeps its position.
A rule that would let through nothing another rule does not is refused."""

from __future__ import annotations

from store import Store, validate
from store.records import FIREWALL_PROTOCOLS, FirewallRule

from .form import Field, FormDialog, Values, choices


def edit_rule(store: Store, rule: FirewallRule) -> FormDialog:
    async def save(values: Values) -> str:
        saved = await store.update_firewall_rule(rule.rule_id, cidr=values["rule-cidr"],
                                                 protocol=values["rule-protocol"])
        return f"Rule {saved.position} saved: allow {saved.protocol} from {saved.cidr}"

    return FormDialog("edit-rule-dialog", f"Edit firewall rule {rule.position}", (
        Field("rule-cidr", "Allow from", "cidr", rule.cidr, max_length=validate.MAX_ADDRESS),
        Field("rule-protocol", "Protocol", "protocol", rule.protocol, kind="choice",
              choices=choices(*FIREWALL_PROTOCOLS)),
    ), save, intro="An address or a subnet; sip: signalling only, rtp: audio only, any: both.")
