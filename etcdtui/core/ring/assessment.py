"""The output model: one row per member/pod and the ring assessment, with their JSON form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
class MemberRow:
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

    def to_json_dict(self) -> dict[str, Any]:
        status = self.member.status if self.member else None
        return {
            "pod": self.pod.name if self.pod else None,
            "node": self.node.name if self.node else (self.pod.node if self.pod else None),
            "name": self.name,
            "member_id": self.member_id,
            "version": str(self.version) if self.version else None,
            "version_risk": self.version_risk.name.lower(),
            "leader": self.is_leader,
            "learner": self.member.is_learner if self.member else None,
            "healthy": self.healthy,
            "health_error": (self.member.health_error or None) if self.member else None,
            "hash_agrees": self.hash_agrees,
            "hash": self.hash.hash if self.hash else None,
            "hash_verdict": self.hash.verdict.value if self.hash else None,
            "revision": status.revision if status else None,
            "raft_applied_index": status.raft_applied_index if status else None,
            "db_size": status.db_size if status else None,
            "revision_lag": self.revision_lag,
            "raft_lag": self.raft_lag,
            "restarts": self.pod.restarts if self.pod else None,
            "checks": self.checks.to_json_dict() if self.checks else None,
            "findings": [finding_to_json(f) for f in self.findings],
        }


@dataclass(frozen=True)
class RingAssessment:
    verdict: Verdict
    members: tuple[MemberRow, ...]
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

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.name,
            "verdict": self.verdict.value,
            "context": self.context,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "stale_since": self.stale_since.isoformat() if self.stale_since else None,
            "quorum": {
                "voting": self.voting,
                "quorum": self.quorum,
                "alive_voting": self.alive_voting,
                "fault_tolerance": self.fault_tolerance,
            },
            "leader": {"member_id": self.leader_id, "name": self.leader_name},
            "hash_revision": self.hash_agreement.revision if self.hash_agreement else None,
            "members": [row.to_json_dict() for row in self.members],
            "findings": [finding_to_json(f) for f in self.findings],
        }


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity.label,
        "message": f.message,
        "member": f.member,
        "fields": dict(f.fields),
    }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; at equal severity corruption evidence leads."""
    return sorted(findings, key=lambda f: (-int(f.severity), not f.is_corruption))
