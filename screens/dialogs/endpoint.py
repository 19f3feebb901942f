"""Endpoints: Add New Endpoint (with the portal's "Provision Trunk Group"), its name and
capacity, deleting it, and its Endpoint Addresses (add, edit, remove)."""

from __future__ import annotations

from store import Store, validate
from store.records import DIRECTIONS, TRANSPORTS, Endpoint, EndpointAddress

from .form import Field, FormDialog, Values, choices

THIRD_PARTY_NOTE = ("Type: third-party, your PBX's side (the System Gateway is the carrier's). "
                    "Provision Trunk Group: also a trunk group named after it, with a trunk to it.")
CAPACITY_HELP = "concurrent calls at most; 0: no limit"
ADDRESS_NOTE = ("Where the System Gateway sends calls (inbound) and what it accepts calls from (outbound, "
                "IP-based authentication); the lowest priority is tried first.")


def add_endpoint(store: Store) -> FormDialog:
    async def save(values: Values) -> str:
        endpoint = await store.create_endpoint(values["endpoint-name"], capacity=values["endpoint-capacity"],
                                               provision_trunk_group=bool(values["endpoint-provision"]))
        group = " and its trunk group" if values["endpoint-provision"] else ""
        return f"Endpoint {endpoint.name!r}{group} created: now give it your PBX's address (a)"

    return FormDialog("add-endpoint-dialog", "Add New Endpoint", (
        Field("endpoint-name", "Name", "name", max_length=validate.MAX_NAME, placeholder="e.g. Acme PBX"),
        Field("endpoint-capacity", "Capacity", "capacity", "0", max_length=8),
        Field("endpoint-provision", "Provision Trunk Group", value=True,
              kind="check"),
    ), save, intro=f"{THIRD_PARTY_NOTE}\nCapacity: {CAPACITY_HELP}.")


def edit_endpoint(store: Store, endpoint: Endpoint) -> FormDialog:
    async def save(values: Values) -> str:
        saved = await store.update_endpoint(endpoint.endpoint_sid, name=values["endpoint-name"],
                                            capacity=values["endpoint-capacity"])
        return f"Endpoint {saved.name!r} saved"

    return FormDialog("edit-endpoint-dialog", f"Edit endpoint {endpoint.name}", (
        Field("endpoint-name", "Name", "name", endpoint.name, max_length=validate.MAX_NAME),
        Field("endpoint-capacity", "Capacity", "capacity", str(endpoint.capacity), max_length=8),
    ), save, intro=f"endpoint_sid {endpoint.endpoint_sid}\nCapacity: {CAPACITY_HELP}.")


def delete_endpoint(store: Store, endpoint: Endpoint) -> FormDialog:
    async def save(values: Values) -> str:
        await store.delete_endpoint(endpoint.endpoint_sid)
        return f"Endpoint {endpoint.name!r} deleted"

    return FormDialog("delete-endpoint-dialog", f"Delete endpoint {endpoint.name}?", (), save,
                      intro="Its addresses go with it; its VoIP token stops working.", save_label="Delete")


def address_fields(address: EndpointAddress | None, ip_hint: str) -> tuple[Field, ...]:
    return (
        Field("address-ip", "IP address or subnet", "ip", address.ip if address else "",
              max_length=validate.MAX_ADDRESS, placeholder=ip_hint),
        Field("address-port", "Port", "port", str(address.port if address else 5060), max_length=5),
        Field("address-direction", "Direction", "direction",
              address.direction if address else "any", kind="choice", choices=choices(*DIRECTIONS)),
        Field("address-priority", "Priority", "priority",
              str(address.priority if address else 0), max_length=8),
        Field("address-transport", "Transport", "transport", address.transport if address else "udp",
              kind="choice", choices=choices(*TRANSPORTS)),
    )


def address_values(values: Values) -> dict[str, object]:
    return {"ip": values["address-ip"], "port": values["address-port"], "direction": values["address-direction"],
            "priority": values["address-priority"], "transport": values["address-transport"]}


def add_address(store: Store, endpoint: Endpoint, ip_hint: str) -> FormDialog:
    async def save(values: Values) -> str:
        fields = address_values(values)
        address = await store.add_endpoint_address(endpoint.endpoint_sid, fields.pop("ip"), **fields)
        return f"{endpoint.name}: address {address.ip}:{address.port} added"

    return FormDialog("add-address-dialog", f"Add an address to {endpoint.name}", address_fields(None, ip_hint),
                      save, intro=ADDRESS_NOTE)


def edit_address(store: Store, endpoint: Endpoint, address: EndpointAddress) -> FormDialog:
    async def save(values: Values) -> str:
        saved = await store.update_endpoint_address(address.address_id, **address_values(values))
        return f"{endpoint.name}: address {saved.ip}:{saved.port} saved"

    return FormDialog("edit-address-dialog", f"Edit an address of {endpoint.name}", address_fields(address, ""),
                      save, intro=ADDRESS_NOTE)
