"""Typed refusals from the store.

Every error carries a message written for a trainee ("Port 70000 is out of range: use
1-65535"), and the store guarantees that a refused change wrote nothing.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: the change was refused and the database is unchanged."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # which input was wrong, so a form can point at it


class ValidationError(StoreError):
    """The input itself is malformed (a bad IP, a bad phone number, a bad port)."""


class NotFoundError(StoreError):
    """The record named by a SID does not exist."""


class ConflictError(StoreError):
    """The change clashes with other data (a duplicate number, a trunk group still in use)."""


class ReadOnlyError(StoreError):
    """The record is system-generated and cannot be edited (the System Gateway endpoint)."""


class DatabaseFileError(StoreError):
    """The file cannot be the account's database (a folder, not a database, damaged, read-only,
    of a newer trunklab); it was left exactly as it was."""
