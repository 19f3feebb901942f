"""Phone Numbers: add one (with a name, and a trunk group if you like), edit its name and
its trunk group (assign or unassign), delete it."""

from __future__ import annotations

from store import Store, validate
from store.records import Did, TrunkGroup
from store.validate import display_phonenumber

from .form import Field, FormDialog, Values

UNASSIGNED = "(unassigned)"
NO_GROUP = "unassigned"  # the choice's value (an empty one is taken for no choice at all)


def group_field(groups: tuple[TrunkGroup, ...], current: str | None) -> Field:
    return Field("number-trunk-group", "Trunk group", "trunk_group_sid", current or NO_GROUP, kind="choice",
                 choices=((UNASSIGNED, NO_GROUP), *((g.name, g.trunk_group_sid) for g in groups)))


def chosen_group(values: Values) -> str | None:
    group = values["number-trunk-group"]
    return None if group == NO_GROUP else str(group)


def add_number(store: Store, groups: tuple[TrunkGroup, ...]) -> FormDialog:
    async def save(values: Values) -> str:
        did = await store.create_did(values["number-phonenumber"], name=values["number-name"],
                                     trunk_group_sid=chosen_group(values))
        return f"{display_phonenumber(did.phonenumber)} added"

    return FormDialog("add-number-dialog", "Add a phone number", (
        Field("number-phonenumber", "Phone number", "phonenumber", max_length=validate.MAX_PHONE_TEXT,
              placeholder="+1 202 555 0142"),
        Field("number-name", "Name (optional)", "name", max_length=validate.MAX_NAME, placeholder="e.g. Sales"),
        group_field(groups, None),
    ), save)


def edit_number(store: Store, did: Did, groups: tuple[TrunkGroup, ...]) -> FormDialog:
    async def save(values: Values) -> str:
        await store.update_did(did.did_sid, name=values["number-name"],
                               trunk_group_sid=chosen_group(values))
        return f"{display_phonenumber(did.phonenumber)} saved"

    return FormDialog("edit-number-dialog", f"Edit {display_phonenumber(did.phonenumber)}", (
        group_field(groups, did.trunk_group_sid),
        Field("number-name", "Name", "name", did.name, max_length=validate.MAX_NAME),
    ), save, intro=f"phonenumber {did.phonenumber}\ndid_sid {did.did_sid}")
