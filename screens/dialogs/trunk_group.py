"""Trunk Groups: create, rename, delete (refused while numbers are assigned to it, naming
them); its trunks: add one to an endpoint, change its priority."""

from __future__ import annotations

from store import Store, validate
from store.records import Endpoint, Trunk, TrunkGroup

from .form import Field, FormDialog, Values

PRIORITY_NOTE = "The gateway tries a group's trunks in priority order, the lowest first (failover)."


def create_trunk_group(store: Store) -> FormDialog:
    async def save(values: Values) -> str:
        group = await store.create_trunk_group(values["trunk-group-name"])
        return f"Trunk group {group.name!r} created: add a trunk to your endpoint (a)"

    return FormDialog("create-trunk-group-dialog", "New trunk group", (
        Field("trunk-group-name", "Name", "name", max_length=validate.MAX_NAME, placeholder="e.g. Main"),
    ), save)


def rename_trunk_group(store: Store, group: TrunkGroup) -> FormDialog:
    async def save(values: Values) -> str:
        renamed = await store.rename_trunk_group(group.trunk_group_sid, values["trunk-group-name"])
        return f"Trunk group renamed {renamed.name!r}"

    return FormDialog("rename-trunk-group-dialog", f"Rename {group.name}", (
        Field("trunk-group-name", "Name", "name", group.name, max_length=validate.MAX_NAME),
    ), save, intro=f"trunk_group_sid {group.trunk_group_sid}")


def delete_trunk_group(store: Store, group: TrunkGroup) -> FormDialog:
    async def save(values: Values) -> str:
        await store.delete_trunk_group(group.trunk_group_sid)
        return f"Trunk group {group.name!r} deleted"

    return FormDialog("delete-trunk-group-dialog", f"Delete trunk group {group.name}?", (), save,
                      intro="Its trunks go with it (the endpoints stay).", save_label="Delete")


def add_trunk(store: Store, group: TrunkGroup, endpoints: tuple[Endpoint, ...]) -> FormDialog:
    async def save(values: Values) -> str:
        trunk = await store.add_trunk(group.trunk_group_sid, values["trunk-endpoint"],
                                      priority=values["trunk-priority"])
        return f"Trunk {trunk.name!r} added to {group.name}"

    return FormDialog("add-trunk-dialog", f"Add a trunk to {group.name}", (
        Field("trunk-endpoint", "To the endpoint", "endpoint_sid", endpoints[0].endpoint_sid if endpoints else "",
              kind="choice", choices=tuple((e.name, e.endpoint_sid) for e in endpoints)),
        Field("trunk-priority", "Priority", "priority", "0", max_length=8),
    ), save, intro=PRIORITY_NOTE)


def edit_trunk(store: Store, trunk: Trunk) -> FormDialog:
    async def save(values: Values) -> str:
        saved = await store.update_trunk(trunk.trunk_sid, name=values["trunk-name"],
                                         priority=values["trunk-priority"])
        return f"Trunk {saved.name!r} saved"

    return FormDialog("edit-trunk-dialog", f"Edit trunk {trunk.name}", (
        Field("trunk-name", "Name", "name", trunk.name, max_length=validate.MAX_NAME),
        Field("trunk-priority", "Priority", "priority", str(trunk.priority), max_length=8),
    ), save, intro=PRIORITY_NOTE)
