"""One member row: pod + member + node, with every finding about it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.flags import audit_flags
from etcdtui.core.hashes import HashAgreement, RevisionDivergence
from etcdtui.core.ring.assessment import MemberAssessment, member_assessment, sort_findings
from etcdtui.core.ring.hash_findings import divergence_finding, hash_findings
from etcdtui.core.ring.join import node_for, row_name
from etcdtui.core.ring.leader import Leader
from etcdtui.core.ring.member_findings import member_findings
from etcdtui.core.ring.node_findings import node_findings
from etcdtui.core.ring.observation import MemberObservation, PodObservation, RingObservation
from etcdtui.core.ring.pod_findings import pod_findings
from etcdtui.core.versions import (
    parse_version,
    version_findings,
    version_from_image,
)


def row_logs(
    keys: set[str], logs: Mapping[str, Sequence[Finding]], used: set[str], name: str
) -> list[Finding]:
    out: list[Finding] = []
    for key in sorted(keys & set(logs)):
        used.add(key)
        out.extend(
            f if f.member else Finding(f.kind, f.severity, f.message, name, dict(f.fields)) for f in logs[key]
        )
    return out


# --- assess -------------------------------------------------------------------------------------


def build_row(
    obs: RingObservation,
    pod: PodObservation | None,
    m: MemberObservation | None,
    leader: Leader,
    agreement: HashAgreement | None,
    divergence: RevisionDivergence | None,
    used_logs: set[str],
) -> MemberAssessment:
    name = row_name(pod, m)
    node = node_for(pod, m, obs.nodes)
    status = m.status if m else None
    version = parse_version(status.version) if status else None
    if version is None and pod is not None:
        version = version_from_image(pod.image)

    findings: list[Finding] = []
    if pod is not None:
        findings += pod_findings(pod, name, obs.observed_at, version)
    if m is not None:
        findings += member_findings(m, name, pod, leader.status, obs.observed_at)
        if pod is None:
            findings.append(
                Finding(
                    "member.no_pod",
                    Severity.WARNING,
                    f"member {name} ({m.member_id}) has no etcd pod: a leftover member lowers fault tolerance; "
                    "remove it if its node is gone",
                    name,
                    {"member_id": m.member_id, "peer_urls": list(m.peer_urls)},
                )
            )
    elif obs.members is not None and pod is not None:
        findings.append(
            Finding(
                "member.missing",
                Severity.WARNING,
                f"pod {pod.name} runs but is not a member of the ring",
                name,
            )
        )
    if node is not None:
        findings += node_findings(node, name)
    if pod is not None or status is not None:
        source = "endpoint status" if status else f"image {pod.image}" if pod else ""
        findings += version_findings(version, member=name, source=source)
    checks = audit_flags(pod.command, version, member=name) if pod is not None and pod.command else None
    if checks is not None:
        findings += checks.findings
    log_keys = {k for k in (pod.name if pod else None, pod.node if pod else None) if k}
    if m is not None:
        log_keys |= {k for k in (m.name, m.member_id) if k}
    logs = row_logs(log_keys, obs.log_findings, used_logs, name)
    member_hash = agreement.for_member(m.member_id) if agreement is not None and m is not None else None
    if member_hash is not None and agreement is not None:
        findings += hash_findings(member_hash, agreement, name, pod, logs)
    if divergence is not None and m is not None and m.member_id in divergence.minority:
        findings.append(divergence_finding(divergence, m.member_id, name))
    findings += logs

    lead = leader.status
    return member_assessment(
        key=pod.name if pod else f"member:{m.member_id if m else name}",
        name=name,
        pod=pod,
        member=m,
        node=node,
        version=version,
        is_leader=bool(status and leader.member_id and status.member_id == leader.member_id),
        member_hash=member_hash,
        hash_revision=obs.hash_revision,
        audit=checks,
        revision_lag=(lead.revision - status.revision) if lead and status else None,
        raft_index_lag=(lead.raft_applied_index - status.raft_applied_index) if lead and status else None,
        findings=tuple(sort_findings(findings)),
    )
