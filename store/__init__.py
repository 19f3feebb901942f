"""The account store: CarrierX-shaped records in one SQLite file (see store.py).

Importing this package loads only plain data and validation (records, errors, defaults): the
functional core (sip.calls, sip.routing, sip.checklist, ...) imports store.records and must not
pay for, or depend on, SQLite. The I/O parts are loaded on first use of their names
(`from store import Store` still works; it loads aiosqlite then, not before).
"""

from __future__ import annotations

import importlib

from .defaults import DEFAULT_PLAN, AddressPlan
from .errors import ConflictError, NotFoundError, ReadOnlyError, StoreError, ValidationError
from .records import (
    Account,
    Did,
    Endpoint,
    EndpointAddress,
    EndpointAttributes,
    FirewallRule,
    LabParty,
    Trunk,
    TrunkGroup,
)

_LOADED_ON_USE = {  # name -> the module that defines it (I/O: SQLite, the user data directory)
    "Store": "store.store",
    "default_db_path": "store.paths",
    "resolve_db_path": "store.paths",
}


def __getattr__(name: str) -> object:
    if name in _LOADED_ON_USE:
        return getattr(importlib.import_module(_LOADED_ON_USE[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")


__all__ = [
    "DEFAULT_PLAN", "AddressPlan", "ConflictError", "NotFoundError", "ReadOnlyError", "StoreError",
    "ValidationError", "default_db_path", "resolve_db_path", "Account", "Did", "Endpoint",
    "EndpointAddress", "EndpointAttributes", "FirewallRule", "LabParty", "Trunk", "TrunkGroup", "Store",
]
