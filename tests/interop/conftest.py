"""SIPp (Debian package sip-tester) as an independent SIP peer: required in CI, skipped (with
the install hint) on a machine without it."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_collection_modifyitems(config, items):
    if shutil.which("sipp"):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("SIPp is missing: CI must install the Debian package sip-tester")
    skip = pytest.mark.skip(reason="SIPp not installed (sudo apt-get install sip-tester)")
    for item in items:
        if "interop" in str(item.fspath):
            item.add_marker(skip)
