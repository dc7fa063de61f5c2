"""What the UI needs from the engine: the latest snapshot and a stream of new ones.

The real `RingEngine` satisfies this protocol, and so does `etcdtui.ui.fixtures.FixedSource` (fixed data for
snapshot tests and screenshots). The UI never reaches past it into adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from etcdtui.engine.snapshot import RingSnapshot


@runtime_checkable
class SnapshotSource(Protocol):
    @property
    def latest(self) -> RingSnapshot | None: ...

    def subscribe(self) -> AsyncIterator[RingSnapshot]: ...


def refresh(source: SnapshotSource) -> bool:
    """Ask the source to poll now, if it can (the engine can, fixed data cannot)."""
    refresh_now = getattr(source, "refresh_now", None)
    if callable(refresh_now):
        refresh_now()
        return True
    return False
