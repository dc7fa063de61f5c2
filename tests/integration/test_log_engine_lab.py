"""The log engine on a real lab: real etcd members, the lab's Kubernetes-compatible API (pod logs with
follow/timestamps/sinceTime/previous), real container restarts and API outages.

One lab, one scenario (labs cost seconds): history of all members; `lab kill` → restart marker and the
new container's lines; `lab api-outage 10` → reconnecting then live, no duplicated line, no gap marker
for members whose log was readable back to the last line seen — and a gap marker for the member that
restarted twice during the outage (the API keeps only the last terminated container, so lines may be
lost); `lab corrupt` → corruption findings in the store and in the ring engine; a new engine reads the
previous containers' history and classifies it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.core.logstore import MARKER
from etcdtui.engine.log_engine import LogEngine
from etcdtui.engine.ring_engine import RingEngine

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CP1, CP2, CP3 = "etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"


async def lab(root: Any, *args: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "etcdtui", "lab", *args, "--dir", str(root)],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def until(check: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {within:.0f} s: {what}")


def markers(engine: LogEngine, member: str, kind: str) -> list[str]:
    return [line.text for line in engine.store.iter_view()
            if line.level == MARKER and line.member == member and f"── {kind}:" in line.text]


def duplicated_lines(engine: LogEngine) -> list[tuple[str, float, str]]:
    seen = Counter((line.member, line.ts, line.text) for line in engine.store.iter_view() if line.level != MARKER)
    return [key for key, n in seen.items() if n > 1]


async def test_log_engine_on_the_lab(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    running = fresh_lab(corrupt_checks="on")
    conn = await ClusterConnection.open(kubeconfig=str(running.kubeconfig))
    try:
        await _scenario(running, conn)
        await _previous_history(conn)
    finally:
        await conn.close()


async def _scenario(running: Any, conn: ClusterConnection) -> None:
    ring = RingEngine(conn, poll_interval=3.0)
    engine = LogEngine(conn, ring=ring)
    try:
        await ring.start()
        await engine.start()
        assert await engine.wait_history(20), engine.history_progress()
        progress = engine.history_progress()
        assert set(progress) == {CP1, CP2, CP3}
        assert all(done and nbytes > 0 and lines > 0 for nbytes, lines, done in progress.values())
        assert all(engine.store.counts[m].lines > 0 for m in (CP1, CP2, CP3))

        # lab kill → restart marker, then the new container's own startup lines
        await lab(running.root, "kill", "lab-cp-1")
        await until(lambda: markers(engine, CP1, "restart"), 30, "restart marker for cp-1")
        restart_seq = next(line.seq for line in engine.store.iter_view() if line.level == MARKER and line.member == CP1)
        await until(lambda: any(line.member == CP1 and "starting an etcd server" in line.text
                                for line in engine.store.iter_view() if line.seq > restart_seq),
                    30, "the new cp-1 container's startup after the marker")

        # API outage of 10 s; cp-3 restarts twice meanwhile (its first restarted container becomes unreadable)
        await asyncio.sleep(2)
        await lab(running.root, "api-outage", "10")
        await lab(running.root, "kill", "lab-cp-3")
        await until(lambda: any(s.status.state.value == "reconnecting" for s in engine.streams.values()),
                    8, "a stream reconnecting during the outage")
        await asyncio.sleep(3.5)  # restarted after the 1 s backoff
        await lab(running.root, "kill", "lab-cp-3")
        await until(lambda: all(s.status.state.value == "live" for s in engine.streams.values()),
                    40, "all streams live again after the outage")
        await until(lambda: markers(engine, CP3, "gap"), 20, "a gap marker for cp-3 (two restarts in the outage)")
        await asyncio.sleep(2)
        assert duplicated_lines(engine) == []
        assert markers(engine, CP1, "gap") == [] and markers(engine, CP2, "gap") == []
        assert engine.streams[CP1].status.reconnects + engine.streams[CP2].status.reconnects > 0

        # corruption → findings in the store, the pinned pane and the ring engine
        await lab(running.root, "corrupt", "lab-cp-2")
        await until(lambda: sum(c.corruption for c in engine.store.counts.values()), 30, "corruption lines")
        assert any(p.finding.is_corruption for p in engine.store.pinned)
        engine.push_findings()
        pushed = [p.finding for p in engine.store.pinned if p.finding.is_corruption]

        def ring_has_log_findings() -> bool:
            snap = ring.latest
            return snap is not None and any(f in pushed for row in snap.rows for f in row.findings)

        await until(ring_has_log_findings, 15, "log findings in the ring snapshot")
    finally:
        await engine.stop()
        await ring.stop()



async def _previous_history(conn: ClusterConnection) -> None:
    """A new engine: history of the previous containers (cp-1 was killed) is read and classified."""
    fresh = LogEngine(conn)
    try:
        await fresh.start()
        assert await fresh.wait_history(20)
        lines = list(fresh.store.iter_view())
        ended = [line for line in lines if line.member == CP1 and line.level == MARKER
                 and "previous container ended" in line.text]
        assert ended, [line.text for line in lines if line.level == MARKER]
        before = [line for line in lines if line.member == CP1 and line.seq < ended[0].seq and line.level != MARKER]
        after = [line for line in lines if line.member == CP1 and line.seq > ended[0].seq and line.level != MARKER]
        assert before and after
        assert any(line.finding is not None and line.finding.kind == "check.enabled" for line in before)
    finally:
        await fresh.stop()
