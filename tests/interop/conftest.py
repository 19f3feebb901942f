"""Outside peers for the interop tests: SIPp (Debian package sip-tester), baresip (package
baresip-core), Kamailio (package kamailio) and linphonec (package linphone-cli). Each is required in CI; on a machine without it, the tests that need it (by
their marker) are skipped with the install hint."""

from __future__ import annotations

import os
import shutil

import pytest

# marker -> (executable, Debian package)
TOOLS = {"sipp": ("sipp", "sip-tester"), "baresip": ("baresip", "baresip-core"), "kamailio": ("kamailio", "kamailio"),
         "linphone": ("linphonec", "linphone-cli")}


def pytest_collection_modifyitems(config, items):
    for marker, (executable, package) in TOOLS.items():
        needing = [item for item in items if item.get_closest_marker(marker) is not None]
        if not needing or shutil.which(executable):
            continue
        if os.environ.get("CI"):
            raise pytest.UsageError(f"{executable} is missing: CI must install the Debian package {package}")
        skip = pytest.mark.skip(reason=f"{executable} not installed (sudo apt-get install {package})")
        for item in needing:
            item.add_marker(skip)
