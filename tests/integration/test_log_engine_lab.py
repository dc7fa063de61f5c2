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
from datetime import UTC, datetime
from typing import Any

import pytest

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.core.log_lines import MARKER
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
        await _cancelled_history(running, conn)
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

        # a member's pod deleted (the mirror pod comes back at once): removed, re-added, no history re-read
        await asyncio.to_thread(
            subprocess.run, ["kubectl", "--kubeconfig", str(running.kubeconfig), "-n", "kube-system", "delete", "pod",
                             CP2], capture_output=True, timeout=30, check=True)
        await until(lambda: [t for t in (line.text for line in engine.store.iter_view()
                                         if line.member == CP2 and line.level == MARKER) if "pod re-created" in t],
                    20, "cp-2's stream re-created")
        await until(lambda: CP2 in engine.streams and engine.streams[CP2].status.state.value == "live", 20,
                    "cp-2 live again")
        await asyncio.sleep(2)
        assert duplicated_lines(engine) == []
        assert markers(engine, CP1, "gap") == [] and markers(engine, CP2, "gap") == []
        assert engine.streams[CP1].status.reconnects + engine.streams[CP2].status.reconnects > 0

        # corruption → findings in the store, the pinned pane and the ring engine
        await lab(running.root, "corrupt", "lab-cp-2")
        await until(lambda: sum(c.corruption for c in engine.store.counts.values()), 30, "corruption lines")
        assert any(p.finding.is_corruption for p in engine.store.pinned)
        engine.push_findings()
        pushed = {(p.finding.kind, p.finding.message) for p in engine.store.pinned if p.finding.is_corruption}

        def ring_has_log_findings() -> bool:
            # The ring gets them with their time added (`log-ts`), to tell past evidence from current.
            snap = ring.latest
            return snap is not None and any((f.kind, f.message) in pushed and "log-ts" in f.fields
                                            for row in snap.rows for f in row.findings)

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


async def _cancelled_history(running: Any, conn: ClusterConnection) -> None:
    """A long history (cp-1's current log grown by 40 MB of real etcd lines) is cancelled mid-way: the
    stream goes live at once, says what it skipped, and the store holds only what was read."""
    logs = sorted(running.layout.container_logs_dir(CP1).iterdir(), key=lambda p: p.stat().st_mtime)
    line = b'{"level":"info","ts":"2026-11-24T09:26:18.750Z","caller":"x","msg":"apply request took too long"}'
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()
    block = (stamp + b" stderr F " + line + b"\n") * 20_000
    await asyncio.to_thread(_append, logs[-1], block, 17)  # ~45 MB
    engine = LogEngine(conn)
    try:
        await engine.start()
        await until(lambda: CP1 in engine.streams and engine.streams[CP1].status.history_bytes > 1_000_000, 20,
                    "cp-1's history scan under way")
        engine.cancel_history()
        assert engine.history_complete  # the store shows what was read, at once
        await until(lambda: engine.streams[CP1].status.state.value == "live", 20, "cp-1 live after the cancel")
        status = engine.streams[CP1].status
        assert status.history_cancelled and status.history_bytes < 17 * len(block)
        skipped = await until(lambda: markers(engine, CP1, "gap"), 5, "the history-skipped marker")
        assert "history skipped" in skipped[0]
    finally:
        await engine.stop()


def _append(path: Any, block: bytes, times: int) -> None:
    with open(path, "ab") as fh:
        for _ in range(times):
            fh.write(block)
