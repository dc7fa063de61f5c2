"""Findings about one etcd member: unstarted, unhealthy, no status, learner progress."""

from __future__ import annotations

from datetime import datetime, timedelta

from etcdtui.core.etcdctl import EndpointStatus
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.observation import MemberObservation, PodObservation

LEARNER_GRACE = timedelta(minutes=5)
LEARNER_LAG_LIMIT = 1000  # raft entries behind the leader


def member_findings(
    m: MemberObservation,
    name: str,
    pod: PodObservation | None,
    leader_status: EndpointStatus | None,
    now: datetime | None,
) -> list[Finding]:
    out: list[Finding] = []
    if not m.name:
        out.append(
            Finding(
                "member.unstarted",
                Severity.WARNING,
                f"member {m.member_id} was added but has never started (no name); it counts towards quorum",
                name,
                {"member_id": m.member_id, "peer_urls": list(m.peer_urls)},
            )
        )
    if m.healthy is False and not m.alive:
        out.append(
            Finding(
                "member.unhealthy",
                Severity.WARNING,
                f"member {name} is unhealthy: {m.health_error or 'no answer'}",
                name,
                {"error": m.health_error},
            )
        )
    elif m.status is None and m.name and m.healthy is not False:
        out.append(
            Finding(
                "member.no_status",
                Severity.WARNING,
                f"member {name} did not answer endpoint status: {m.status_error}",
                name,
            )
        )
    if m.is_learner:
        lag = (
            (leader_status.raft_applied_index - m.status.raft_applied_index)
            if (leader_status and m.status)
            else None
        )
        old = (
            pod is not None
            and pod.started_at is not None
            and now is not None
            and now - pod.started_at > LEARNER_GRACE
        )
        if m.status is None or (lag is not None and lag > LEARNER_LAG_LIMIT) or old:
            why = (
                "no status"
                if m.status is None
                else f"{lag} raft entries behind the leader"
                if lag is not None and lag > LEARNER_LAG_LIMIT
                else "still a learner after 5 minutes"
            )
            out.append(
                Finding(
                    "member.learner_stuck",
                    Severity.WARNING,
                    f"learner {name} is not being promoted ({why})",
                    name,
                    {"raft_lag": lag},
                )
            )
        else:
            out.append(
                Finding(
                    "member.learner", Severity.INFO, f"{name} is a learner (non-voting) catching up", name
                )
            )
    return out
