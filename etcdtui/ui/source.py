"""What the UI needs from the engine: the latest snapshot and a stream of new ones.

The real `RingEngine` satisfies this protocol, and so does the tests' `FixedSource` (fixed data for
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


@runtime_checkable
class RefreshableSource(SnapshotSource, Protocol):
    def refresh_now(self) -> None: ...


def refresh(source: SnapshotSource) -> bool:
    """Ask the source to poll now, if it can (the engine can, fixed data cannot)."""
    if isinstance(source, RefreshableSource):
        source.refresh_now()
        return True
    return False
