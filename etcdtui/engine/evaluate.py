"""Adapter data → the core's `RingObservation` → `assess` → the snapshot's rows and verdict.

The rules live in `etcdtui.core.ring` (pure); this module only translates: Kubernetes objects into the
core's pod/node observations, etcdctl answers into member observations, and the core's rows back into
the engine's `MemberRow` (the UI's contract).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from etcdtui.cluster.objects import NodeInfo, PodInfo
from etcdtui.core import ring as core
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.flags import FlagsAudit, format_duration
from etcdtui.core.quota import quota_backend_bytes
from etcdtui.core.versions import RiskTier
from etcdtui.engine import etcdctl_data as data
from etcdtui.engine.snapshot import ConnectionState, CorruptionChecks, LinkState, MemberRow, Verdict

_TIER_SEVERITY = {
    RiskTier.CRITICAL: Severity.CRITICAL,
    RiskTier.HIGH: Severity.WARNING,
    RiskTier.ADVISORY: Severity.INFO,
    RiskTier.NONE: Severity.OK,
}


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    findings: tuple[Finding, ...]
    rows: tuple[MemberRow, ...]
    quorum: int
    fault_tolerance: int | None
    assessment: core.RingAssessment | None
    observation: core.RingObservation | None
    clean_since: datetime | None = None  # the live cross-check's clean streak, carried to the next evaluation


def pod_observation(pod: PodInfo) -> core.PodObservation:
    waiting = next((c.reason for c in pod.containers if c.state == "waiting" and c.reason), None)
    last = max(
        (c for c in pod.containers if c.last_finished_at or c.last_exit_code is not None),
        key=lambda c: c.last_finished_at or datetime.min.replace(tzinfo=UTC),
        default=None,
    )
    return core.PodObservation(
        name=pod.name,
        node=pod.node,
        phase=pod.phase,
        ready=pod.ready,
        restarts=pod.restarts,
        waiting_reason=waiting,
        last_termination_reason=last.last_reason if last else None,
        last_exit_code=last.last_exit_code if last else None,
        last_terminated_at=last.last_finished_at if last else None,
        command=pod.command,
        image=pod.image,
        host_ip=pod.host_ip,
        pod_ip=pod.pod_ip,
        started_at=pod.started_at,
        deletion_timestamp=pod.deletion_timestamp,
    )


def node_observation(node: NodeInfo) -> core.NodeObservation:
    return core.NodeObservation(
        name=node.name,
        ready=node.ready,
        unschedulable=node.unschedulable,
        addresses=node.addresses,
        kubelet_version=node.kubelet_version,
        control_plane=node.control_plane,
    )


def observation(
    *,
    pods: Sequence[PodInfo],
    nodes: Mapping[str, NodeInfo],
    poll: data.PollResult | None,
    members_error: str | None,
    log_findings: Mapping[str, Sequence[Finding]],
    connection: ConnectionState,
    previous_status: Mapping[str, tuple[int, int]] | None,
    context: str,
) -> core.RingObservation:
    members = None
    if poll is not None and poll.member_list is not None:
        members = core.members_from_etcdctl(
            poll.member_list,
            poll.statuses,
            poll.health,
            poll.hashes,
            status_error=poll.stderr.get("endpoint status", ""),
            hash_error=poll.stderr.get("endpoint hashkv", ""),
        )
    return core.RingObservation(
        pods=tuple(pod_observation(p) for p in sorted(pods, key=lambda p: p.name)),
        nodes=tuple(node_observation(n) for _, n in sorted(nodes.items())),
        members=members,
        members_error=members_error if members is None else None,
        alarms=tuple(poll.alarms or ()) if poll else (),
        hash_revision=poll.common_revision if poll else None,
        log_findings=dict(log_findings),
        observed_at=poll.at if poll else datetime.now(UTC),
        stale_since=connection.since if connection.state is LinkState.STALE else None,
        context=context,
        previous_status=previous_status,
    )


def checks_view(audit: FlagsAudit | None) -> CorruptionChecks | None:
    if audit is None:
        return None
    return CorruptionChecks(
        initial=audit.initial,
        periodic=format_duration(audit.periodic_interval_s) if audit.periodic else None,
        compaction=audit.compaction,
        problems=tuple(f.message for f in audit.findings if f.severity >= Severity.WARNING),
        audit=audit,
    )


def _quota(pod: PodInfo | None) -> int | None:
    """The member's backend quota from its own command line; unknown without one."""
    return quota_backend_bytes(pod.command) if pod is not None and pod.command else None


