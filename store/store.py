"""The account store: one SQLite file through aiosqlite, one writer, one transaction per change.

Every public write validates its input first (store/validate.py), then runs inside
`BEGIN IMMEDIATE ... COMMIT`; any refusal raises a StoreError and rolls back, so a refused
change leaves the file exactly as it was. Listeners hear about every committed change, which
is how running agents learn of an edit without a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from . import dbfile, owners, validate
from .apply import plan, read_document
from .defaults import DEFAULT_DIDS, DEFAULT_PLAN, PBX_ENDPOINT_NAME, TRUNK_GROUP_NAME, AddressPlan
from .errors import ConflictError, NotFoundError, ReadOnlyError, ValidationError
from .records import (
    LESSON_STEPS,
    SYSTEM_GATEWAY,
    CallRecord,
    CheckRow,
    ChecklistRun,
    SipMessageRecord,
    THIRD_PARTY,
    Account,
    Did,
    Endpoint,
    EndpointAddress,
    EndpointAttributes,
    ExerciseProgress,
    FirewallRule,
    LabParty,
    PbxTrunk,
    Trunk,
    TrunkGroup,
    account_to_wire,
    stopped_reason,
    checklist_run_from_row,
)
from .schema import LATEST, MIGRATIONS

TOPICS = ("account", "progress")  # what listeners can subscribe to (CDRs are history: no topic)

READ_ONLY_GATEWAY = (
    "The System Gateway endpoint is system-generated and read-only: it is the carrier's side of "
    "the trunk. Allow its addresses through your firewall instead."
)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class _DryRun(Exception):
    """Raised inside a transaction to roll back what a dry run carried out."""

    def __init__(self, changes: list[str]) -> None:
        super().__init__("dry run")
        self.changes = changes


class Store:
    """Open with `await Store.open(path)`; close with `await store.close()` or `async with`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path,
        new_sid: Callable[[], str],
        new_token: Callable[[], str],
    ) -> None:
        self._db = db
        self.path = path
        self._new_sid = new_sid
        self._new_token = new_token
        self._lock = asyncio.Lock()  # one statement sequence at a time on the one connection
        self._listeners: dict[str, list[Callable[[], None]]] = {topic: [] for topic in TOPICS}
        self.owner_pid = os.getpid()  # the process whose calls in progress this store writes
        self._owner = owners.identity(self.owner_pid)

    # ---------------------------------------------------------------- opening and closing

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        plan: AddressPlan = DEFAULT_PLAN,
        new_sid: Callable[[], str] = _new_uuid,
        new_token: Callable[[], str] = _new_uuid,
    ) -> Store:
        """Open (creating if needed) the database, upgrade its schema, and on first open create
        the System Gateway and the default account. `new_sid`/`new_token` are injectable so
        snapshot tests get fixed SIDs."""
        path = Path(path)
        dbfile.prepare(path)  # owner-only; a file that cannot be the account's is refused untouched
        try:
            db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        except sqlite3.Error as error:
            raise dbfile.refusal(path, dbfile.sqlite_problem(error, path)) from None
        try:
            await db.execute("PRAGMA busy_timeout = 15000")
            await db.execute("PRAGMA foreign_keys = ON")
            store = cls(db, path, new_sid, new_token)
            await store._first_open(plan)
        except sqlite3.Error as error:
            await db.close()
            raise dbfile.refusal(path, dbfile.sqlite_problem(error, path)) from None
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def subscribe(self, listener: Callable[[], None], topic: str = "account") -> Callable[[], None]:
        """Call `listener()` after every change to `topic` ('account': the configuration,
        'progress': exercise progress) committed through this Store; returns an unsubscribe
        function. Other connections' commits are seen with data_version()."""
        self._listeners[topic].append(listener)
        return lambda: self._listeners[topic].remove(listener)

    async def data_version(self) -> int:
        """SQLite's PRAGMA data_version for this connection: it changes when another
        connection (another process: the command line, a second console) commits to the file,
        never for this connection's own commits (those reach subscribe()'s listeners)."""
        async with self._lock:
            return int(await self._scalar("PRAGMA data_version"))

    @asynccontextmanager
    async def _transaction(self, *, notify: str | None = "account") -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-way
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            try:
                await self._db.execute("COMMIT")
            except sqlite3.Error:
                await self._db.execute("ROLLBACK")
                raise
        if notify is not None:
            for listener in list(self._listeners[notify]):
                listener()

    async def schema_version(self) -> int:
        return await self._scalar("PRAGMA user_version")

    async def _scalar(self, sql: str, params: tuple = ()) -> object:
        async with self._db.execute(sql, params) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def _first_open(self, plan: AddressPlan) -> None:
        # While another connection is switching a brand-new file to WAL, SQLite can answer
        # "database is locked" without waiting on busy_timeout; that race is short, so retry.
        for attempt in range(50):
            try:
                # Read before anything is written: a file of a newer trunklab, or another program's
                # database, is refused as it is (switching to WAL would already change its header).
                await self._refuse_unknown()
                await self._db.execute("PRAGMA journal_mode = WAL")
                await self._upgrade_and_seed(plan)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 49:
                    raise
                await asyncio.sleep(0.02 * (1 + attempt % 5))

    async def _upgrade_and_seed(self, plan: AddressPlan) -> None:
        # Both steps in one IMMEDIATE transaction: two processes opening the same new file
        # serialise here, and the second finds the schema and the System Gateway already made.
        async with self._transaction(notify=None) as db:
            version = await self._refuse_unknown()
            for migration in MIGRATIONS[version:]:
                for statement in migration:
                    await db.execute(statement)
            if version != LATEST:
                await db.execute(f"PRAGMA user_version = {LATEST}")
            if await self._scalar("SELECT COUNT(*) FROM endpoints WHERE type = ?", (SYSTEM_GATEWAY,)) == 0:
                await self._seed_default_account(plan)
            elif await self._scalar("SELECT COUNT(*) FROM pbx_trunk") == 0:
                await self._seed_pbx_trunk(plan.sip_port)  # a file from before v3: a PBX in sync
            await self._mark_interrupted_calls()

    async def _refuse_unknown(self) -> int:
        """The file's schema version, unless it is one this trunklab must not touch."""
        # One statement, so one snapshot: another process may be creating the file right now.
        rows = await self._rows("SELECT (SELECT user_version FROM pragma_user_version), "
                                "(SELECT COUNT(*) FROM sqlite_master)")
        version, objects = int(rows[0][0]), int(rows[0][1])
        if version > LATEST:
            raise dbfile.refusal(self.path, f"was written by a newer trunklab (schema v{version}; this one "
                                            f"knows up to v{LATEST})")
        if version == 0 and objects:
            raise dbfile.refusal(self.path, "is another program's database (it has tables but no trunklab "
                                            "schema version)")
        return version

    async def _mark_interrupted_calls(self) -> None:
        """Calls left in progress by a process that is gone were cut short when it died: say so.
        A call whose process still runs (another console or CLI on this file) is left alone."""
        for call_id, pid, owner, final_code in await self._rows(
            "SELECT call_id, owner_pid, owner, final_code FROM calls WHERE state = 'in_progress'"
        ):
            if owners.still_running(pid, owner):
                continue
            who = f"trunklab (process {pid})" if pid else "trunklab"
            await self._db.execute(
                "UPDATE calls SET state = 'interrupted', final_code = NULL, final_reason = ? WHERE call_id = ?",
                (stopped_reason(who, final_code == 200, "its end was never recorded"), call_id))

    async def _seed_default_account(self, plan: AddressPlan) -> None:
        """The System Gateway (created for every account) plus a working trunk to "Acme PBX"."""
        await self._seed_carrier_side(plan)
        pbx_sid = await self._insert_endpoint(PBX_ENDPOINT_NAME, THIRD_PARTY, voip_token=self._new_token())
        await self._insert_address(pbx_sid, plan.pbx_ip, plan.sip_port, "udp", "any", 0)
        group_sid = await self._insert_trunk_group(TRUNK_GROUP_NAME)
        await self._insert_trunk(group_sid, pbx_sid, f"{PBX_ENDPOINT_NAME} trunk", 0, 0)
        for number, label, assigned in DEFAULT_DIDS:
            await self._insert_did(number, label, group_sid if assigned else None)
        for ip in plan.gateway_ips:
            await self._insert_firewall_rule(f"{ip}/32", "any", "CarrierX System Gateway")
        await self._seed_pbx_trunk(plan.sip_port)

    async def _seed_blank_account(self, plan: AddressPlan) -> None:
        """What a new CarrierX customer has: the System Gateway and phone numbers nobody has
        assigned yet. No endpoint of theirs, no trunk group, an empty PBX firewall, and a PBX
        whose trunk settings nobody has typed in."""
        await self._seed_carrier_side(plan)
        for number, _, _ in DEFAULT_DIDS:
            await self._insert_did(number, "", None)
        party = await self._rows("SELECT port FROM lab_parties WHERE role = 'pbx'")
        await self._db.execute(
            "INSERT INTO pbx_trunk (id, endpoint_sid, voip_token, source_port) VALUES (1, '', '', ?)",
            (party[0][0] if party else plan.sip_port,))

    async def _seed_carrier_side(self, plan: AddressPlan) -> None:
        """The System Gateway endpoint and the lab's address plan: in every account."""
        gateway_sid = await self._insert_endpoint("System Gateway", SYSTEM_GATEWAY, voip_token=None)
        for priority, ip in enumerate(plan.gateway_ips):
            await self._insert_address(gateway_sid, ip, plan.sip_port, "udp", "any", priority)
        for role, ip in (("pstn", plan.pstn_ip), ("pbx", plan.pbx_ip), ("pbx_roaming", plan.pbx_roaming_ip)):
            await self._db.execute(
                "INSERT INTO lab_parties (role, ip, port) VALUES (?, ?, ?)", (role, ip, plan.sip_port)
            )
        await self._db.execute("UPDATE lab_options SET builtin_pbx = 1")

    async def _seed_pbx_trunk(self, sip_port: int) -> None:
        """A PBX configured right: the PBX endpoint's SID and token, sending from its SIP port."""
        row = await self._rows(
            "SELECT e.endpoint_sid, e.voip_token FROM endpoints e JOIN lab_parties p ON p.role = 'pbx' "
            "JOIN endpoint_addresses a ON a.endpoint_sid = e.endpoint_sid AND a.ip = p.ip "
            "WHERE e.type = 'third_party' ORDER BY e.created_seq LIMIT 1"
        ) or await self._rows(
            "SELECT endpoint_sid, voip_token FROM endpoints WHERE type = 'third_party' ORDER BY created_seq LIMIT 1"
        )
        sid, token = row[0] if row else ("none", "none")
        party = await self._rows("SELECT port FROM lab_parties WHERE role = 'pbx'")
        await self._db.execute(
            "INSERT INTO pbx_trunk (id, endpoint_sid, voip_token, source_port) VALUES (1, ?, ?, ?)",
            (sid, token or "none", party[0][0] if party else sip_port),  # where the PBX listens
        )

    # ---------------------------------------------------------------- reading

    async def account(self) -> Account:
        """A consistent snapshot of the whole account (read in one transaction)."""
        async with self._lock:
            await self._db.execute("BEGIN")
            try:
                return await self._read_account()
            finally:
                await self._db.execute("COMMIT")

    async def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        async with self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _read_account(self) -> Account:
        addresses: dict[str, list[EndpointAddress]] = {}
        for row in await self._rows(
            "SELECT address_id, endpoint_sid, ip, port, transport, direction, priority "
            "FROM endpoint_addresses ORDER BY priority, address_id"
        ):
            addresses.setdefault(row[1], []).append(EndpointAddress(*row))
        endpoints = tuple(
            Endpoint(
                endpoint_sid=sid,
                name=name,
                type=type_,
                voip_token=token,
                capacity=capacity,
                attributes=EndpointAttributes.from_json(attributes),
                out_sip_username=out_user,
                out_sip_password=out_password,
                addresses=tuple(addresses.get(sid, ())),
            )
            for sid, name, type_, token, capacity, attributes, out_user, out_password in await self._rows(
                "SELECT endpoint_sid, name, type, voip_token, capacity, attributes, out_sip_username, "
                "out_sip_password FROM endpoints ORDER BY type = 'system_gateway' DESC, created_seq"
            )
        )
        trunks: dict[str, list[Trunk]] = {}
        for row in await self._rows(
            "SELECT trunk_sid, trunk_group_sid, endpoint_sid, name, priority, weight "
            "FROM trunks ORDER BY priority, created_seq"
        ):
            trunks.setdefault(row[1], []).append(Trunk(*row))
        trunk_groups = tuple(
            TrunkGroup(sid, name, routing, tuple(trunks.get(sid, ())))
            for sid, name, routing in await self._rows(
                "SELECT trunk_group_sid, name, routing_type FROM trunk_groups ORDER BY created_seq"
            )
        )
        dids = tuple(
            Did(sid, number, name, group, tuple(json.loads(caps)))
            for sid, number, name, group, caps in await self._rows(
                "SELECT did_sid, phonenumber, name, trunk_group_sid, capabilities FROM dids ORDER BY phonenumber"
            )
        )
        rules = tuple(
            FirewallRule(*row)
            for row in await self._rows(
                "SELECT rule_id, position, cidr, protocol, note FROM firewall_rules ORDER BY position, rule_id"
            )
        )
        parties = tuple(
            LabParty(*row) for row in await self._rows("SELECT role, ip, port FROM lab_parties ORDER BY role")
        )
        pbx_trunk = next((
            PbxTrunk(sid, token, bool(header), port, tuple(json.loads(codecs)))
            for sid, token, header, port, codecs in await self._rows(
                "SELECT endpoint_sid, voip_token, send_voip_token_header, source_port, codecs FROM pbx_trunk")
        ), None)
        builtin = await self._rows("SELECT builtin_pbx FROM lab_options")
        return Account(endpoints, trunk_groups, dids, rules, parties, pbx_trunk,
                       builtin_pbx=bool(builtin[0][0]) if builtin else True)

    async def _endpoint_row(self, endpoint_sid: str) -> tuple[str, str]:
        rows = await self._rows("SELECT endpoint_sid, type FROM endpoints WHERE endpoint_sid = ?", (endpoint_sid,))
        if not rows:
            raise NotFoundError(f"No endpoint with SID {endpoint_sid}", field="endpoint_sid")
        return rows[0][0], rows[0][1]

    async def _editable_endpoint(self, endpoint_sid: str) -> None:
        _, type_ = await self._endpoint_row(endpoint_sid)
        if type_ == SYSTEM_GATEWAY:
            raise ReadOnlyError(READ_ONLY_GATEWAY)

    async def _require_trunk_group(self, trunk_group_sid: str) -> str:
        name = await self._scalar("SELECT name FROM trunk_groups WHERE trunk_group_sid = ?", (trunk_group_sid,))
        if name is None:
            raise NotFoundError(f"No trunk group with SID {trunk_group_sid}", field="trunk_group_sid")
        return str(name)

    # ---------------------------------------------------------------- low-level inserts

    async def _insert_endpoint(
        self,
        name: str,
        type_: str,
        *,
        voip_token: str | None,
        capacity: int = 0,
        attributes: EndpointAttributes = EndpointAttributes(),
    ) -> str:
        sid = self._new_sid()
        await self._db.execute(
            "INSERT INTO endpoints (endpoint_sid, name, type, voip_token, capacity, attributes, created_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM endpoints))",
            (sid, name, type_, voip_token, capacity, attributes.to_json()),
        )
        return sid

    async def _insert_address(
        self, endpoint_sid: str, ip: str, port: int, transport: str, direction: str, priority: int
    ) -> int:
        taken = await self._scalar(
            "SELECT COUNT(*) FROM endpoint_addresses WHERE endpoint_sid = ? AND ip = ? AND port = ? AND transport = ?",
            (endpoint_sid, ip, port, transport),
        )
        if taken:
            raise ConflictError(f"{ip}:{port}/{transport} is already an address of this endpoint", field="ip")
        cur = await self._db.execute(
            "INSERT INTO endpoint_addresses (endpoint_sid, ip, port, transport, direction, priority) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (endpoint_sid, ip, port, transport, direction, priority),
        )
        return int(cur.lastrowid)

    async def _insert_trunk_group(self, name: str) -> str:
        sid = self._new_sid()
        await self._db.execute(
            "INSERT INTO trunk_groups (trunk_group_sid, name, routing_type, created_seq) "
            "VALUES (?, ?, 'failover', (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM trunk_groups))",
            (sid, name),
        )
        return sid

    async def _insert_trunk(self, group_sid: str, endpoint_sid: str, name: str, priority: int, weight: int) -> str:
        sid = self._new_sid()
        await self._db.execute(
            "INSERT INTO trunks (trunk_sid, trunk_group_sid, endpoint_sid, name, priority, weight, created_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM trunks))",
            (sid, group_sid, endpoint_sid, name, priority, weight),
        )
        return sid

    async def _insert_did(self, phonenumber: str, name: str, group_sid: str | None) -> str:
        if await self._scalar("SELECT COUNT(*) FROM dids WHERE phonenumber = ?", (phonenumber,)):
            raise ConflictError(
                f"{validate.display_phonenumber(phonenumber)} is already in the account", field="phonenumber"
            )
        sid = self._new_sid()
        await self._db.execute(
            "INSERT INTO dids (did_sid, phonenumber, name, trunk_group_sid) VALUES (?, ?, ?, ?)",
            (sid, phonenumber, name, group_sid),
        )
        return sid

    async def _insert_firewall_rule(self, cidr: str, protocol: str, note: str) -> int:
        cur = await self._db.execute(
            "INSERT INTO firewall_rules (position, cidr, protocol, note) "
            "VALUES ((SELECT COALESCE(MAX(position), 0) + 1 FROM firewall_rules), ?, ?, ?)",
            (cidr, protocol, note),
        )
        return int(cur.lastrowid)

    # ---------------------------------------------------------------- endpoints

    async def create_endpoint(
        self,
        name: str,
        *,
        capacity: int | str = 0,
        attributes: EndpointAttributes | None = None,
        provision_trunk_group: bool = False,
    ) -> Endpoint:
        """Add New Endpoint: a third-party endpoint with a fresh SID and VoIP token (no
        addresses yet). provision_trunk_group, as the portal's checkbox: also a trunk group
        named after it, with one trunk to it, in the same transaction."""
        name = validate.name(name)
        capacity = validate.non_negative_int(capacity, "capacity")
        attributes = _valid_attributes(attributes or EndpointAttributes())
        group_name = validate.name(f"{name} trunk group", "name") if provision_trunk_group else ""
        async with self._transaction():
            sid = await self._insert_endpoint(
                name, THIRD_PARTY, voip_token=self._new_token(), capacity=capacity, attributes=attributes
            )
            if provision_trunk_group:
                group_sid = await self._insert_trunk_group(group_name)
                await self._insert_trunk(group_sid, sid, f"{name} trunk", 0, 0)
        return await self._get_endpoint(sid)

    async def update_endpoint(
        self,
        endpoint_sid: str,
        *,
        name: str | None = None,
        capacity: int | None = None,
        attributes: EndpointAttributes | None = None,
    ) -> Endpoint:
        updates: dict[str, object] = {}
        if name is not None:
            updates["name"] = validate.name(name)
        if capacity is not None:
            updates["capacity"] = validate.non_negative_int(capacity, "capacity")
        if attributes is not None:
            updates["attributes"] = _valid_attributes(attributes).to_json()
        async with self._transaction():
            await self._editable_endpoint(endpoint_sid)
            for column, value in updates.items():  # column names come from the code above, never input
                await self._db.execute(f"UPDATE endpoints SET {column} = ? WHERE endpoint_sid = ?", (value, endpoint_sid))
        return await self._get_endpoint(endpoint_sid)

    async def regenerate_voip_token(self, endpoint_sid: str) -> str:
        """Issue a new VoIP token; the old one stops working at once (a classic 401 lesson)."""
        token = self._new_token()
        async with self._transaction():
            await self._editable_endpoint(endpoint_sid)
            await self._db.execute("UPDATE endpoints SET voip_token = ? WHERE endpoint_sid = ?", (token, endpoint_sid))
        return token

    async def delete_endpoint(self, endpoint_sid: str) -> None:
        async with self._transaction():
            await self._editable_endpoint(endpoint_sid)
            groups = [
                row[0]
                for row in await self._rows(
                    "SELECT DISTINCT g.name FROM trunks t JOIN trunk_groups g USING (trunk_group_sid) "
                    "WHERE t.endpoint_sid = ? ORDER BY g.name",
                    (endpoint_sid,),
                )
            ]
            if groups:
                raise ConflictError(
                    f"This endpoint is still a trunk of {', '.join(groups)}: remove those trunks first"
                )
            await self._db.execute("DELETE FROM endpoints WHERE endpoint_sid = ?", (endpoint_sid,))

    async def add_endpoint_address(
        self,
        endpoint_sid: str,
        ip: str,
        *,
        port: int | str = 5060,
        transport: str = "udp",
        direction: str = "any",
        priority: int | str = 0,
    ) -> EndpointAddress:
        values = (
            validate.ip_or_cidr(ip),
            validate.port(port),
            validate.transport(transport),
            validate.direction(direction),
            validate.non_negative_int(priority, "priority"),
        )
        async with self._transaction():
            await self._editable_endpoint(endpoint_sid)
            address_id = await self._insert_address(endpoint_sid, *values)
        return EndpointAddress(address_id, endpoint_sid, *values)

    async def update_endpoint_address(
        self,
        address_id: int,
        *,
        ip: str | None = None,
        port: int | str | None = None,
        transport: str | None = None,
        direction: str | None = None,
        priority: int | str | None = None,
    ) -> EndpointAddress:
        """Edit one address of a third-party endpoint (any field left None stays as it is)."""
        updates: dict[str, object] = {}
        if ip is not None:
            updates["ip"] = validate.ip_or_cidr(ip)
        if port is not None:
            updates["port"] = validate.port(port)
        if transport is not None:
            updates["transport"] = validate.transport(transport)
        if direction is not None:
            updates["direction"] = validate.direction(direction)
        if priority is not None:
            updates["priority"] = validate.non_negative_int(priority, "priority")
        async with self._transaction():
            rows = await self._rows(
                "SELECT endpoint_sid, ip, port, transport FROM endpoint_addresses WHERE address_id = ?", (address_id,))
            if not rows:
                raise NotFoundError(f"No endpoint address with id {address_id}")
            endpoint_sid = rows[0][0]
            await self._editable_endpoint(endpoint_sid)
            ip_, port_, transport_ = (updates.get(k, rows[0][i + 1]) for i, k in enumerate(("ip", "port", "transport")))
            if await self._scalar(
                "SELECT COUNT(*) FROM endpoint_addresses WHERE endpoint_sid = ? AND ip = ? AND port = ? "
                "AND transport = ? AND address_id != ?", (endpoint_sid, ip_, port_, transport_, address_id)):
                raise ConflictError(f"{ip_}:{port_}/{transport_} is already an address of this endpoint", field="ip")
            for column, value in updates.items():  # column names come from the code above, never input
                await self._db.execute(
                    f"UPDATE endpoint_addresses SET {column} = ? WHERE address_id = ?", (value, address_id))
        return next(a for a in (await self._get_endpoint(endpoint_sid)).addresses if a.address_id == address_id)

    async def remove_endpoint_address(self, address_id: int) -> None:
        async with self._transaction():
            rows = await self._rows("SELECT endpoint_sid FROM endpoint_addresses WHERE address_id = ?", (address_id,))
            if not rows:
                raise NotFoundError(f"No endpoint address with id {address_id}")
            await self._editable_endpoint(rows[0][0])
            await self._db.execute("DELETE FROM endpoint_addresses WHERE address_id = ?", (address_id,))

    async def _get_endpoint(self, endpoint_sid: str) -> Endpoint:
        endpoint = (await self.account()).endpoint(endpoint_sid)
        if endpoint is None:
            raise NotFoundError(f"No endpoint with SID {endpoint_sid}", field="endpoint_sid")
        return endpoint

    # ---------------------------------------------------------------- trunk groups and trunks

    async def create_trunk_group(self, name: str) -> TrunkGroup:
        name = validate.name(name)
        async with self._transaction():
            sid = await self._insert_trunk_group(name)
        return TrunkGroup(sid, name)

    async def rename_trunk_group(self, trunk_group_sid: str, name: str) -> TrunkGroup:
        name = validate.name(name)
        async with self._transaction():
            await self._require_trunk_group(trunk_group_sid)
            await self._db.execute("UPDATE trunk_groups SET name = ? WHERE trunk_group_sid = ?", (name, trunk_group_sid))
        return (await self.account()).trunk_group(trunk_group_sid)

    async def delete_trunk_group(self, trunk_group_sid: str) -> None:
        async with self._transaction():
            name = await self._require_trunk_group(trunk_group_sid)
            numbers = [
                validate.display_phonenumber(row[0])
                for row in await self._rows(
                    "SELECT phonenumber FROM dids WHERE trunk_group_sid = ? ORDER BY phonenumber", (trunk_group_sid,)
                )
            ]
            if numbers:
                raise ConflictError(
                    f"Trunk group {name!r} still has phone numbers {', '.join(numbers)}: "
                    "assign them elsewhere (or unassign them) first"
                )
            await self._db.execute("DELETE FROM trunk_groups WHERE trunk_group_sid = ?", (trunk_group_sid,))

    async def add_trunk(
        self,
        trunk_group_sid: str,
        endpoint_sid: str,
        *,
        name: str | None = None,
        priority: int | str = 0,
        weight: int | str = 0,
    ) -> Trunk:
        priority = validate.non_negative_int(priority, "priority")
        weight = validate.non_negative_int(weight, "weight")
        async with self._transaction():
            await self._require_trunk_group(trunk_group_sid)
            _, type_ = await self._endpoint_row(endpoint_sid)
            if type_ == SYSTEM_GATEWAY:
                raise ValidationError(
                    "A trunk points at your third-party endpoint, not at the System Gateway (that is the carrier itself)",
                    field="endpoint_sid",
                )
            endpoint_name = await self._scalar("SELECT name FROM endpoints WHERE endpoint_sid = ?", (endpoint_sid,))
            trunk_name = validate.name(name if name is not None else f"{endpoint_name} trunk")
            sid = await self._insert_trunk(trunk_group_sid, endpoint_sid, trunk_name, priority, weight)
        return Trunk(sid, trunk_group_sid, endpoint_sid, trunk_name, priority, weight)

    async def update_trunk(
        self, trunk_sid: str, *, name: str | None = None, priority: int | str | None = None,
        weight: int | str | None = None,
    ) -> Trunk:
        """Rename a trunk or change its priority (the lower, the sooner the gateway tries it)."""
        updates: dict[str, object] = {}
        if name is not None:
            updates["name"] = validate.name(name)
        if priority is not None:
            updates["priority"] = validate.non_negative_int(priority, "priority")
        if weight is not None:
            updates["weight"] = validate.non_negative_int(weight, "weight")
        async with self._transaction():
            if not await self._scalar("SELECT COUNT(*) FROM trunks WHERE trunk_sid = ?", (trunk_sid,)):
                raise NotFoundError(f"No trunk with SID {trunk_sid}")
            for column, value in updates.items():  # column names come from the code above, never input
                await self._db.execute(f"UPDATE trunks SET {column} = ? WHERE trunk_sid = ?", (value, trunk_sid))
        return next(t for g in (await self.account()).trunk_groups for t in g.trunks if t.trunk_sid == trunk_sid)

    async def remove_trunk(self, trunk_sid: str) -> None:
        async with self._transaction():
            cur = await self._db.execute("DELETE FROM trunks WHERE trunk_sid = ?", (trunk_sid,))
            if cur.rowcount == 0:
                raise NotFoundError(f"No trunk with SID {trunk_sid}")

    # ---------------------------------------------------------------- phone numbers

    async def create_did(self, phonenumber: str, *, name: str = "", trunk_group_sid: str | None = None) -> Did:
        number = validate.phonenumber(phonenumber)
        label = validate.label(name)
        async with self._transaction():
            if trunk_group_sid is not None:
                await self._require_trunk_group(trunk_group_sid)
            sid = await self._insert_did(number, label, trunk_group_sid)
        return Did(sid, number, label, trunk_group_sid)

    async def assign_did(self, did_sid: str, trunk_group_sid: str | None) -> Did:
        """Assign a phone number to a trunk group, or unassign it with None."""
        async with self._transaction():
            if trunk_group_sid is not None:
                await self._require_trunk_group(trunk_group_sid)
            cur = await self._db.execute(
                "UPDATE dids SET trunk_group_sid = ? WHERE did_sid = ?", (trunk_group_sid, did_sid)
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"No phone number with SID {did_sid}", field="did_sid")
        return next(d for d in (await self.account()).dids if d.did_sid == did_sid)

    async def rename_did(self, did_sid: str, name: str) -> Did:
        """A phone number's name (a label for people; may be empty)."""
        label = validate.label(name)
        async with self._transaction():
            cur = await self._db.execute("UPDATE dids SET name = ? WHERE did_sid = ?", (label, did_sid))
            if cur.rowcount == 0:
                raise NotFoundError(f"No phone number with SID {did_sid}", field="did_sid")
        return next(d for d in (await self.account()).dids if d.did_sid == did_sid)

    async def update_did(self, did_sid: str, *, name: str, trunk_group_sid: str | None) -> Did:
        """A phone number's name and its trunk group (None: unassigned) in one transaction:
        the console's Edit saves both or neither."""
        label = validate.label(name)
        async with self._transaction():
            if trunk_group_sid is not None:
                await self._require_trunk_group(trunk_group_sid)
            cur = await self._db.execute("UPDATE dids SET name = ?, trunk_group_sid = ? WHERE did_sid = ?",
                                         (label, trunk_group_sid, did_sid))
            if cur.rowcount == 0:
                raise NotFoundError(f"No phone number with SID {did_sid}", field="did_sid")
        return next(d for d in (await self.account()).dids if d.did_sid == did_sid)

    async def delete_did(self, did_sid: str) -> None:
        async with self._transaction():
            cur = await self._db.execute("DELETE FROM dids WHERE did_sid = ?", (did_sid,))
            if cur.rowcount == 0:
                raise NotFoundError(f"No phone number with SID {did_sid}", field="did_sid")

    # ---------------------------------------------------------------- the PBX firewall

    async def add_firewall_rule(self, cidr: str, *, protocol: str = "any", note: str = "") -> FirewallRule:
        """Append an allow rule (the firewall denies whatever no rule allows)."""
        value = validate.cidr(cidr)
        protocol = validate.firewall_protocol(protocol)
        note = validate.label(note, "note")
        async with self._transaction():
            await self._refuse_duplicate_rule(value, protocol)
            rule_id = await self._insert_firewall_rule(value, protocol, note)
            position = int(await self._scalar("SELECT position FROM firewall_rules WHERE rule_id = ?", (rule_id,)))
        return FirewallRule(rule_id, position, value, protocol, note)

    async def update_firewall_rule(
        self, rule_id: int, *, cidr: str | None = None, protocol: str | None = None, note: str | None = None,
    ) -> FirewallRule:
        """Edit a rule in place (it keeps its position): its source, its protocol, its note."""
        updates: dict[str, object] = {}
        if cidr is not None:
            updates["cidr"] = validate.cidr(cidr)
        if protocol is not None:
            updates["protocol"] = validate.firewall_protocol(protocol)
        if note is not None:
            updates["note"] = validate.label(note, "note")
        async with self._transaction():
            rows = await self._rows("SELECT cidr, protocol FROM firewall_rules WHERE rule_id = ?", (rule_id,))
            if not rows:
                raise NotFoundError(f"No firewall rule with id {rule_id}")
            await self._refuse_duplicate_rule(updates.get("cidr", rows[0][0]), updates.get("protocol", rows[0][1]),
                                              except_rule=rule_id)
            for column, value in updates.items():  # column names come from the code above, never input
                await self._db.execute(f"UPDATE firewall_rules SET {column} = ? WHERE rule_id = ?", (value, rule_id))
        return next(r for r in (await self.account()).firewall_rules if r.rule_id == rule_id)

    async def _refuse_duplicate_rule(self, cidr: str, protocol: str, except_rule: int | None = None) -> None:
        """A rule that would let through nothing new: the same source, and a protocol an existing
        rule for it already covers."""
        for rule_id, position, other in await self._rows(
                "SELECT rule_id, position, protocol FROM firewall_rules WHERE cidr = ? ORDER BY position", (cidr,)):
            if rule_id != except_rule and other in ("any", protocol):
                raise ConflictError(f"rule {position} already allows {other} from {cidr}: this rule would add nothing",
                                    field="cidr")

    async def remove_firewall_rule(self, rule_id: int) -> None:
        async with self._transaction():
            cur = await self._db.execute("DELETE FROM firewall_rules WHERE rule_id = ?", (rule_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"No firewall rule with id {rule_id}")

    # ---------------------------------------------------------------- starting again

    async def reset(self, *, blank: bool = False) -> None:
        """Back to the built-in default account, in the same address plan (CDRs are kept);
        blank=True: the account a new CarrierX customer has (the System Gateway and numbers
        nobody assigned yet). The only way the System Gateway is ever replaced: it is created
        afresh, as for a new account."""
        account = await self.account()
        plan = AddressPlan(
            gateway_ips=tuple(a.ip for a in account.system_gateway.addresses),
            pbx_ip=account.party("pbx").ip,
            pbx_roaming_ip=account.party("pbx_roaming").ip,
            pstn_ip=account.party("pstn").ip,
            sip_port=account.system_gateway.addresses[0].port,
        )
        async with self._transaction() as db:
            for table in ("dids", "trunks", "trunk_groups", "endpoint_addresses", "endpoints",
                          "firewall_rules", "lab_parties", "pbx_trunk",
                          "lesson_progress"):  # a new account: its lesson starts over
                await db.execute(f"DELETE FROM {table}")  # table names from the line above, never input
            await (self._seed_blank_account if blank else self._seed_default_account)(plan)

    async def apply(self, document: object, *, dry_run: bool = False) -> list[str]:
        """Make the account equal to `document` (the shape of `show --json --reveal`, see
        store/apply.py) in one transaction; returns the changes, one sentence each. Anything
        invalid raises a StoreError and nothing changes; dry_run carries the changes out and
        rolls them back, so what it reports is exactly what would happen."""
        try:
            async with self._transaction(notify=None if dry_run else "account"):
                current = await self._read_account()
                desired = read_document(document, current, new_sid=self._new_sid, new_token=self._new_token)
                changes = plan(current, desired)
                for change in changes:
                    for sql, params in change.statements:
                        await self._db.execute(sql, params)
                if dry_run:
                    raise _DryRun([change.text for change in changes])
        except _DryRun as done:
            return done.changes
        except sqlite3.IntegrityError as error:  # read_document checks first; this is the last guard
            raise ConflictError(f"the file does not fit the account: {error}") from None
        return [change.text for change in changes]

    async def set_builtin_pbx(self, on: bool) -> None:
        """Run the lab's own PBX agent (on), or leave the third-party endpoint to a PBX of yours
        (off): the lab then starts no PBX agent, and its firewall rules are not used."""
        async with self._transaction():
            await self._db.execute("UPDATE lab_options SET builtin_pbx = ?", (int(bool(on)),))

    # ---------------------------------------------------------------- the lab's address plan

    async def set_party(self, role: str, ip: str, port: int | str = 5060) -> LabParty:
        role = validate.one_of(role, ("pstn", "pbx", "pbx_roaming"), "role")
        party = LabParty(role, validate.loopback_address(ip), validate.port(port))
        async with self._transaction():
            await self._db.execute(
                "INSERT INTO lab_parties (role, ip, port) VALUES (?, ?, ?) "
                "ON CONFLICT (role) DO UPDATE SET ip = excluded.ip, port = excluded.port",
                (party.role, party.ip, party.port),
            )
        return party


    # ---------------------------------------------------------------- the PBX's own trunk settings

    async def update_pbx_trunk(
        self,
        *,
        endpoint_sid: str | None = None,
        voip_token: str | None = None,
        send_voip_token_header: bool | None = None,
        source_port: int | str | None = None,
        codecs: tuple[str, ...] | list[str] | None = None,
    ) -> PbxTrunk:
        """Change what the PBX is configured with (the customer's side, not the carrier's)."""
        updates: dict[str, object] = {}
        if endpoint_sid is not None:
            updates["endpoint_sid"] = validate.credential(endpoint_sid, "endpoint_sid")
        if voip_token is not None:
            updates["voip_token"] = validate.credential(voip_token, "voip_token")
        if send_voip_token_header is not None:
            updates["send_voip_token_header"] = int(bool(send_voip_token_header))
        if source_port is not None:
            updates["source_port"] = validate.port(source_port, "source_port")
        if codecs is not None:
            updates["codecs"] = json.dumps(list(validate.codecs(codecs)))
        async with self._transaction():
            if not await self._scalar("SELECT COUNT(*) FROM pbx_trunk"):
                raise NotFoundError("This database has no PBX settings (reset restores them)")
            for column, value in updates.items():  # column names come from the code above, never input
                await self._db.execute(f"UPDATE pbx_trunk SET {column} = ? WHERE id = 1", (value,))
        return (await self.account()).pbx_trunk

    # ---------------------------------------------------------------- exercises (workshop mode)
    # (progress, not configuration: its own topic)

    async def exercise_progress(self) -> dict[str, ExerciseProgress]:
        async with self._lock:
            rows = await self._rows(
                "SELECT scenario, started_at, hints_shown, checks, solved_at, checklist, failing_ladder, "
                "fixed_ladder, hints, start_account FROM exercise_progress ORDER BY started_at")
        return {
            row[0]: ExerciseProgress(row[0], row[1], row[2], row[3], row[4],
                                     tuple(CheckRow(*item) for item in json.loads(row[5])), row[6], row[7],
                                     tuple(json.loads(row[8])), row[9])
            for row in rows
        }

    async def start_exercise(self, scenario: str, now: float) -> ExerciseProgress:
        """(Re)start an exercise: a fresh attempt, so the hints and the ladders start over. The
        account as it is now (the scenario's broken trunk) is kept, for the report's diff."""
        async with self._transaction(notify="progress") as db:
            start = json.dumps(account_to_wire(await self._read_account()))
            await db.execute(
                "INSERT INTO exercise_progress (scenario, started_at, start_account) VALUES (?, ?, ?) "
                "ON CONFLICT (scenario) DO UPDATE SET started_at = excluded.started_at, hints_shown = 0, "
                "checks = 0, solved_at = NULL, checklist = '[]', failing_ladder = '', fixed_ladder = '', "
                "hints = '[]', start_account = excluded.start_account", (scenario, now, start))
        return (await self.exercise_progress())[scenario]

    async def record_check(
        self, scenario: str, *, passed: bool, checklist: list[CheckRow], ladder: str, now: float,
    ) -> ExerciseProgress:
        """One "Check my fix": a pass solves the exercise. The first failing ladder and the
        passing one are kept for the report. (Hints are asked for: give_hint.)"""
        async with self._transaction(notify="progress") as db:
            current = await self._rows("SELECT solved_at, failing_ladder FROM exercise_progress WHERE scenario = ?",
                                       (scenario,))
            if not current:
                raise NotFoundError(f"The exercise {scenario!r} has not been started")
            solved_at, failing_ladder = current[0]
            await db.execute(
                "UPDATE exercise_progress SET checks = checks + 1, checklist = ?, solved_at = ?, failing_ladder = ?, "
                "fixed_ladder = CASE WHEN ? THEN ? ELSE fixed_ladder END WHERE scenario = ?",
                (json.dumps([list(row) for row in checklist]), solved_at or (now if passed else None),
                 failing_ladder or ("" if passed else ladder), passed, ladder, scenario))
        return (await self.exercise_progress())[scenario]

    async def give_hint(self, scenario: str, hint: str) -> ExerciseProgress:
        """A hint the trainee asked for (sip.exercise.hint_for chose it), counted and kept."""
        hint = hint.strip()
        if not hint:
            raise ValidationError("hint: an empty hint teaches nothing", field="hint")
        async with self._transaction(notify="progress") as db:
            rows = await self._rows("SELECT hints FROM exercise_progress WHERE scenario = ?", (scenario,))
            if not rows:
                raise NotFoundError(f"The exercise {scenario!r} has not been started")
            await db.execute("UPDATE exercise_progress SET hints = ?, hints_shown = hints_shown + 1 WHERE scenario = ?",
                             (json.dumps([*json.loads(rows[0][0]), hint]), scenario))
        return (await self.exercise_progress())[scenario]
    # ---------------------------------------------------------------- checklist runs
    # (history, like CDRs: no listeners; the classroom's dashboard reads them)

    async def record_checklist_run(self, run: ChecklistRun) -> int:
        async with self._transaction(notify=None) as db:
            cur = await db.execute(
                "INSERT INTO checklist_runs (started_at, finished_at, scenario, passed, items) VALUES (?, ?, ?, ?, ?)",
                (run.started_at, run.finished_at, run.scenario, int(run.passed),
                 json.dumps([list(item) for item in run.items])))
        return int(cur.lastrowid)

    async def checklist_runs(self, limit: int = 100) -> list[ChecklistRun]:
        """The most recent runs first."""
        async with self._lock:
            rows = await self._rows(
                "SELECT run_id, started_at, finished_at, scenario, passed, items FROM checklist_runs "
                "ORDER BY run_id DESC LIMIT ?", (limit,))
        return [checklist_run_from_row(row) for row in rows]

    # ---------------------------------------------------------------- the guided lesson
    # (when each step was first seen done; the lab records it, nobody listens: the lab knows)

    async def lesson_progress(self) -> dict[str, float]:
        """Step key -> when it was first seen done, in the lesson's order."""
        async with self._lock:
            rows = await self._rows("SELECT step, done_at FROM lesson_progress")
        done = dict(rows)
        return {step: done[step] for step in LESSON_STEPS if step in done}

    async def record_lesson_steps(self, steps: Iterable[str], now: float) -> dict[str, float]:
        """Record the steps seen done now; a step already recorded keeps its first time.
        Returns the whole progress. An unknown step is refused and nothing is recorded."""
        steps = [validate.one_of(step, LESSON_STEPS, "step") for step in steps]
        async with self._transaction(notify=None) as db:
            await db.executemany("INSERT OR IGNORE INTO lesson_progress (step, done_at) VALUES (?, ?)",
                                 [(step, float(now)) for step in steps])
        return await self.lesson_progress()

    # ---------------------------------------------------------------- call detail records
    # (appended by the lab; no listeners: a CDR is history, not configuration)

    async def record_call(self, record: CallRecord, call_id: int | None = None) -> int:
        """Write a CDR with its ladder (call_id None), or rewrite CDR call_id with what is known
        now: the lab writes a call when it starts, again when it is answered, and when it ends.
        A new row is stamped with this process as its owner."""
        fields = (record.started_at, record.direction, record.from_number, record.to_number,
                  record.gateway_address, record.endpoint_sid, record.auth_method, record.final_code,
                  record.final_reason, record.setup_ms, record.duration_s, json.dumps(record.rtp),
                  json.dumps(record.audio_verdict), record.state)
        columns = ("started_at, direction, from_number, to_number, gateway_address, endpoint_sid, auth_method, "
                   "final_code, final_reason, setup_ms, duration_s, rtp, audio_verdict, state")
        async with self._transaction(notify=None) as db:
            if call_id is None:
                cur = await db.execute(
                    f"INSERT INTO calls ({columns}, owner_pid, owner) VALUES ({', '.join('?' * 16)})",
                    (*fields, self.owner_pid, self._owner))
                call_id = int(cur.lastrowid)
            else:
                assignments = ", ".join(f"{name.strip()} = ?" for name in columns.split(","))
                await db.execute(f"UPDATE calls SET {assignments} WHERE call_id = ?", (*fields, call_id))
                await db.execute("DELETE FROM sip_messages WHERE call_id = ?", (call_id,))
            await db.executemany(
                "INSERT INTO sip_messages (call_id, at, agent, event, src, dst, sip_call_id, first_line, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(call_id, m.t, m.agent, m.event, m.src, m.dst, m.sip_call_id, m.first_line, m.text)
                 for m in record.messages],
            )
        return call_id

    async def calls(self, limit: int = 100) -> list[CallRecord]:
        """The most recent CDRs first, with their ladders."""
        async with self._lock:
            rows = await self._rows(
                "SELECT call_id, started_at, direction, from_number, to_number, gateway_address, endpoint_sid, "
                "auth_method, final_code, final_reason, setup_ms, duration_s, rtp, audio_verdict, state, owner_pid "
                "FROM calls ORDER BY call_id DESC LIMIT ?", (limit,),
            )
            records = []
            for row in rows:
                messages = tuple(
                    SipMessageRecord(*m) for m in await self._rows(
                        "SELECT at, agent, event, src, dst, sip_call_id, first_line, text FROM sip_messages "
                        "WHERE call_id = ? ORDER BY at, message_id", (row[0],),
                    )
                )
                records.append(CallRecord(
                    started_at=row[1], direction=row[2], from_number=row[3], to_number=row[4],
                    gateway_address=row[5], endpoint_sid=row[6], auth_method=row[7], final_code=row[8],
                    final_reason=row[9], setup_ms=row[10], duration_s=row[11], rtp=json.loads(row[12]),
                    audio_verdict=json.loads(row[13]), messages=messages, call_id=row[0], state=row[14],
                    owner_pid=row[15],
                ))
        return records


def _valid_attributes(attributes: EndpointAttributes) -> EndpointAttributes:
    restrictions = validate.ip_restrictions(attributes.ip_restrictions)
    return EndpointAttributes(bool(attributes.insecure_address), restrictions)
