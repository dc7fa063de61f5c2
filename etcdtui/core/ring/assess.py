"""`assess(observation)`: every rule applied to one observation of the ring."""

from __future__ import annotations

import dataclasses

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.hashes import RevisionPoint, revision_divergence
from etcdtui.core.ring.alarm_findings import alarm_findings
from etcdtui.core.ring.assessment import MemberAssessment, RingAssessment, sort_findings
from etcdtui.core.ring.hash_findings import divergence_finding, hash_agreement, no_majority_finding
from etcdtui.core.ring.history import settle_log_findings
from etcdtui.core.ring.join import pair_pods_with_members
from etcdtui.core.ring.leader import find_leader, lag_findings
from etcdtui.core.ring.node_findings import orphan_node_findings
from etcdtui.core.ring.observation import RingObservation
from etcdtui.core.ring.quorum_count import count_quorum, quorum_findings
from etcdtui.core.ring.row import build_row
from etcdtui.core.ring.verdict import decide_verdict
from etcdtui.core.ring.version_findings import mixed_version_findings


def assess(obs: RingObservation) -> RingAssessment:
    """Evaluate one observation of the ring."""
    if obs.clean_since is not None:
        obs = dataclasses.replace(obs, log_findings=settle_log_findings(obs.log_findings, obs.clean_since))
    members = obs.members
    statuses = [m.status for m in members or () if m.status is not None]
    leader, ring = find_leader(statuses)
    agreement = hash_agreement(members, obs.hash_revision)
    divergence = revision_divergence(
        [RevisionPoint(s.member_id, s.revision, s.raft_index, s.raft_applied_index) for s in statuses],
        obs.previous_status,
    )

    rows: list[MemberAssessment] = []
    used_logs: set[str] = set()
    pairs = (
        pair_pods_with_members(obs.pods, members) if members is not None else [(p, None) for p in obs.pods]
    )
    for pod, m in pairs:
        rows.append(build_row(obs, pod, m, leader, agreement, divergence, used_logs))
    names_by_id = {r.member_id: r.name for r in rows if r.member_id is not None}

    ring += lag_findings(rows, leader)
    if agreement is not None and agreement.disagreement and not agreement.minority:
        ring.append(no_majority_finding(agreement, names_by_id))
    if divergence is not None and not divergence.minority:
        ring.append(divergence_finding(divergence, None, None))
    ring += alarm_findings(obs.alarms, statuses, names_by_id)
    counts = count_quorum(obs)
    ring += quorum_findings(counts)
    if members is None and obs.pods:
        reason = obs.members_error or "etcdctl did not run"
        ring.append(
            Finding(
                "ring.members_unavailable",
                Severity.WARNING,
                f"etcd member data unavailable: {reason}; showing pod-level data only",
            )
        )
    ring += orphan_node_findings(obs, names_by_id)
    ring += mixed_version_findings(rows)
    for key in sorted(set(obs.log_findings) - used_logs):
        ring.extend(obs.log_findings[key])
    if obs.stale_since is not None:
        ring.append(
            Finding(
                "ring.stale",
                Severity.WARNING,
                f"data is stale since {obs.stale_since.isoformat()}: the API server is not answering",
            )
        )
    no_data = not obs.pods and not members
    if no_data:
        etcdctl = f"; etcdctl: {obs.members_error}" if obs.members_error else ""
        ring.append(
            Finding(
                "ring.no_data",
                Severity.WARNING,
                f"no etcd pods found (managed clusters such as EKS, GKE and AKS hide etcd){etcdctl}",
            )
        )

    findings = sort_findings([f for r in rows for f in r.findings] + ring)
    return RingAssessment(
        verdict=decide_verdict(findings, counts, no_data),
        members=tuple(rows),
        voting=counts.voting,
        quorum=counts.quorum,
        alive_voting=counts.alive,
        fault_tolerance=max(counts.alive - counts.quorum, 0) if counts.voting else 0,
        leader_id=leader.member_id,
        leader_name=names_by_id.get(leader.member_id) if leader.member_id else None,
        hash_agreement=agreement,
        findings=tuple(findings),
        observed_at=obs.observed_at,
        stale_since=obs.stale_since,
        context=obs.context,
    )
