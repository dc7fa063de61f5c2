"""The engine through real faults on labs of their own: a killed member, an API outage, a corrupted member."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.engine.ring_engine import RingEngine
from etcdtui.engine.snapshot import LinkState, RingSnapshot, Verdict

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "etcdtui", "lab", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    result = subprocess.CompletedProcess(list(args), proc.returncode or 0, out.decode(), err.decode())
    assert result.returncode == 0, result.stderr
    return result


async def until(engine: RingEngine, ok: Callable[[RingSnapshot], bool], within: float, what: str) -> RingSnapshot:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        snap = engine.latest
        if snap is not None and ok(snap):
            return snap
        await asyncio.sleep(0.1)
    last = engine.latest
    summary = (last.verdict, last.connection, [(r.key, r.healthy, r.pod and r.pod.restarts) for r in last.rows]) if last else None
    raise AssertionError(f"not within {within:g}s: {what}; last: {summary}")


async def test_killed_member_restart_is_seen_and_verdict_recovers(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    lab = fresh_lab()
    conn = await ClusterConnection.open(str(lab.kubeconfig))
    try:
        async with RingEngine(conn, poll_interval=1.0) as engine:
            before = await engine.wait_complete(30)
            assert before.complete and before.verdict is Verdict.WARNING
            await lab_cli("kill", "--dir", str(lab.root), "lab-cp-3")
            # The watch delivers the restart (restartCount 1 on the pod), the poller the member's return.
            await until(
                engine,
                lambda s: (r := s.row("etcd-lab-cp-3")) is not None and r.pod is not None and r.pod.restarts >= 1,
                30, "restart of etcd-lab-cp-3 seen",
            )
            recovered = await until(
                engine,
                lambda s: s.verdict is Verdict.WARNING and s.complete and s.last_poll_at is not None
                and all(r.healthy and r.hash_agrees for r in s.rows)
                and all(r.pod is not None and r.pod.ready for r in s.rows),
                45, "ring healthy again after the restart",
            )
            assert recovered.fault_tolerance == 1
            assert recovered.row("etcd-lab-cp-3").pod.restarts >= 1  # type: ignore[union-attr]
            assert any(f.kind == "pod.restarted" and f.member == "lab-cp-3" for f in recovered.findings)
            assert not any(f.kind.startswith("corruption.") for f in recovered.findings)
    finally:
        await conn.close()


async def test_api_outage_marks_stale_then_live_by_itself(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    lab = fresh_lab()
    conn = await ClusterConnection.open(str(lab.kubeconfig))
    try:
        async with RingEngine(conn, poll_interval=2.0, backoff_max=2.0) as engine:
            await engine.wait_complete(30)
            started = time.monotonic()
            await lab_cli("api-outage", "--dir", str(lab.root), "6")
            stale = await until(engine, lambda s: s.connection.state is LinkState.STALE, 10, "stale")
            assert stale.connection.since is not None and "stale since" in stale.connection.text
            assert stale.rows, "the last known rows stay visible while stale"
            assert any(f.kind == "ring.stale" for f in stale.findings)
            live = await until(
                engine, lambda s: s.connection.state is LinkState.LIVE and s.exec.status.value == "ok"
                and s.last_poll_at is not None and s.last_poll_at.timestamp() > time.time() - 2,
                25, "live again with fresh etcdctl data",
            )
            assert time.monotonic() - started >= 5  # it really was down for the outage
            assert live.verdict is Verdict.WARNING and not any(f.kind == "ring.stale" for f in live.findings)
    finally:
        await conn.close()


def test_corruption_with_checks_on_is_critical_and_names_the_member(fresh_lab) -> None:  # type: ignore[no-untyped-def]
    lab = fresh_lab(corrupt_checks="on")
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig)}

    def check() -> tuple[int, dict]:  # type: ignore[type-arg]
        done = subprocess.run([sys.executable, "-m", "etcdtui", "check", "--json", "--timeout", "20"],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        assert "Traceback" not in done.stderr
        return done.returncode, json.loads(done.stdout)

    rc, before = check()
    # All hashes equal: not critical (3.5.1 cannot run the compaction check, which the audit may warn about).
    assert rc in (0, 1) and before["verdict"] in ("HEALTHY", "WARNING"), before
    assert all(m["hash_agrees"] is True and m["checks"]["initial"] is True for m in before["members"])
    subprocess.run([sys.executable, "-m", "etcdtui", "lab", "corrupt", "--dir", str(lab.root), "lab-cp-2"],
                   check=True, capture_output=True, timeout=60)
    started = time.monotonic()
    while True:
        rc, report = check()
        if rc == 2 or time.monotonic() - started > 60:
            break
        time.sleep(1)
    assert rc == 2, report
    assert report["verdict"] == "CORRUPTION" and report["status"] == "CRITICAL"
    by_pod = {m["pod"]: m for m in report["members"]}
    assert by_pod["etcd-lab-cp-2"]["hash_agrees"] is False
    assert by_pod["etcd-lab-cp-1"]["hash_agrees"] is True and by_pod["etcd-lab-cp-3"]["hash_agrees"] is True
    assert any(f["kind"] == "corruption.hash_mismatch" and f["member"] == "lab-cp-2"
               for f in by_pod["etcd-lab-cp-2"]["findings"])
