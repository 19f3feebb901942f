"""The account store: CarrierX-shaped records in one SQLite file (see store.py)."""

from .defaults import DEFAULT_PLAN, AddressPlan
from .errors import ConflictError, NotFoundError, ReadOnlyError, StoreError, ValidationError
from .paths import default_db_path, resolve_db_path
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
from .store import Store

__all__ = [
    "DEFAULT_PLAN", "AddressPlan", "ConflictError", "NotFoundError", "ReadOnlyError", "StoreError",
    "ValidationError", "default_db_path", "resolve_db_path", "Account", "Did", "Endpoint",
    "EndpointAddress", "EndpointAttributes", "FirewallRule", "LabParty", "Trunk", "TrunkGroup", "Store",
]
