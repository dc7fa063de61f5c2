"""A ring snapshot from a poll that ended after the call, so gates never use stale health."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from etcdtui.engine.replace.model import StepFailed
from etcdtui.engine.snapshot import RingSnapshot

FRESH_POLL_TIMEOUT = 30.0


async def fresh_snapshot(engine: Any, timeout: float = FRESH_POLL_TIMEOUT,  # noqa: ASYNC109
                         max_age: float = 0.0) -> RingSnapshot:
    """A snapshot from an etcdctl poll that ended after this call (so gates never use stale health).

    `max_age` > 0 accepts the latest snapshot when its poll ended at most that many seconds ago (the
    read-only steps 1 and 2 right after step 0; never the re-check before a destructive step).
    """
    asked = time.time()
    current: RingSnapshot | None = engine.latest
    if max_age > 0 and current is not None and current.last_poll_at is not None and current.rows \
            and asked - current.last_poll_at.timestamp() <= max_age:
        return current
    engine.refresh_now()
    latest: RingSnapshot | None = engine.latest
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            async for item in engine.subscribe():
                snap: RingSnapshot = item
                latest = snap
                if _began_after(snap, asked) and snap.complete:
                    return snap
                if snap.last_poll_at is not None and snap.last_poll_at.timestamp() >= asked + 2:
                    return snap  # polled after we asked, but incomplete: the gates will say what is missing
    if latest is None:
        raise StepFailed(f"no answer from the cluster within {timeout:g} s")
    return latest


def _began_after(snap: RingSnapshot, moment: float) -> bool:
    """The snapshot's poll began after `moment`. A poll already running when a gate asks may have read the member
    list before a change (a member announced a moment ago): only a poll begun afterwards can answer the gate."""
    if snap.last_poll_at is None:
        return False
    return snap.last_poll_at.timestamp() - (snap.poll_duration or 0.0) >= moment
