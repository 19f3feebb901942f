"""The layering holds: import-linter's contracts (pyproject.toml), and the pure core loads
nothing impure when a fresh interpreter imports it.

The contracts read the static import graph; a package's __init__ that imports more than it
should, or an import deferred into a function, is only seen by running Python: hence the
fresh-interpreter tests beside them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports
from importlinter.contracts.forbidden import ForbiddenContract

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PURE = next(c for c in CONFIG["contracts"] if c["name"] == "The pure core imports nothing impure")["source_modules"]
IMPURE = ("aiosqlite", "sqlite3", "pjsua2", "textual", "platformdirs")


def loaded_after(statement: str, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` a fresh interpreter has loaded after running `statement`."""
    probe = f"{statement}\nimport sys\nprint(' '.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_import_contracts_hold():
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def with_submodules(names: list[str]) -> list[str]:
    """A package of the list stands for all its modules."""
    import importlib
    import pkgutil

    found = []
    for name in names:
        found.append(name)
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):
            found += [info.name for info in pkgutil.walk_packages(module.__path__, prefix=f"{name}.")]
    return found


def test_the_pure_core_loads_no_io_in_a_fresh_interpreter():
    modules = with_submodules(PURE)
    assert "sip.edge.decide" in modules
    assert loaded_after("\n".join(f"import {module}" for module in modules), IMPURE) == []


def test_the_console_and_the_command_line_never_load_pjsua2():
    assert loaded_after("import app, screens.lab_app, screens.registry, sip.lab", ("pjsua2",)) == []


def test_the_store_package_still_hands_out_the_store_on_first_use():
    assert loaded_after("import store", ("aiosqlite",)) == []
    assert loaded_after("from store import Store", ("aiosqlite",)) == ["aiosqlite"]


@pytest.mark.parametrize(("importer", "imported"), [
    ("sip.calls", "aiosqlite"),  # the pure core reaching SQLite
    ("sip.edge.decide", "sqlite3"),  # ... from inside a package of it
    ("sip.checklist", "sip.lab"),  # ... or the shell
    ("store.validate", "sip.routing"),  # the store knowing SIP
    ("sip.lab", "screens.base"),  # the engine knowing a screen
    ("screens.calls", "pjsua2"),  # the console loading pjsua2
])
def test_each_contract_has_teeth(importer, imported):
    """Add one import the layering forbids to the real graph: some contract breaks."""
    graph = grimp.build_graph(*CONFIG["root_packages"], include_external_packages=True)
    graph.add_import(importer=importer, imported=imported)
    session = {key: value for key, value in CONFIG.items() if key != "contracts"}
    broken = [c["name"] for c in CONFIG["contracts"]
              if not ForbiddenContract(c["name"], session, {k: v for k, v in c.items() if k not in ("name", "type")})
              .check(graph, verbose=False).kept]
    assert broken, f"no contract forbids {importer} -> {imported}"
