"""The engine's published state: immutable snapshots of the ring (the contract with the UI and `check`).

Everything here is frozen; a new snapshot replaces the old one as a whole. Consumers key table rows on
`MemberRow.key` (the pod name, or `member:<hex id>` for a member without a pod) so they can update in place.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from etcdtui.cluster.objects import NodeInfo, PodInfo
from etcdtui.core.findings import Finding
from etcdtui.core.ring.assessment import MemberAssessment, RingAssessment
from etcdtui.core.ring.verdict import (
    Verdict as Verdict,  # the one verdict, re-exported for the engine's consumers
)


class LinkState(enum.StrEnum):
    CONNECTING = "connecting"  # before the first successful list
    LIVE = "live"  # watches running
    STALE = "stale"  # lost the API server; data is from `since`
    ERROR = "error"  # a lasting failure (401/403/no such namespace): `reason` says what


@dataclass(frozen=True)
class ConnectionState:
    state: LinkState
    since: datetime | None = None  # when this state began (for STALE: the last moment data was live)
    reason: str | None = None  # one line, for STALE/ERROR

    @property
    def text(self) -> str:
        if self.state is LinkState.STALE and self.since:
            return f"stale since {self.since.astimezone().strftime('%H:%M:%S')}" + (
                f" ({self.reason})" if self.reason else ""
            )
        return self.state.value + (f": {self.reason}" if self.reason else "")


class ExecStatus(enum.StrEnum):
    PENDING = "pending"  # not tried yet
    OK = "ok"
    UNAVAILABLE = "unavailable"  # exec impossible (RBAC, no etcdctl, certs): pod-level data only


@dataclass(frozen=True)
class ExecState:
    status: ExecStatus
    reason: str | None = None  # why UNAVAILABLE, or the last partial failure when OK
    pod: str | None = None  # the pod etcdctl ran in
    last_ok_at: datetime | None = None
    last_attempt_at: datetime | None = None
    failure: str | None = None  # the ExecFailure value of the last failed attempt (metrics count by it)


@dataclass(frozen=True, kw_only=True)
class MemberRow(MemberAssessment):
    """One line of the ring table: the core's member model plus the Kubernetes objects it was joined from
    (the pod's containers and the node's addresses, for the detail panel). Member attributes live in
    `MemberAssessment`; only what needs the Kubernetes objects lives here."""

    pod: PodInfo | None = None
    node: NodeInfo | None = None

    @classmethod
    def of(cls, member: MemberAssessment, pod: PodInfo | None, node: NodeInfo | None) -> MemberRow:
        return cls(**{f.name: getattr(member, f.name) for f in fields(MemberAssessment)}, pod=pod, node=node)


@dataclass(frozen=True)
class MemberHistory:
    """Samples since the engine started, oldest first, bounded (see `RingEngine(history_len=)`)."""

    times: tuple[float, ...] = ()  # epoch seconds of each sample
    revision_rate: tuple[float, ...] = ()  # revisions per second between polls
    db_size: tuple[int, ...] = ()
    raft_index_lag: tuple[int, ...] = ()


@dataclass(frozen=True)
class RingSnapshot:
    seq: int  # increases with every published snapshot
    taken_at: datetime
    context: str
    server: str
    namespace: str
    selector: str
    connection: ConnectionState
    exec: ExecState
    verdict: Verdict
    findings: tuple[Finding, ...]  # ring-level and member findings, most severe first
    rows: tuple[MemberRow, ...]  # sorted by key
    nodes: tuple[NodeInfo, ...]  # all nodes seen (control-plane and others)
    members_total: int  # members in `member list` (0 when unknown)
    quorum: int  # members needed for quorum (0 when unknown)
    fault_tolerance: int | None  # members that can still fail (None when unknown)
    common_revision: int | None  # revision the hashes were compared at
    last_poll_at: datetime | None
    complete: bool  # pods + members + hashes present (what `check` waits for)
    incomplete_reason: str | None
    history: Mapping[str, MemberHistory] = field(default_factory=dict)  # by MemberRow.key
    leader_changes: tuple[tuple[float, int], ...] = ()  # (epoch seconds, cumulative leader changes)
    assessment: RingAssessment | None = None  # all of the core's evaluation, for consumers that want it
    alarms: tuple[tuple[str, str], ...] = ()  # (member hex id or "0" = not said, alarm name) from `alarm list`
    dropped_updates: int = 0  # snapshots a slow subscriber did not see (latest-wins queues)
    poll_duration: float | None = None  # seconds the last successful etcdctl poll took
    polls: int = 0  # successful etcdctl polls since the engine started

    def row(self, key: str) -> MemberRow | None:
        return next((r for r in self.rows if r.key == key), None)

    @property
    def leader(self) -> MemberRow | None:
        return next((r for r in self.rows if r.is_leader), None)
