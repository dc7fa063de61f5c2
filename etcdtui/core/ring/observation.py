"""What was seen of the ring: pods, nodes, etcd members (joined from etcdctl answers), alarms and log findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from etcdtui.core.etcdctl import (
    Alarm,
    EndpointHash,
    EndpointHealth,
    EndpointStatus,
    MemberList,
)
from etcdtui.core.findings import Finding
from etcdtui.core.ring.urls import url_key


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
    health_by_url = {url_key(h.endpoint): h for h in healths}
    result = []
    for m in member_list.members:
        health = next((health_by_url[k] for k in map(url_key, m.client_urls) if k in health_by_url), None)
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
