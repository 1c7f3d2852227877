"""The plugin must be installed (`pip install -e examples/plugin-example`, which `make test`
does): without it these tests are left out, and in CI that is an error."""

from __future__ import annotations

import os
from importlib import metadata

import pytest

try:
    metadata.version("benchdaq-keysight-dmm")
except metadata.PackageNotFoundError:
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(
            "the example plugin is not installed: pip install -e examples/plugin-example"
        ) from None
    collect_ignore_glob = ["test_*.py"]
