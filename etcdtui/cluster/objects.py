"""Immutable views of the Kubernetes objects etcdtui cares about, built from the API's raw JSON dicts.

Raw dicts (not the generated models) because the watch hands us `raw_object` anyway and dicts keep the
adapter independent of the client library's model classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def parse_time(value: object) -> datetime | None:
    """RFC 3339 timestamps as the API server writes them (`2026-11-24T11:25:00Z`)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    ready: bool
    restarts: int
    state: str  # running / waiting / terminated / unknown
    reason: str | None  # e.g. CrashLoopBackOff, Error, Completed
    started_at: datetime | None
    last_exit_code: int | None
    last_reason: str | None
    last_finished_at: datetime | None
    image: str | None


@dataclass(frozen=True)
class PodInfo:
    name: str
    namespace: str
    uid: str
    node: str | None  # spec.nodeName
    phase: str  # status.phase (Pending, Running, Failed, ...)
    ready: bool  # condition Ready == True
    pod_ip: str | None
    host_ip: str | None
    created_at: datetime | None
    deleting: bool
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    containers: tuple[ContainerInfo, ...] = ()
    command: tuple[str, ...] = ()  # command + args of the etcd container (the pod's own etcd flags)
    image: str | None = None
    resource_version: str = ""
    deletion_timestamp: datetime | None = None

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)

    @property
    def status_text(self) -> str:
        """What `kubectl get pods` prints in STATUS: a waiting/terminated reason wins over the phase."""
        if self.deleting:
            return "Terminating"
        for c in self.containers:
            if c.state != "running" and c.reason:
                return c.reason
        return self.phase

    @property
    def started_at(self) -> datetime | None:
        starts = [c.started_at for c in self.containers if c.started_at]
        return min(starts) if starts else None

    @property
    def image_version(self) -> str | None:
        """The tag of the etcd image (`registry.k8s.io/etcd:3.5.1-0` -> `3.5.1`), a hint until etcdctl answers."""
        if not self.image or ":" not in self.image.rsplit("/", 1)[-1]:
            return None
        tag = self.image.rsplit(":", 1)[1].lstrip("v")
        return tag.split("-", 1)[0] or None


@dataclass(frozen=True)
class NodeInfo:
    name: str
    uid: str
    addresses: tuple[tuple[str, str], ...]  # (type, address) as in status.addresses
    kubelet_version: str | None
    ready: bool | None  # None when the node reports no Ready condition
    unschedulable: bool
    control_plane: bool
    labels: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    resource_version: str = ""

    def address(self, kind: str = "InternalIP") -> str | None:
        for typ, addr in self.addresses:
            if typ == kind:
                return addr
        return None


def _container_info(status: Obj, image: str | None) -> ContainerInfo:
    state_obj = status.get("state") or {}
    state, reason, started = "unknown", None, None
    for name in ("running", "waiting", "terminated"):
        if name in state_obj and state_obj[name] is not None:
            state = name
            detail = state_obj[name] or {}
            reason = detail.get("reason")
            started = parse_time(detail.get("startedAt"))
            break
    last = (status.get("lastState") or {}).get("terminated") or {}
    return ContainerInfo(
        name=str(status.get("name", "")),
        ready=bool(status.get("ready")),
        restarts=int(status.get("restartCount") or 0),
        state=state,
        reason=reason,
        started_at=started,
        last_exit_code=last.get("exitCode"),
        last_reason=last.get("reason"),
        last_finished_at=parse_time(last.get("finishedAt")),
        image=status.get("image") or image,
    )


def pod_from_dict(obj: Obj) -> PodInfo:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    containers = spec.get("containers") or []
    etcd = next((c for c in containers if c.get("name") == "etcd"), containers[0] if containers else {})
    images = {c.get("name"): c.get("image") for c in containers}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return PodInfo(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        uid=str(meta.get("uid", "")),
        node=spec.get("nodeName"),
        phase=str(status.get("phase") or "Unknown"),
        ready=ready,
        pod_ip=status.get("podIP"),
        host_ip=status.get("hostIP"),
        created_at=parse_time(meta.get("creationTimestamp")),
        deleting=bool(meta.get("deletionTimestamp")),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        containers=tuple(
            _container_info(cs, images.get(cs.get("name"))) for cs in status.get("containerStatuses") or []
        ),
        command=tuple(str(a) for a in [*(etcd.get("command") or []), *(etcd.get("args") or [])]),
        image=etcd.get("image"),
        resource_version=str(meta.get("resourceVersion", "")),
        deletion_timestamp=parse_time(meta.get("deletionTimestamp")),
    )


def node_from_dict(obj: Obj) -> NodeInfo:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    ready: bool | None = None
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return NodeInfo(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        addresses=tuple((str(a.get("type")), str(a.get("address"))) for a in status.get("addresses") or []),
        kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion"),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        control_plane="node-role.kubernetes.io/control-plane" in labels
        or "node-role.kubernetes.io/master" in labels,
        labels=labels,
        created_at=parse_time(meta.get("creationTimestamp")),
        resource_version=str(meta.get("resourceVersion", "")),
    )