def row_view(
    row: core.MemberAssessment, pods: Mapping[str, PodInfo], nodes: Mapping[str, NodeInfo], hash_revision: int | None
) -> MemberRow:
    m = row.member
    status = m.status if m else None
    own_alarms = tuple(a.alarm.value for a in (status.alarms if status else ()) if m and a.member_id == m.member_id)
    return MemberRow(
        key=row.key,
        pod=pods.get(row.pod.name) if row.pod else None,
        node=nodes.get(row.node.name) if row.node else None,
        member_id=m.member_id if m else None,
        member_name=(m.name or None) if m else None,
        peer_urls=m.peer_urls if m else (),
        client_urls=m.client_urls if m else (),
        is_learner=bool(m and m.is_learner),
        version=str(row.version) if row.version else None,
        db_size=status.db_size if status else None,
        db_size_in_use=status.db_size_in_use if status else None,
        quota_backend_bytes=_quota(pods.get(row.pod.name) if row.pod else None),
        is_leader=row.is_leader if status else None,
        raft_index=status.raft_index if status else None,
        raft_applied_index=status.raft_applied_index if status else None,
        raft_term=status.raft_term if status else None,
        revision=status.revision if status else None,
        alarms=own_alarms,
        healthy=row.healthy,
        health_error=(m.health_error or None) if m else None,
        hash=row.hash.hash if row.hash else None,
        hash_revision=hash_revision if row.hash and row.hash.hash is not None else None,
        compact_revision=m.hashkv.compact_revision if m and m.hashkv else None,
        hash_agrees=row.hash_agrees,
        hash_note=row.hash.reason if row.hash else None,
        revision_lag=row.revision_lag,
        raft_index_lag=row.raft_lag,
        checks=checks_view(row.checks),
        version_risk=_TIER_SEVERITY[row.version_risk] if row.version else None,
        findings=row.findings,
    )


def evaluate(
    *,
    pods: Sequence[PodInfo],
    nodes: Mapping[str, NodeInfo],
    poll: data.PollResult | None,
    listed: bool,
    members_error: str | None,
    connection: ConnectionState,
    log_findings: Mapping[str, Sequence[Finding]],
    previous_status: Mapping[str, tuple[int, int]] | None,
    context: str,
    clean_since: datetime | None = None,
) -> Evaluation:
    if not listed:
        # Never listed the pods: nothing is known, and "no etcd pods" would be a lie.
        reason = connection.reason or "connecting to the API server"
        finding = Finding("cluster.unreachable", Severity.WARNING, reason)
        return Evaluation(Verdict.UNKNOWN, (finding,), (), 0, None, None, None)
    obs = observation(
        pods=pods, nodes=nodes, poll=poll, members_error=members_error, log_findings=log_findings,
        connection=connection, previous_status=previous_status, context=context,
    )
    # A clean streak starts at the first clean poll and ends at the first unclean one.
    clean_since = (clean_since or obs.observed_at) if core.live_cross_check_clean(obs) else None
    obs = replace(obs, clean_since=clean_since)
    assessment = core.assess(obs)
    pods_by_name = {p.name: p for p in pods}
    rows = tuple(row_view(r, pods_by_name, nodes, obs.hash_revision) for r in assessment.members)
    known = assessment.voting > 0 and (obs.members is not None or bool(pods))
    return Evaluation(
        verdict=assessment.verdict,
        findings=assessment.findings,
        rows=tuple(sorted(rows, key=lambda r: r.key)),
        quorum=assessment.quorum,
        fault_tolerance=assessment.fault_tolerance if known else None,
        assessment=assessment,
        observation=obs,
        clean_since=clean_since,
    )
