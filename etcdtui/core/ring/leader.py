"""The leader most members report, and followers lagging behind it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from etcdtui.core.etcdctl import EndpointStatus
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import MemberAssessment

FOLLOWER_LAG_INFO = 10000


@dataclass(frozen=True)
class Leader:
    member_id: str | None
    status: EndpointStatus | None


def find_leader(statuses: Sequence[EndpointStatus]) -> tuple[Leader, list[Finding]]:
    """The leader most members report (they may briefly disagree during an election)."""
    leaders = Counter(s.leader for s in statuses if s.leader != "0")
    leader_id = leaders.most_common(1)[0][0] if leaders else None
    leader = Leader(leader_id, next((s for s in statuses if s.member_id == leader_id), None))
    if statuses and leader_id is None:
        return leader, [
            Finding(
                "ring.no_leader",
                Severity.CRITICAL,
                "no member reports a leader: the ring cannot serve writes",
            )
        ]
    if len(leaders) > 1:
        return leader, [
            Finding(
                "ring.leader_disagreement",
                Severity.WARNING,
                f"members report different leaders ({', '.join(sorted(leaders))}): an election is under way",
                None,
                {"leaders": dict(leaders)},
            )
        ]
    return leader, []


def lag_findings(rows: Sequence[MemberAssessment], leader: Leader) -> list[Finding]:
    return [
        Finding(
            "member.lagging",
            Severity.INFO,
            f"{r.name} is {r.raft_index_lag} raft entries behind the leader",
            r.name,
            {"raft_lag": r.raft_index_lag},
        )
        for r in rows
        if r.raft_index_lag is not None and r.raft_index_lag > FOLLOWER_LAG_INFO and r.member_id is not None
        and not r.is_learner
    ]
