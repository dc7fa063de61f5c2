"""The fixed-data app factory shared by the UI tests (a module, not conftest, so it can be imported)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import fixed_ring as fixtures

from etcdtui.engine.snapshot import RingSnapshot
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.config import UiConfig
from etcdtui.ui.services import ChecksBackend, LogSource, ManifestChecksBackend, ProcedureFactory

SIZE = (160, 45)


def fixed_app(*snapshots: RingSnapshot, readonly: bool = False, config: UiConfig | None = None,
              checks: ChecksBackend | ManifestChecksBackend | None = None, logs: LogSource | None = None,
              procedures: ProcedureFactory | None = None) -> EtcdTuiApp:
    """The real app (the one factory) on fixed snapshots and, where a test gives them, fake engines."""
    return make_app(fixtures.fixed_services(*snapshots, readonly=readonly, config=config or UiConfig(),
                                            checks=checks, logs=logs, procedures=procedures))


def source_of(app: EtcdTuiApp) -> fixtures.FixedSource:
    """The fixed source a `fixed_app` runs on (to push the next snapshot the way the engine would)."""
    ring = app.services.ring
    assert isinstance(ring, fixtures.FixedSource)
    return ring


async def until(pilot: Any, what: str, condition: Callable[[], object], wait_s: float = 40) -> None:
    """Let the app run until `condition()` holds; fail naming `what` after `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def type_text(pilot: Any, text: str) -> None:
    """Type into the focused input key by key (Pilot names '-' "minus")."""
    for ch in text:
        await pilot.press("minus" if ch == "-" else ch)
