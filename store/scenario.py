"""Broken trunks to fix: the scenario library (store/scenarios/*.toml).

A scenario is data: a story, the changes it makes to the default account, the symptom, the
lesson, its difficulty (1-3), hints (each about the checklist items it helps with, given one at
a time when asked for), the documented fix, and optionally `fixed_when` (what
"fixed" means, shown to the trainee; by default, and always for the exercise's judge: the
Verification Checklist passes). Changes and fix are steps in a
small vocabulary carried out through the store's own operations (the ones the console uses),
with addresses named by role ("gateway:2", "pbx", "pbx_roaming", "pstn") so a scenario works in
any lab's address plan.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NotFoundError, ValidationError
from .records import CHECKLIST_KEYS, Account, Endpoint, EndpointAttributes

if TYPE_CHECKING:  # only for annotations: scenarios are data the pure core reads too
    from .store import Store

LIBRARY = Path(__file__).resolve().parent / "scenarios"


FIXED_WHEN = "All four items of the Verification Checklist pass."
DIFFICULTIES = {1: "easy", 2: "medium", 3: "hard"}


@dataclass(frozen=True)
class Hint:
    """One hint, and the checklist items it is about: it is given only while one of them fails
    (a hint about a step that already passes would send the trainee the wrong way)."""

    text: str
    about: tuple[str, ...] = CHECKLIST_KEYS  # a plain string in the file: about any failing item


@dataclass(frozen=True)
class Scenario:
    name: str  # the file name without .toml
    title: str
    story: str
    symptom: str
    lesson: str
    hints: tuple[Hint, ...]
    changes: tuple[dict, ...]
    fix: tuple[dict, ...]
    fixed_when: str = FIXED_WHEN  # what "fixed" means; the exercise judges it by the checklist
    difficulty: int = 2  # 1 easy, 2 medium, 3 hard: the Exercises list is in this order

    @property
    def difficulty_word(self) -> str:
        return DIFFICULTIES[self.difficulty]


REQUIRED = ("title", "story", "symptom", "lesson", "hints", "changes", "fix", "difficulty")


def _hint(name: str, item: object) -> Hint:
    if isinstance(item, str):
        return Hint(item)
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ValidationError(f"scenario {name}: a hint is a string or a table with text (and about)")
    about = item.get("about", list(CHECKLIST_KEYS))
    about = [about] if isinstance(about, str) else about
    unknown = [a for a in about if a not in CHECKLIST_KEYS]
    if unknown or not about:
        raise ValidationError(f"scenario {name}: a hint is about one of {', '.join(CHECKLIST_KEYS)}, "
                              f"not {', '.join(map(str, unknown)) or 'nothing'}")
    return Hint(item["text"], tuple(about))


def parse_scenario(name: str, text: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationError(f"scenario {name}: not valid TOML ({error})") from None
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ValidationError(f"scenario {name}: missing {', '.join(missing)}")
    steps = [*data["changes"], *data["fix"]]
    unknown = [s.get("action") for s in steps if s.get("action") not in ACTIONS]
    if unknown:
        raise ValidationError(f"scenario {name}: unknown action(s) {', '.join(map(str, unknown))}")
    if data["difficulty"] not in DIFFICULTIES:
        raise ValidationError(f"scenario {name}: difficulty is 1 (easy), 2 (medium) or 3 (hard), "
                              f"not {data['difficulty']!r}")
    return Scenario(
        name, data["title"], " ".join(data["story"].split()), data["symptom"], data["lesson"],
        tuple(_hint(name, h) for h in data["hints"]), tuple(data["changes"]), tuple(data["fix"]),
        data.get("fixed_when", FIXED_WHEN), data["difficulty"],
    )


def library(folder: Path = LIBRARY) -> list[Scenario]:
    """Every scenario, easiest first (then by name)."""
    scenarios = [parse_scenario(path.stem, path.read_text()) for path in folder.glob("*.toml")]
    return sorted(scenarios, key=lambda s: (s.difficulty, s.name))


def find(name: str, folder: Path = LIBRARY) -> Scenario:
    for scenario in library(folder):
        if scenario.name == name:
            return scenario
    names = ", ".join(s.name for s in library(folder))
    raise NotFoundError(f"No scenario named {name!r}; there are: {names}")


def resolve(account: Account, value: str) -> str:
    """'gateway:2' -> the second System Gateway address; 'pbx' etc. -> that party's address."""
    if value.startswith("gateway:"):
        index = int(value.split(":", 1)[1]) - 1
        return account.system_gateway.addresses[index].ip
    party = account.party(value)
    return party.ip if party is not None else value


