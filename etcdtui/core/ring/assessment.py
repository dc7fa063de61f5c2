"""The output model: one flat row per member/pod and the ring assessment (`check` renders them as JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from etcdtui.core.defrag_rules import fragmentation, quota_use
from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.flags import FlagsAudit
from etcdtui.core.go_duration import format_duration
from etcdtui.core.hashes import (
    HashAgreement,
    HashVerdict,
    MemberHash,
)
from etcdtui.core.quota import quota_backend_bytes
from etcdtui.core.ring.observation import MemberObservation, NodeObservation, PodObservation
from etcdtui.core.ring.verdict import Verdict
from etcdtui.core.versions import EtcdVersion, RiskTier, assess_version

_TIER_SEVERITY = {
    RiskTier.CRITICAL: Severity.CRITICAL,
    RiskTier.HIGH: Severity.WARNING,
    RiskTier.ADVISORY: Severity.INFO,
    RiskTier.NONE: Severity.OK,
}


def tier_severity(tier: RiskTier) -> Severity:
    """How loud a version risk tier is in the table and the findings."""
    return _TIER_SEVERITY[tier]


@dataclass(frozen=True)
class CorruptionChecks:
    """Corruption checks of one member, read from its own command line (per the flags audit)."""

    initial: bool | None  # None: unknown (no command line)
    periodic: str | None  # the interval (e.g. "4h0m0s"/"240m"), None when off or unknown
    compaction: bool | None
    problems: tuple[str, ...] = ()  # misconfiguration notes from the audit
    audit: FlagsAudit | None = None  # the etcd flags audit, for the detail panel

    @classmethod
    def of(cls, audit: FlagsAudit) -> CorruptionChecks:
        return cls(
            initial=audit.initial,
            periodic=format_duration(audit.periodic_interval_s) if audit.periodic else None,
            compaction=audit.compaction,
            problems=tuple(f.message for f in audit.findings if f.severity >= Severity.WARNING),
            audit=audit,
        )

    def as_dict(self) -> dict[str, object]:
        return {"initial": self.initial, "periodic": self.periodic, "compaction": self.compaction}


@dataclass(frozen=True, kw_only=True)
class MemberAssessment:
    """One member (or pod) as the core judges it: the one member model. The engine's `snapshot.MemberRow`
    is this plus the Kubernetes objects behind it, so a new member attribute is added here only."""

    key: str  # stable row key for the table: pod name, else `member:<id>`
    name: str = ""  # how findings name it: node, pod or member name
    pod_name: str | None = None
    node_name: str | None = None  # the Node it runs on (joined by the pod's node, else the member's name/URLs)
    member_id: str | None = None  # canonical hex (etcdtui.core.ids)
    member_name: str | None = None
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False
    # endpoint status (None until etcdctl answered for this member)
    version: str | None = None  # from endpoint status, else the pod's image tag
    db_size: int | None = None
    db_size_in_use: int | None = None
    quota_backend_bytes: int | None = None  # from the pod's --quota-backend-bytes (etcd's 2 GiB when unset)
    is_leader: bool | None = None
    raft_index: int | None = None
    raft_applied_index: int | None = None
    raft_term: int | None = None
    revision: int | None = None
    alarms: tuple[str, ...] = ()  # this member's own, e.g. ("CORRUPT",)
    # endpoint health: answers requests; None when never probed. A member that etcdctl calls unhealthy only
    # because an alarm is active counts as healthy here (the alarm is its own finding), so quorum and the
    # replace gate are not fooled by a CORRUPT alarm that every member reports.
    healthy: bool | None = None
    health_error: str | None = None
    # hashkv at the ring's common revision
    hash: int | None = None
    hash_revision: int | None = None
    compact_revision: int | None = None
    hash_agrees: bool | None = None  # None = inconclusive (different compact revision, no peers, no hash)
    hash_note: str | None = None
    # derived
    revision_lag: int | None = None  # leader revision − this member's
    raft_index_lag: int | None = None  # leader applied index − this member's
    checks: CorruptionChecks | None = None
    version_risk: Severity | None = None  # CRITICAL for 3.5.0-3.5.2 etc.; None when the version is unknown
    findings: tuple[Finding, ...] = ()

    @property
    def fragmentation(self) -> float | None:
        """1 − in-use/size: the share of the file a defragmentation gives back."""
        return fragmentation(self.db_size, self.db_size_in_use)

    @property
    def quota_use(self) -> float | None:
        return quota_use(self.db_size, self.quota_backend_bytes)

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)


def member_assessment(
    *,
    key: str,
    name: str,
    pod: PodObservation | None,
    member: MemberObservation | None,
    node: NodeObservation | None,
    version: EtcdVersion | None,
    is_leader: bool,
    member_hash: MemberHash | None,
    hash_revision: int | None,
    audit: FlagsAudit | None,
    revision_lag: int | None,
    raft_index_lag: int | None,
    findings: tuple[Finding, ...],
) -> MemberAssessment:
    """The flat model of one member from what was observed of it and what the rules found."""
    m = member
    status = m.status if m else None
    return MemberAssessment(
        key=key,
        name=name,
        pod_name=pod.name if pod else None,
        node_name=node.name if node else pod.node if pod else None,
        member_id=m.member_id if m else None,
        member_name=(m.name or None) if m else None,
        peer_urls=m.peer_urls if m else (),
        client_urls=m.client_urls if m else (),
        is_learner=bool(m and m.is_learner),
        version=str(version) if version else None,
        db_size=status.db_size if status else None,
        db_size_in_use=status.db_size_in_use if status else None,
        quota_backend_bytes=quota_backend_bytes(pod.command) if pod is not None and pod.command else None,
        is_leader=is_leader if status else None,
        raft_index=status.raft_index if status else None,
        raft_applied_index=status.raft_applied_index if status else None,
        raft_term=status.raft_term if status else None,
        revision=status.revision if status else None,
        alarms=tuple(a.alarm.value for a in (status.alarms if status else ()) if m and a.member_id == m.member_id),
        healthy=_healthy(m),
        health_error=(m.health_error or None) if m else None,
        hash=member_hash.hash if member_hash else None,
        hash_revision=hash_revision if member_hash and member_hash.hash is not None else None,
        compact_revision=m.hashkv.compact_revision if m and m.hashkv else None,
        hash_agrees=_agrees(member_hash),
        hash_note=member_hash.reason if member_hash else None,
        revision_lag=revision_lag,
        raft_index_lag=raft_index_lag,
        checks=CorruptionChecks.of(audit) if audit is not None else None,
        version_risk=tier_severity(assess_version(version).tier) if version else None,
        findings=findings,
    )


def _healthy(m: MemberObservation | None) -> bool | None:
    if m is None or (m.healthy is None and m.status is None):
        return None
    return m.alive


def _agrees(member_hash: MemberHash | None) -> bool | None:
    if member_hash is None or member_hash.verdict is HashVerdict.INCONCLUSIVE:
        return None
    return member_hash.verdict is HashVerdict.AGREES


@dataclass(frozen=True)
class RingAssessment:
    verdict: Verdict
    members: tuple[MemberAssessment, ...]
    voting: int
    quorum: int
    alive_voting: int
    fault_tolerance: int  # remaining: alive voting − quorum (never below 0)
    leader_id: str | None
    leader_name: str | None
    hash_agreement: HashAgreement | None
    findings: tuple[Finding, ...]  # every finding, rows' included, most severe first
    observed_at: datetime | None
    stale_since: datetime | None
    context: str | None

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def headline(self) -> str:
        worst = (
            self.findings[0].message
            if self.findings and self.findings[0].severity >= Severity.WARNING
            else ""
        )
        text = f"{self.verdict.value}: {self.voting} voting members, quorum {self.quorum}, fault tolerance {self.fault_tolerance}"
        return f"{text}; {worst}" if worst else text


# Corruption findings that follow from a CORRUPT alarm rather than say which member diverged: once the alarm
# is up every member's health check is refused, and those lines must not push the member that diverged out of
# the header (seen on a loaded machine: the alarm came a poll before the hashes, and stayed on top).
_CONSEQUENCES = frozenset({"corruption.alarm_active"})


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; at equal severity corruption evidence leads, the alarm's consequences after it."""
    return sorted(findings, key=lambda f: (-int(f.severity), not f.is_corruption, f.kind in _CONSEQUENCES))
