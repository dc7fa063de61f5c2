"""Voting members, how many answer, and the quorum findings."""

from __future__ import annotations

from dataclasses import dataclass

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.quorum import quorum
from etcdtui.core.ring.observation import RingObservation


@dataclass(frozen=True)
class QuorumCount:
    voting: int
    alive: int
    quorum: int
    basis: str  # "" when counted from etcd's own member list

    @property
    def lost(self) -> bool:
        return self.voting > 0 and self.alive < self.quorum


def count_quorum(obs: RingObservation) -> QuorumCount:
    """Voting members and how many answer; from pod readiness when etcdctl could not run."""
    if obs.members is not None:
        voting = [m for m in obs.members if not m.is_learner]
        alive, basis = sum(1 for m in voting if m.alive), ""
        count = len(voting)
    else:
        count = len(obs.pods)
        alive = sum(1 for p in obs.pods if p.phase == "Running" and p.ready)
        basis = " (inferred from pod readiness: etcdctl could not run)"
    return QuorumCount(count, alive, quorum(count) if count else 0, basis)


def quorum_findings(c: QuorumCount) -> list[Finding]:
    if c.lost:
        return [
            Finding(
                "ring.quorum_lost",
                Severity.CRITICAL,
                f"only {c.alive} of {c.voting} voting members alive, quorum is {c.quorum}{c.basis}",
                None,
                {"voting": c.voting, "alive": c.alive, "quorum": c.quorum},
            )
        ]
    if c.voting >= 3 and c.alive == c.quorum:
        return [
            Finding(
                "ring.no_fault_tolerance",
                Severity.WARNING,
                f"{c.alive} of {c.voting} voting members alive: one more failure loses quorum{c.basis}",
            )
        ]
    if c.voting in (1, 2):
        plural = "s" if c.voting > 1 else ""
        return [
            Finding(
                "ring.no_redundancy",
                Severity.WARNING,
                f"{c.voting} voting member{plural}: the ring tolerates no failure",
            )
        ]
    return []