async def _remove_firewall_rule(store: Store, account: Account, step: dict) -> None:
    cidr = f"{resolve(account, step['source'])}/32"
    for rule in account.firewall_rules:
        if rule.cidr == cidr:
            await store.remove_firewall_rule(rule.rule_id)


async def _add_firewall_rule(store: Store, account: Account, step: dict) -> None:
    await store.add_firewall_rule(resolve(account, step["source"]), protocol=step.get("protocol", "any"),
                                  note="CarrierX System Gateway")


async def _set_firewall_protocol(store: Store, account: Account, step: dict) -> None:
    """The rule for that source edited in place (as the Firewall screen does), else added."""
    cidr = f"{resolve(account, step['source'])}/32"
    rule = next((r for r in account.firewall_rules if r.cidr == cidr), None)
    if rule is None:
        await _add_firewall_rule(store, account, step)
    else:
        await store.update_firewall_rule(rule.rule_id, protocol=step.get("protocol", "any"))


async def _assign_number(store: Store, account: Account, step: dict, group: bool = True) -> None:
    did = next((d for d in account.dids if d.phonenumber == step["phonenumber"]), None)
    if did is None:
        raise NotFoundError(f"No phone number {step['phonenumber']} in the account")
    await store.assign_did(did.did_sid, account.trunk_groups[0].trunk_group_sid if group else None)


async def _unassign_number(store: Store, account: Account, step: dict) -> None:
    await _assign_number(store, account, step, group=False)


def _pbx_endpoint(account: Account) -> Endpoint:
    endpoint = account.pbx_endpoint()
    if endpoint is None:
        raise NotFoundError("The account has no third-party endpoint for the PBX")
    return endpoint


async def _set_ip_restrictions(store: Store, account: Account, step: dict) -> None:
    endpoint = _pbx_endpoint(account)
    cidrs = tuple(resolve(account, c) for c in step["cidrs"])
    await store.update_endpoint(endpoint.endpoint_sid,
                                attributes=EndpointAttributes(endpoint.attributes.insecure_address, cidrs))


async def _set_insecure_address(store: Store, account: Account, step: dict) -> None:
    endpoint = _pbx_endpoint(account)
    await store.update_endpoint(endpoint.endpoint_sid, attributes=EndpointAttributes(
        bool(step["value"]), endpoint.attributes.ip_restrictions))


async def _regenerate_voip_token(store: Store, account: Account, step: dict) -> None:
    """In the carrier portal; the PBX's trunk settings keep the old token."""
    await store.regenerate_voip_token(_pbx_endpoint(account).endpoint_sid)


async def _set_pbx_trunk(store: Store, account: Account, step: dict) -> None:
    """The PBX's own settings; "current" for a credential means: as the portal shows it now."""
    endpoint = _pbx_endpoint(account)
    current = {"endpoint_sid": endpoint.endpoint_sid, "voip_token": endpoint.voip_token}
    changes = {key: value for key, value in step.items() if key != "action"}
    for key in ("endpoint_sid", "voip_token"):
        if changes.get(key) == "current":
            changes[key] = current[key]
    await store.update_pbx_trunk(**changes)


ACTIONS = {
    "remove_firewall_rule": _remove_firewall_rule,
    "add_firewall_rule": _add_firewall_rule,
    "set_firewall_protocol": _set_firewall_protocol,
    "assign_number": _assign_number,
    "unassign_number": _unassign_number,
    "set_ip_restrictions": _set_ip_restrictions,
    "set_insecure_address": _set_insecure_address,
    "regenerate_voip_token": _regenerate_voip_token,
    "set_pbx_trunk": _set_pbx_trunk,
}


async def apply_steps(store: Store, steps: tuple[dict, ...]) -> None:
    """Carry out steps in order, each through the store (each step sees the previous ones)."""
    for step in steps:
        try:
            await ACTIONS[step["action"]](store, await store.account(), step)
        except (IndexError, KeyError, StopIteration, TypeError) as error:  # a step naming what is not there
            raise ValidationError(f"scenario step {step} cannot be carried out here ({error!r})") from None


async def load(store: Store, scenario: Scenario) -> None:
    """The default account, then the scenario's changes."""
    await store.reset()
    await apply_steps(store, scenario.changes)
