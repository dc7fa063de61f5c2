"""Ring evaluation: one verdict for the etcd ring from pods, nodes, etcdctl answers and log findings.

`assess(observation)` is pure. The verdict follows rules an SRE expects, not the worst finding severity:
any corruption evidence → CORRUPTION; fewer alive voting members than quorum → QUORUM_LOST; no data at all →
UNKNOWN; any warning → WARNING; else HEALTHY. The verdict answers "is the ring healthy now": a risky etcd
version (3.5.0–3.5.2) is a CRITICAL *finding*, shown everywhere (header, row, `--json`, the
`etcdtui_member_version_risk` metric), but it does not change the verdict — the ring is at risk, not
corrupted, and a ring repaired on such a version is HEALTHY until it shows trouble again. Exit codes come
from `RingAssessment.status` (the verdict), not from the worst finding.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from etcdtui.core.etcdctl import (
    Alarm,
    AlarmType,
    EndpointHash,
    EndpointHealth,
    EndpointStatus,
    MemberList,
)
from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.flags import FlagsAudit, audit_flags, parse_command
from etcdtui.core.hashes import (
    HashAgreement,
    HashSample,
    HashVerdict,
    MemberHash,
    RevisionDivergence,
    RevisionPoint,
    compare_hashes,
    revision_divergence,
)
from etcdtui.core.quorum import quorum
from etcdtui.core.versions import (
    EtcdVersion,
    RiskTier,
    assess_version,
    parse_version,
    version_findings,
    version_from_image,
)

RECENT_RESTART = timedelta(hours=1)
LEARNER_GRACE = timedelta(minutes=5)
LEARNER_LAG_LIMIT = 1000  # raft entries behind the leader
FOLLOWER_LAG_INFO = 10000


class Verdict(enum.StrEnum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CORRUPTION = "CORRUPTION"
    QUORUM_LOST = "QUORUM_LOST"
    UNKNOWN = "UNKNOWN"

    @property
    def status(self) -> Status:
        return _STATUS[self]


_STATUS = {
    Verdict.HEALTHY: Status.OK,
    Verdict.WARNING: Status.WARNING,
    Verdict.CORRUPTION: Status.CRITICAL,
    Verdict.QUORUM_LOST: Status.CRITICAL,
    Verdict.UNKNOWN: Status.UNKNOWN,
}


# --- input model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodObservation:
    name: str
    node: str | None = None
    phase: str = "Unknown"
    ready: bool = False
    restarts: int = 0
    waiting_reason: str | None = None  # e.g. CrashLoopBackOff
    last_termination_reason: str | None = None
    last_exit_code: int | None = None
    last_terminated_at: datetime | None = None
    command: tuple[str, ...] = ()  # spec.containers[etcd].command + args
    image: str | None = None
    host_ip: str | None = None
    pod_ip: str | None = None
    started_at: datetime | None = None
    deletion_timestamp: datetime | None = None


@dataclass(frozen=True)
class NodeObservation:
    name: str
    ready: bool | None = None
    unschedulable: bool = False
    addresses: tuple[tuple[str, str], ...] = ()  # (type, address), e.g. ("InternalIP", "10.0.0.1")
    kubelet_version: str | None = None
    control_plane: bool = False

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(a for t, a in self.addresses if t in ("InternalIP", "ExternalIP"))


@dataclass(frozen=True)
class MemberObservation:
    member_id: str  # lowercase hex
    name: str = ""  # "" = not started yet
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False
    healthy: bool | None = None  # None: not probed
    health_error: str = ""
    status: EndpointStatus | None = None
    status_error: str = ""
    hashkv: EndpointHash | None = None  # answer to `endpoint hashkv --rev=<RingObservation.hash_revision>`
    hashkv_error: str = ""

    @property
    def alive(self) -> bool:
        """Answers requests. etcdctl ≥ 3.5 reports members with an active alarm as unhealthy; they still count."""
        if self.healthy is True:
            return True
        if self.healthy is False:
            return self.health_error.startswith("Active Alarm(s):")
        return self.status is not None


@dataclass(frozen=True)
class RingObservation:
    pods: tuple[PodObservation, ...] = ()
    nodes: tuple[NodeObservation, ...] = ()
    members: tuple[MemberObservation, ...] | None = None  # None: etcdctl could not run
    members_error: str | None = None  # why not
    alarms: tuple[Alarm, ...] = ()
    hash_revision: int | None = None  # the common revision R the hashes were asked at
    log_findings: Mapping[str, Sequence[Finding]] = field(
        default_factory=dict
    )  # by pod, member or node name / member ID
    observed_at: datetime | None = None
    stale_since: datetime | None = None
    context: str | None = None
    previous_status: Mapping[str, tuple[int, int]] | None = (
        None  # member ID → (revision, applied index), last poll
    )
    # Since when the live cross-check has been clean without a break (see `live_cross_check_clean`); log
    # corruption evidence older than that is past evidence (e.g. from before a member was replaced).
    clean_since: datetime | None = None


def members_from_etcdctl(
    member_list: MemberList,
    statuses: Iterable[EndpointStatus] = (),
    healths: Iterable[EndpointHealth] = (),
    hashes: Iterable[EndpointHash] = (),
    *,
    status_error: str = "",
    hash_error: str = "",
) -> tuple[MemberObservation, ...]:
    """Join the etcdctl answers into one record per member: status/hash by member ID, health by client URL.

    etcdctl drops failed endpoints from status/hashkv; such members get `status_error`/`hash_error`
    (pass etcdctl's stderr line when there is one).
    """
    healths = tuple(healths)
    by_status = {s.member_id: s for s in statuses}
    by_hash = {h.member_id: h for h in hashes}
    health_by_url = {_url_key(h.endpoint): h for h in healths}
    result = []
    for m in member_list.members:
        health = next((health_by_url[k] for k in map(_url_key, m.client_urls) if k in health_by_url), None)
        status = by_status.get(m.member_id)
        hashkv = by_hash.get(m.member_id)
        result.append(
            MemberObservation(
                member_id=m.member_id,
                name=m.name,
                peer_urls=m.peer_urls,
                client_urls=m.client_urls,
                is_learner=m.is_learner or (status.is_learner if status else False),
                healthy=health.healthy if health else (None if not healths else False),
                health_error=health.error if health else ("" if not healths else "no health answer"),
                status=status,
                status_error="" if status else (status_error or "no status answer"),
                hashkv=hashkv,
                hashkv_error="" if hashkv else hash_error,
            )
        )
    return tuple(result)


def previous_status_of(observation: RingObservation) -> dict[str, tuple[int, int]]:
    """What to pass as `previous_status` on the next poll."""
    return {
        m.member_id: (m.status.revision, m.status.raft_applied_index)
        for m in observation.members or ()
        if m.status is not None
    }


# --- output model -------------------------------------------------------------------------------


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


# --- joining ------------------------------------------------------------------------------------


def _url_key(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"//{url}")
    return f"{parts.hostname}:{parts.port}"


def _url_hosts(urls: Iterable[str]) -> set[str]:
    return {h for h in (urlsplit(u).hostname for u in urls) if h}


def _pod_urls(pod: PodObservation) -> set[str]:
    cmd = parse_command(pod.command)
    urls: set[str] = set()
    for name in ("advertise-client-urls", "initial-advertise-peer-urls"):
        urls |= {_url_key(u) for u in (cmd.get(name) or "").split(",") if u.strip()}
    return urls


def _join(
    pods: Sequence[PodObservation], members: Sequence[MemberObservation]
) -> list[tuple[PodObservation | None, MemberObservation | None]]:
    """Pod ↔ member by name (kubeadm names the member after the node), then advertised URL, then a unique IP."""
    free_pods = list(pods)
    pairs: list[tuple[PodObservation | None, MemberObservation | None]] = []
    unmatched: list[MemberObservation] = []

    def take(match: PodObservation) -> PodObservation:
        free_pods.remove(match)
        return match

    for m in members:
        pod = next(
            (
                p
                for p in free_pods
                if m.name and (p.node == m.name or p.name == m.name or p.name == f"etcd-{m.name}")
            ),
            None,
        )
        if pod is None:
            keys = {_url_key(u) for u in m.client_urls + m.peer_urls}
            pod = next((p for p in free_pods if keys & _pod_urls(p)), None)
        if pod is not None:
            pairs.append((take(pod), m))
        else:
            unmatched.append(m)
    for m in unmatched:
        # Last resort, for pods whose command advertises no URL: a hostNetwork pod's IP is its member's URL host.
        hosts = _url_hosts(m.client_urls + m.peer_urls)
        candidates = [p for p in free_pods if not _pod_urls(p) and hosts & {p.host_ip, p.pod_ip}]
        if len(candidates) == 1:
            pairs.append((take(candidates[0]), m))
        else:
            pairs.append((None, m))
    pairs.extend((p, None) for p in free_pods)
    return pairs


def _node_for(
    pod: PodObservation | None, member: MemberObservation | None, nodes: Sequence[NodeObservation]
) -> NodeObservation | None:
    by_name = {n.name: n for n in nodes}
    if pod is not None and pod.node in by_name:
        return by_name[pod.node]
    if member is not None:
        if member.name in by_name:
            return by_name[member.name]
        hosts = _url_hosts(member.peer_urls + member.client_urls)
        matches = [n for n in nodes if hosts & set(n.ips)]
        if len(matches) == 1:
            return matches[0]
    return None


# --- per-row findings ---------------------------------------------------------------------------


def _pod_findings(
    pod: PodObservation, name: str, now: datetime | None, version: EtcdVersion | None
) -> list[Finding]:
    out: list[Finding] = []
    last = ""
    if pod.last_termination_reason or pod.last_exit_code is not None:
        last = f"; last exit: {pod.last_termination_reason or 'terminated'} (code {pod.last_exit_code})"
    if pod.deletion_timestamp is not None:
        out.append(Finding("pod.terminating", Severity.WARNING, f"pod {pod.name} is being deleted", name))
    if pod.waiting_reason == "CrashLoopBackOff":
        out.append(
            Finding(
                "pod.crashloop",
                Severity.WARNING,
                f"pod {pod.name} is crash-looping ({pod.restarts} restarts{last}); read its previous logs",
                name,
                {
                    "restarts": pod.restarts,
                    "exit_code": pod.last_exit_code,
                    "reason": pod.last_termination_reason,
                },
            )
        )
    elif pod.phase != "Running":
        why = f" ({pod.waiting_reason})" if pod.waiting_reason else ""
        out.append(
            Finding(
                "pod.not_running",
                Severity.WARNING,
                f"pod {pod.name} is {pod.phase}{why}",
                name,
                {"phase": pod.phase},
            )
        )
    elif not pod.ready:
        out.append(
            Finding("pod.not_ready", Severity.WARNING, f"pod {pod.name} is Running but not Ready", name)
        )
    if pod.restarts > 0 and pod.waiting_reason != "CrashLoopBackOff":
        recent = (
            now is not None
            and pod.last_terminated_at is not None
            and now - pod.last_terminated_at <= RECENT_RESTART
        )
        risky = version is not None and assess_version(version).tier is RiskTier.CRITICAL
        note = (
            "; a crash under load on this etcd version can lose committed writes (etcd #13766)"
            if risky
            else ""
        )
        when = f", last at {pod.last_terminated_at.isoformat()}" if pod.last_terminated_at else ""
        out.append(
            Finding(
                "pod.restarted",
                Severity.WARNING if recent or risky else Severity.INFO,
                f"etcd in pod {pod.name} restarted {pod.restarts} time{'s' if pod.restarts != 1 else ''}{when}{last}{note}",
                name,
                {
                    "restarts": pod.restarts,
                    "exit_code": pod.last_exit_code,
                    "reason": pod.last_termination_reason,
                },
            )
        )
    return out


def _member_findings(
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


def _node_findings(node: NodeObservation, name: str) -> list[Finding]:
    out: list[Finding] = []
    if node.ready is False:
        out.append(Finding("node.not_ready", Severity.WARNING, f"node {node.name} is NotReady", name))
    if node.unschedulable:
        out.append(
            Finding("node.cordoned", Severity.INFO, f"node {node.name} is cordoned (unschedulable)", name)
        )
    return out


def _row_logs(
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


@dataclass(frozen=True)
class _Leader:
    member_id: str | None
    status: EndpointStatus | None


@dataclass(frozen=True)
class _Quorum:
    voting: int
    alive: int
    quorum: int
    basis: str  # "" when counted from etcd's own member list

    @property
    def lost(self) -> bool:
        return self.voting > 0 and self.alive < self.quorum


def live_cross_check_clean(obs: RingObservation) -> bool:
    """etcd's data is provably consistent right now: every voting member's hash was compared at one
    common revision and all are equal, and no alarm is raised."""
    members = obs.members
    if not members or obs.alarms:
        return False
    voting = [m for m in members if not m.is_learner]
    agreement = _hash_agreement(members, obs.hash_revision)
    return bool(voting) and agreement is not None and not agreement.disagreement and agreement.compared >= len(voting)


def settle_log_findings(
    log_findings: Mapping[str, Sequence[Finding]], clean_since: datetime | None
) -> dict[str, tuple[Finding, ...]]:
    """Log corruption evidence logged before the live cross-check became clean is past evidence: reported
    (INFO, kind `history.corruption_evidence`) but no longer a verdict of CORRUPTION. Evidence without a
    timestamp (`fields["log-ts"]`, epoch seconds) or logged since then keeps counting."""
    if clean_since is None:
        return {k: tuple(v) for k, v in log_findings.items()}
    cutoff = clean_since.timestamp()

    def settle(f: Finding) -> Finding:
        ts = f.fields.get("log-ts")
        if not f.is_corruption or not isinstance(ts, int | float) or ts >= cutoff:
            return f
        logged = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        since = clean_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return Finding(
            "history.corruption_evidence",
            Severity.INFO,
            f"past evidence, logged {logged}: {f.message} (since {since} every member's hash agrees "
            "and no alarm is raised)",
            f.member,
            {**f.fields, "original_kind": f.kind},
        )

    return {k: tuple(settle(f) for f in v) for k, v in log_findings.items()}


def assess(obs: RingObservation) -> RingAssessment:
    """Evaluate one observation of the ring."""
    if obs.clean_since is not None:
        obs = dataclasses.replace(obs, log_findings=settle_log_findings(obs.log_findings, obs.clean_since))
    members = obs.members
    statuses = [m.status for m in members or () if m.status is not None]
    leader, ring = _leader(statuses)
    agreement = _hash_agreement(members, obs.hash_revision)
    divergence = revision_divergence(
        [RevisionPoint(s.member_id, s.revision, s.raft_index, s.raft_applied_index) for s in statuses],
        obs.previous_status,
    )

    rows: list[MemberRow] = []
    used_logs: set[str] = set()
    pairs = _join(obs.pods, members) if members is not None else [(p, None) for p in obs.pods]
    for pod, m in pairs:
        rows.append(_row(obs, pod, m, leader, agreement, divergence, used_logs))
    names_by_id = {r.member.member_id: r.name for r in rows if r.member is not None}

    ring += _lag_findings(rows, leader)
    if agreement is not None and agreement.disagreement and not agreement.minority:
        ring.append(_no_majority_finding(agreement, names_by_id))
    if divergence is not None and not divergence.minority:
        ring.append(_divergence_finding(divergence, None, None))
    ring += _alarm_findings(obs.alarms, statuses, names_by_id)
    counts = _quorum(obs)
    ring += _quorum_findings(counts)
    if members is None and obs.pods:
        reason = obs.members_error or "etcdctl did not run"
        ring.append(
            Finding(
                "ring.members_unavailable",
                Severity.WARNING,
                f"etcd member data unavailable: {reason}; showing pod-level data only",
            )
        )
    ring += _orphan_node_findings(obs, names_by_id)
    ring += _mixed_version_findings(rows)
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

    findings = _sorted([f for r in rows for f in r.findings] + ring)
    return RingAssessment(
        verdict=_verdict(findings, counts, no_data),
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


def _verdict(findings: Sequence[Finding], counts: _Quorum, no_data: bool) -> Verdict:
    if no_data:
        return Verdict.UNKNOWN
    if any(f.is_corruption for f in findings):
        return Verdict.CORRUPTION
    if counts.lost:
        return Verdict.QUORUM_LOST
    if any(f.severity >= Severity.WARNING and not _is_advisory(f) for f in findings):
        return Verdict.WARNING
    return Verdict.HEALTHY


def _is_advisory(finding: Finding) -> bool:
    """Version risk is about the future, not the ring's state now: reported, but not part of the verdict."""
    return finding.kind.startswith("version.")


def _leader(statuses: Sequence[EndpointStatus]) -> tuple[_Leader, list[Finding]]:
    """The leader most members report (they may briefly disagree during an election)."""
    leaders = Counter(s.leader for s in statuses if s.leader != "0")
    leader_id = leaders.most_common(1)[0][0] if leaders else None
    leader = _Leader(leader_id, next((s for s in statuses if s.member_id == leader_id), None))
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


def _hash_agreement(
    members: Sequence[MemberObservation] | None, revision: int | None
) -> HashAgreement | None:
    """Hashes at the common revision R, for every started member (unstarted ones have no data)."""
    if members is None or revision is None:
        return None
    samples = [
        HashSample(
            m.member_id,
            m.hashkv.hash if m.hashkv else None,
            m.hashkv.compact_revision if m.hashkv else None,
            m.hashkv.hash_revision if m.hashkv else None,
            None if m.hashkv else (m.hashkv_error or "no hash answer"),
        )
        for m in members
        if m.name
    ]
    return compare_hashes(samples, revision)


def _row_name(pod: PodObservation | None, m: MemberObservation | None) -> str:
    """The member's name, else the node's (kubeadm names members after nodes), else the pod's or the ID."""
    if m is not None and m.name:
        return m.name
    if pod is not None:
        return pod.node or pod.name
    return m.member_id if m is not None else "?"


def _row(
    obs: RingObservation,
    pod: PodObservation | None,
    m: MemberObservation | None,
    leader: _Leader,
    agreement: HashAgreement | None,
    divergence: RevisionDivergence | None,
    used_logs: set[str],
) -> MemberRow:
    name = _row_name(pod, m)
    node = _node_for(pod, m, obs.nodes)
    status = m.status if m else None
    version = parse_version(status.version) if status else None
    if version is None and pod is not None:
        version = version_from_image(pod.image)

    findings: list[Finding] = []
    if pod is not None:
        findings += _pod_findings(pod, name, obs.observed_at, version)
    if m is not None:
        findings += _member_findings(m, name, pod, leader.status, obs.observed_at)
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
        findings += _node_findings(node, name)
    if pod is not None or status is not None:
        source = "endpoint status" if status else f"image {pod.image}" if pod else ""
        findings += version_findings(version, member=name, source=source)
    checks = audit_flags(pod.command, version, member=name) if pod is not None and pod.command else None
    if checks is not None:
        findings += checks.findings
    log_keys = {k for k in (pod.name if pod else None, pod.node if pod else None) if k}
    if m is not None:
        log_keys |= {k for k in (m.name, m.member_id) if k}
    logs = _row_logs(log_keys, obs.log_findings, used_logs, name)
    member_hash = agreement.for_member(m.member_id) if agreement is not None and m is not None else None
    if member_hash is not None and agreement is not None:
        findings += _hash_findings(member_hash, agreement, name, pod, logs)
    if divergence is not None and m is not None and m.member_id in divergence.minority:
        findings.append(_divergence_finding(divergence, m.member_id, name))
    findings += logs

    lead = leader.status
    return MemberRow(
        key=pod.name if pod else f"member:{m.member_id if m else name}",
        name=name,
        pod=pod,
        member=m,
        node=node,
        version=version,
        version_risk=assess_version(version).tier,
        is_leader=bool(status and leader.member_id and status.member_id == leader.member_id),
        hash=member_hash,
        checks=checks,
        revision_lag=(lead.revision - status.revision) if lead and status else None,
        raft_lag=(lead.raft_applied_index - status.raft_applied_index) if lead and status else None,
        findings=tuple(_sorted(findings)),
    )


def _lag_findings(rows: Sequence[MemberRow], leader: _Leader) -> list[Finding]:
    return [
        Finding(
            "member.lagging",
            Severity.INFO,
            f"{r.name} is {r.raft_lag} raft entries behind the leader",
            r.name,
            {"raft_lag": r.raft_lag},
        )
        for r in rows
        if r.raft_lag is not None and r.raft_lag > FOLLOWER_LAG_INFO and r.member and not r.member.is_learner
    ]


def _no_majority_finding(agreement: HashAgreement, names_by_id: Mapping[str, str]) -> Finding:
    return Finding(
        "corruption.hash_mismatch",
        Severity.CRITICAL,
        f"members' KV hashes differ at revision {agreement.revision} and no majority hash exists: "
        "data has diverged, the damaged member cannot be named from hashes alone",
        None,
        {
            "revision": agreement.revision,
            "hashes": {names_by_id.get(h.member_id, h.member_id): h.hash for h in agreement.members},
        },
    )


def _alarm_findings(
    listed: Iterable[Alarm], statuses: Sequence[EndpointStatus], names_by_id: Mapping[str, str]
) -> list[Finding]:
    """Active alarms, from `alarm list` and from endpoint status `errors` (either may be missing)."""
    alarms = {(a.member_id, a.alarm) for a in listed}
    alarms |= {(a.member_id, a.alarm) for s in statuses for a in s.alarms}
    out: list[Finding] = []
    for member_id, alarm in sorted(alarms):
        who = names_by_id.get(member_id, member_id) if member_id != "0" else None
        by = f" on member {who}" if who else " (etcd names no member; compare hashes to find it)"
        fields = {"member_id": member_id}
        if alarm is AlarmType.CORRUPT:
            out.append(
                Finding(
                    "corruption.alarm_corrupt",
                    Severity.CRITICAL,
                    f"CORRUPT alarm active{by}: writes are refused",
                    who,
                    fields,
                )
            )
        elif alarm is AlarmType.NOSPACE:
            message = f"NOSPACE alarm active{by}: the database hit its quota, writes are refused"
            out.append(Finding("alarm.nospace", Severity.CRITICAL, message, who, fields))
        else:
            out.append(Finding("alarm.other", Severity.WARNING, f"unknown alarm active{by}", who, fields))
    return out


def _quorum(obs: RingObservation) -> _Quorum:
    """Voting members and how many answer; from pod readiness when etcdctl could not run."""
    if obs.members is not None:
        voting = [m for m in obs.members if not m.is_learner]
        alive, basis = sum(1 for m in voting if m.alive), ""
        count = len(voting)
    else:
        count = len(obs.pods)
        alive = sum(1 for p in obs.pods if p.phase == "Running" and p.ready)
        basis = " (inferred from pod readiness: etcdctl could not run)"
    return _Quorum(count, alive, quorum(count) if count else 0, basis)


def _quorum_findings(c: _Quorum) -> list[Finding]:
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


def _orphan_node_findings(obs: RingObservation, names_by_id: Mapping[str, str]) -> list[Finding]:
    """Control-plane nodes without an etcd pod (or member named after them)."""
    pod_nodes = {p.node for p in obs.pods}
    member_names = set(names_by_id.values())
    return [
        Finding("node.no_etcd_pod", Severity.WARNING, f"control-plane node {n.name} has no etcd pod", n.name)
        for n in obs.nodes
        if n.control_plane and n.name not in pod_nodes and n.name not in member_names
    ]


def _mixed_version_findings(rows: Sequence[MemberRow]) -> list[Finding]:
    versions = sorted({str(r.version) for r in rows if r.version})
    if len(versions) < 2:
        return []
    return [
        Finding(
            "version.mixed",
            Severity.INFO,
            f"members run different etcd versions: {', '.join(versions)}",
            None,
            {"versions": versions},
        )
    ]


def _hash_findings(
    h: MemberHash, agreement: HashAgreement, name: str, pod: PodObservation | None, logs: Sequence[Finding]
) -> list[Finding]:
    if h.verdict is HashVerdict.INCONCLUSIVE:
        return [
            Finding(
                "hash.inconclusive",
                Severity.INFO,
                f"hash of {name} not comparable: {h.reason}",
                name,
                {"revision": agreement.revision},
            )
        ]
    if h.verdict is HashVerdict.DISAGREES and h.member_id in agreement.minority:
        passed = any(f.kind == "check.initial_passed" for f in logs)
        note = ""
        if passed:
            note = "; etcd's initial check passed on this member after its restart, yet its data differs from its peers (etcd #13766 pattern)"
        elif pod is not None and pod.restarts > 0:
            note = f"; this member restarted {pod.restarts} time(s): a crash can lose committed writes on etcd 3.5.0–3.5.2 (etcd #13766)"
        return [
            Finding(
                "corruption.hash_mismatch",
                Severity.CRITICAL,
                f"{name}: KV hash differs from the majority at revision {agreement.revision}{note}",
                name,
                {
                    "revision": agreement.revision,
                    "hash": h.hash,
                    "majority_hash": agreement.majority_hash,
                    "member_id": h.member_id,
                },
            )
        ]
    return []


def _divergence_finding(d: RevisionDivergence, member_id: str | None, name: str | None) -> Finding:
    who = f"{name}: " if name else ""
    if d.confirmed:
        return Finding(
            "corruption.revision_divergence",
            Severity.CRITICAL,
            f"{who}{d.summary}: members that applied the same entries hold different data (etcd #13766 pattern)",
            name,
            {"applied_index": d.applied_index, "revisions": dict(d.revisions), "member_id": member_id},
        )
    return Finding(
        "ring.revision_divergence_suspected",
        Severity.INFO,
        f"{who}{d.summary}; rechecking on the next poll",
        name,
        {"applied_index": d.applied_index, "revisions": dict(d.revisions), "member_id": member_id},
    )


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first; at equal severity corruption evidence leads."""
    return sorted(findings, key=lambda f: (-int(f.severity), not f.is_corruption))
