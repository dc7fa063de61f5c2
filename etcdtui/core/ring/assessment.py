"""The output model: one row per member/pod and the ring assessment (`check` renders them as JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.flags import FlagsAudit
from etcdtui.core.hashes import (
    HashAgreement,
    HashVerdict,
    MemberHash,
)
from etcdtui.core.ring.observation import MemberObservation, NodeObservation, PodObservation
from etcdtui.core.ring.verdict import Verdict
from etcdtui.core.versions import EtcdVersion, RiskTier


@dataclass(frozen=True)
class MemberAssessment:
    """One member (or pod) as the core judges it; the engine turns it into the UI's `snapshot.MemberRow`."""

    key: str  # stable row key for the table: pod name, else `member:<id>`
    name: str
    pod: PodObservation | None
    member: MemberObservation | None
    node: NodeObservation | None
    version: EtcdVersion | None
    version_risk: RiskTier
    is_leader: bool
    hash: MemberHash | None
    checks: FlagsAudit | None
    revision_lag: int | None  # leader revision − this member's
    raft_lag: int | None  # leader applied index − this member's
    findings: tuple[Finding, ...]

    @property
    def member_id(self) -> str | None:
        return self.member.member_id if self.member else None

    @property
    def healthy(self) -> bool | None:
        """Answers requests; None when never probed. A member that etcdctl calls unhealthy only because an
        alarm is active counts as healthy here (the alarm is its own finding), so quorum and the replace gate
        are not fooled by a CORRUPT alarm that every member reports."""
        m = self.member
        if m is None or (m.healthy is None and m.status is None):
            return None
        return m.alive

    @property
    def hash_agrees(self) -> bool | None:
        if self.hash is None or self.hash.verdict is HashVerdict.INCONCLUSIVE:
            return None
        return self.hash.verdict is HashVerdict.AGREES

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)


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


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; at equal severity corruption evidence leads."""
    return sorted(findings, key=lambda f: (-int(f.severity), not f.is_corruption))
