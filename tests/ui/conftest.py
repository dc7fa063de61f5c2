"""Shared set-up for the UI tests: deterministic time zone and no user config."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _deterministic_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Clock strings use the local zone, and a developer's own config must not leak into snapshots."""
    saved = {k: os.environ.get(k) for k in ("TZ", "XDG_CONFIG_HOME", "TEXTUAL_THEME")}
    os.environ["TZ"] = "UTC"
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    os.environ.pop("TEXTUAL_THEME", None)
    time.tzset()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    time.tzset()

