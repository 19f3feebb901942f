"""Where the database lives: --db, else $TRUNKLAB_DB, else the user's data directory (XDG)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("trunklab", appauthor=False)) / "trunklab.db"


def resolve_db_path(cli_value: str | None = None) -> Path:
    if cli_value:
        return Path(cli_value).expanduser()
    if env := os.environ.get("TRUNKLAB_DB"):
        return Path(env).expanduser()
    return default_db_path()
