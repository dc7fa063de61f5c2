"""Fixed ring snapshots for snapshot tests and benchmarks: deterministic, no cluster needed.

The data mirrors what the lab shows (3 members `etcd-lab-cp-N`, etcd 3.5.1) at a fixed moment `NOW`, so
ages and sparklines render the same on every machine. `FixedSource` plays the engine's role.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from etcdtui.cluster.objects import ContainerInfo, NodeInfo, PodInfo
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import CorruptionChecks
from etcdtui.engine.snapshot import (
    ConnectionState,
    ExecState,
    ExecStatus,
    LinkState,
    MemberHistory,
    MemberRow,
    RingSnapshot,
    Verdict,
)
from etcdtui.ui.services import Services

NOW = datetime(2026, 11, 24, 3, 0, 0, tzinfo=UTC)
CONTEXT = "lab"
SERVER = "https://127.0.0.1:6443"
MEMBER_IDS = ("8e9e05c52164694d", "91bc3c398fb3c146", "fd422379fda50e48")
NODES = ("lab-cp-1", "lab-cp-2", "lab-cp-3")
FLAGS_OFF = (
    "etcd",
    "--advertise-client-urls=https://127.0.0.1:2379",
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--key-file=/etc/kubernetes/pki/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379",
    "--peer-client-cert-auth=true",
    "--snapshot-count=10000",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
)
FLAGS_ON = (
    *FLAGS_OFF,
    "--experimental-initial-corrupt-check=true",
    "--experimental-corrupt-check-time=4h0m0s",
    "--experimental-compact-hash-check-enabled=true",
)


def clock() -> datetime:
    return NOW


def _node(index: int) -> NodeInfo:
    name = NODES[index]
    return NodeInfo(
        name=name,
        uid=f"node-uid-{index}",
        addresses=(("InternalIP", f"10.0.0.{11 + index}"), ("Hostname", name)),
        kubelet_version="v1.32.4",
        ready=True,
        unschedulable=False,
        control_plane=True,
        created_at=NOW - timedelta(days=41),
    )


def _pod(index: int, command: tuple[str, ...], restarts: int = 0, running: bool = True) -> PodInfo:
    node = NODES[index]
    started = NOW - (timedelta(minutes=7) if restarts else timedelta(days=12, hours=3))
    container = ContainerInfo(
        name="etcd",
        ready=running,
        restarts=restarts,
        state="running" if running else "waiting",
        reason=None if running else "CrashLoopBackOff",
        started_at=started if running else None,
        last_exit_code=2 if restarts else None,
        last_reason="Error" if restarts else None,
        last_finished_at=started - timedelta(seconds=2) if restarts else None,
        image="registry.k8s.io/etcd:3.5.1-0",
    )
    return PodInfo(
        name=f"etcd-{node}",
        namespace="kube-system",
        uid=f"pod-uid-{index}",
        node=node,
        phase="Running",
        ready=running,
        pod_ip=f"10.0.0.{11 + index}",
        host_ip=f"10.0.0.{11 + index}",
        created_at=NOW - timedelta(days=12, hours=3),
        deleting=False,
        labels={"component": "etcd", "tier": "control-plane"},
        containers=(container,),
        command=command,
        image="registry.k8s.io/etcd:3.5.1-0",
    )


def _history(index: int, samples: int = 40) -> MemberHistory:
    # A gentle, deterministic wave: enough shape for a sparkline to mean something.
    times = tuple(NOW.timestamp() - 15 * (samples - i) for i in range(samples))
    rate = tuple(20.0 + 6 * ((i * 7 + index * 3) % 11) for i in range(samples))
    db = tuple(24_000_000 + 40_000 * i + 5_000 * index for i in range(samples))
    lag = tuple((i * 5 + index) % 4 if index else 0 for i in range(samples))
    return MemberHistory(times=times, revision_rate=rate, db_size=db, raft_index_lag=lag)


_VERSION_RISK = Finding(
    kind="version.data_inconsistency_risk",
    severity=Severity.WARNING,
    message="etcd 3.5.1 can lose committed writes on a member killed under load (etcd issue 13766); upgrade to ≥3.5.3",
    fields={"version": "3.5.1", "fixed_in": "3.5.3", "issue": "etcd-io/etcd#13766"},
)


def _checks_off_finding(pod: str) -> Finding:
    return Finding(
        kind="checks.off",
        severity=Severity.WARNING,
        message="corruption checks are off: a diverged member would go unnoticed",
        member=pod,
        fields={"initial": "off", "periodic": "off", "compaction": "off"},
    )


def _row(index: int, *, checks_on: bool, leader: int = 0, **changes: object) -> MemberRow:
    pod = _pod(index, FLAGS_ON if checks_on else FLAGS_OFF)
    checks = (
        CorruptionChecks(initial=True, periodic="4h0m0s", compaction=True)
        if checks_on
        else CorruptionChecks(initial=False, periodic=None, compaction=False)
    )
    findings = () if checks_on else (_checks_off_finding(pod.name),)
    row = MemberRow(
        key=pod.name,
        name=NODES[index],
        pod_name=pod.name,
        node_name=NODES[index],
        pod=pod,
        node=_node(index),
        member_id=MEMBER_IDS[index],
        member_name=NODES[index],
        peer_urls=(f"https://10.0.0.{11 + index}:2380",),
        client_urls=(f"https://10.0.0.{11 + index}:2379",),
        version="3.5.1",
        db_size=25_600_000 + 4096 * index,
        db_size_in_use=18_300_000,
        is_leader=index == leader,
        raft_index=48_211 - (index if index != leader else 0),
        raft_applied_index=48_211 - (index if index != leader else 0),
        raft_term=4,
        revision=41_877,
        healthy=True,
        hash=3_811_742_117,
        hash_revision=41_870,
        compact_revision=40_002,
        hash_agrees=True,
        revision_lag=0,
        raft_index_lag=0 if index == leader else index,
        checks=checks,
        version_risk=Severity.CRITICAL,
        findings=(*findings, replace(_VERSION_RISK, member=pod.name)),
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def _snapshot(
    rows: Sequence[MemberRow],
    verdict: Verdict,
    findings: Sequence[Finding],
    connection: ConnectionState | None = None,
    seq: int = 1,
) -> RingSnapshot:
    ordered = tuple(sorted(findings, key=lambda f: -f.severity))
    return RingSnapshot(
        seq=seq,
        taken_at=NOW,
        context=CONTEXT,
        server=SERVER,
        namespace="kube-system",
        selector="component=etcd",
        connection=connection or ConnectionState(LinkState.LIVE, since=NOW - timedelta(minutes=10)),
        exec=ExecState(ExecStatus.OK, pod=rows[0].key if rows else None, last_ok_at=NOW, last_attempt_at=NOW),
        verdict=verdict,
        findings=ordered,
        rows=tuple(sorted(rows, key=lambda r: r.key)),
        nodes=tuple(r.node for r in rows if r.node),
        members_total=len(rows),
        quorum=len(rows) // 2 + 1,
        fault_tolerance=(len(rows) - 1) // 2,
        common_revision=41_870,
        last_poll_at=NOW,
        complete=True,
        incomplete_reason=None,
        history={r.key: _history(i) for i, r in enumerate(rows)},
        leader_changes=tuple((NOW.timestamp() - 15 * (40 - i), 1 if i < 25 else 2) for i in range(40)),
    )


def healthy_ring(*, checks_on: bool = False) -> RingSnapshot:
    """The lab right after `lab up`: 3 members Running, one leader, equal hashes, checks off."""
    rows = [_row(i, checks_on=checks_on) for i in range(3)]
    findings = [f for r in rows for f in r.findings]
    return _snapshot(rows, Verdict.WARNING, findings)


def corrupted_ring() -> RingSnapshot:
    """After `lab corrupt lab-cp-2` with checks on: its hash differs, the CORRUPT alarm is raised."""
    mismatch = Finding(
        kind="corruption.hash_mismatch",
        severity=Severity.CRITICAL,
        message="etcd-lab-cp-2 hashes revision 41870 differently from its 2 peers (same compact revision)",
        member="etcd-lab-cp-2",
        fields={"revision": 41_870, "compact_revision": 40_002, "hash": 2_094_125_773, "peers_hash": 3_811_742_117},
    )
    alarm = Finding(
        kind="corruption.alarm_corrupt",
        severity=Severity.CRITICAL,
        message="CORRUPT alarm active: the ring refuses writes until the corrupted member is replaced",
        member="etcd-lab-cp-2",
        fields={"alarm": "CORRUPT", "member_id": MEMBER_IDS[1]},
    )
    rows = [
        _row(0, checks_on=True, alarms=("CORRUPT",)),
        _row(
            1,
            checks_on=True,
            alarms=("CORRUPT",),
            hash=2_094_125_773,
            hash_agrees=False,
            revision=41_911,
            revision_lag=0,
            pod=_pod(1, FLAGS_ON, restarts=1),
            findings=(mismatch, alarm, replace(_VERSION_RISK, member="etcd-lab-cp-2")),
        ),
        _row(2, checks_on=True, alarms=("CORRUPT",)),
    ]
    findings = [f for r in rows for f in r.findings]
    return _snapshot(rows, Verdict.CORRUPTION, findings, seq=7)


def stale_ring() -> RingSnapshot:
    """The API server went away 40 s ago: the last data stays on screen, marked stale."""
    base = healthy_ring()
    return replace(
        base,
        connection=ConnectionState(
            LinkState.STALE, since=NOW - timedelta(seconds=40), reason="API server unreachable: connection refused"
        ),
        seq=3,
    )


def error_ring(reason: str) -> RingSnapshot:
    """A lasting failure before any data arrived (RBAC, no etcd pods...)."""
    base = _snapshot([], Verdict.UNKNOWN, [])
    return replace(
        base,
        connection=ConnectionState(LinkState.ERROR, since=NOW, reason=reason),
        exec=ExecState(ExecStatus.PENDING),
        members_total=0,
        quorum=0,
        fault_tolerance=None,
        complete=False,
        incomplete_reason=reason,
        history={},
        leader_changes=(),
    )


class FixedSource:
    """A `SnapshotSource` over a fixed list: publishes each snapshot in turn, then stays quiet.

    `push()` lets Pilot tests publish one more snapshot the way the engine would.
    """

    def __init__(self, snapshots: Sequence[RingSnapshot]) -> None:
        self._snapshots = list(snapshots)
        self._latest: RingSnapshot | None = None
        self._queue: asyncio.Queue[RingSnapshot] = asyncio.Queue(maxsize=64)
        for snap in self._snapshots:
            self._queue.put_nowait(snap)
        self.refreshes = 0

    @property
    def latest(self) -> RingSnapshot | None:
        return self._latest

    def push(self, snapshot: RingSnapshot) -> None:
        self._queue.put_nowait(snapshot)

    def already_polled(self, snapshot: RingSnapshot) -> None:
        """`snapshot` is the latest before the app opens, as after the command's engine polled once."""
        self._latest = snapshot

    def refresh_now(self) -> None:
        self.refreshes += 1

    async def subscribe(self) -> AsyncIterator[RingSnapshot]:
        while True:
            snap = await self._queue.get()
            self._latest = snap
            yield snap


def fixed_services(*snapshots: RingSnapshot, **overrides: Any) -> Services:
    """The app's `Services` on fixed snapshots and a fixed clock; `overrides` adds fakes (checks, logs, ...)."""
    fields: dict[str, Any] = {"context_label": CONTEXT, "clock": clock, **overrides}
    return Services(ring=FixedSource(list(snapshots)), **fields)
