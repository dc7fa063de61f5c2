"""Adapter data → the core's `RingObservation` → `assess` → the snapshot's rows and verdict.

The rules live in `etcdtui.core.ring` (pure); this module only translates: Kubernetes objects into the
core's pod/node observations, etcdctl answers into member observations, and joins the core's member
model back to its Kubernetes objects (`MemberRow`, the UI's contract).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from etcdtui.cluster.objects import NodeInfo, PodInfo
from etcdtui.core import ring as core
from etcdtui.core.findings import Finding, Severity
from etcdtui.engine import etcdctl_data as data
from etcdtui.engine.snapshot import ConnectionState, LinkState, MemberRow, Verdict


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


def _row(member: core.MemberAssessment, pods: Mapping[str, PodInfo], nodes: Mapping[str, NodeInfo]) -> MemberRow:
    """The core's member joined back to the Kubernetes objects it came from."""
    pod = pods.get(member.pod_name) if member.pod_name else None
    return MemberRow.of(member, pod, nodes.get(member.node_name) if member.node_name else None)


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
    rows = tuple(_row(r, pods_by_name, nodes) for r in assessment.members)
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
