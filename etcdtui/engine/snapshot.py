"""The engine's published state: immutable snapshots of the ring (the contract with the UI and `check`).

Everything here is frozen; a new snapshot replaces the old one as a whole. Consumers key table rows on
`MemberRow.key` (the pod name, or `member:<hex id>` for a member without a pod) so they can update in place.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from etcdtui.cluster.objects import NodeInfo, PodInfo
from etcdtui.core.defrag_rules import fragmentation, quota_use
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.flags import FlagsAudit
from etcdtui.core.ring.assessment import RingAssessment
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


@dataclass(frozen=True)
class CorruptionChecks:
    """Corruption checks of one member, read from its own command line (per the flags audit)."""

    initial: bool | None  # None: unknown (no command line)
    periodic: str | None  # the interval (e.g. "4h0m0s"/"240m"), None when off or unknown
    compaction: bool | None
    problems: tuple[str, ...] = ()  # misconfiguration notes from the audit
    audit: FlagsAudit | None = None  # the etcd flags audit, for the detail panel

    def as_dict(self) -> dict[str, object]:
        return {"initial": self.initial, "periodic": self.periodic, "compaction": self.compaction}


@dataclass(frozen=True)
class MemberRow:
    """One line of the ring table: a pod and/or an etcd member joined, with what etcdctl said about it."""

    key: str
    pod: PodInfo | None
    node: NodeInfo | None
    member_id: str | None  # canonical hex (etcdtui.core.ids)
    member_name: str | None
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False
    # endpoint status (None until etcdctl answered for this member)
    version: str | None = None
    db_size: int | None = None
    db_size_in_use: int | None = None
    quota_backend_bytes: int | None = None  # from the pod's --quota-backend-bytes (etcd's 2 GiB when unset)
    is_leader: bool | None = None
    raft_index: int | None = None
    raft_applied_index: int | None = None
    raft_term: int | None = None
    revision: int | None = None
    alarms: tuple[str, ...] = ()  # e.g. ("CORRUPT",)
    # endpoint health
    healthy: bool | None = None
    health_error: str | None = None
    # hashkv at the snapshot's common revision
    hash: int | None = None
    hash_revision: int | None = None
    compact_revision: int | None = None
    hash_agrees: bool | None = None  # None = inconclusive (different compact revision, no peers, no hash)
    hash_note: str | None = None
    # derived
    revision_lag: int | None = None  # behind the highest revision in the ring
    raft_index_lag: int | None = None  # behind the leader's raft index
    checks: CorruptionChecks | None = None
    version_risk: Severity | None = None  # CRITICAL for 3.5.0-3.5.2 etc.
    findings: tuple[Finding, ...] = ()

    @property
    def pod_name(self) -> str | None:
        return self.pod.name if self.pod else None

    @property
    def fragmentation(self) -> float | None:
        """1 − in-use/size: the share of the file a defragmentation gives back."""
        return fragmentation(self.db_size, self.db_size_in_use)

    @property
    def quota_use(self) -> float | None:
        return quota_use(self.db_size, self.quota_backend_bytes)

    @property
    def node_name(self) -> str | None:
        if self.node:
            return self.node.name
        return self.pod.node if self.pod else None


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
