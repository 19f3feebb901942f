"""The classroom's browser test drives Debian's `chromium`: required in CI, skipped (with the
install hint) on a machine without it. The HTTP tests need no browser."""

from __future__ import annotations

import os
import shutil

import pytest

BROWSER_TESTS = f"{os.sep}tests{os.sep}web{os.sep}test_classroom.py"


def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if str(item.fspath).endswith(BROWSER_TESTS)]
    if not mine or shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("Chromium is missing: CI must install the Debian package chromium")
    skip = pytest.mark.skip(reason="Chromium not installed (sudo apt-get install chromium)")
    for item in mine:
        item.add_marker(skip)
