"""What the etcd pods say about their corruption checks: flags, version risk, log evidence, and backups.

Every etcd pod's flags (core `audit_flags`), its etcd version risk (core `assess_version`) and the evidence of
its current log (`checks_evidence`), read through the API with a byte budget per member; KubeOne's
backups-restic addon (CronJob `kube-system/etcd-s3-backup`) and its last success.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error
from etcdtui.cluster.objects import PodInfo, parse_time, pod_from_dict
from etcdtui.cluster.rawapi import get_raw
from etcdtui.core.flags import audit_flags
from etcdtui.core.versions import assess_version, parse_version
from etcdtui.engine.checks_evidence import LogEvidence, evidence_from_lines, unread
from etcdtui.engine.checks_results import BackupStatus, MemberChecks

LOG_HEAD_BYTES = 1 << 20  # the start of the current run: `enabled corruption checking`, the initial check
LOG_TAIL_LINES = 5000  # the recent end: the last `finished peer corruption check`
LOG_TAIL_BYTES = 2 << 20
API_TIMEOUT = 15.0
BACKUP_CRONJOB = "etcd-s3-backup"
BACKUP_NAMESPACE = "kube-system"

Hints = Mapping[str, tuple[bool | None, str | None]]  # pod → (is leader, etcd version) from the ring engine


class EtcdPodsAudit:
    def __init__(self, conn: ClusterConnection, *, namespace: str = "kube-system",
                 selector: str = "component=etcd") -> None:
        self.conn = conn
        self.namespace = namespace
        self.selector = selector

    async def list_pods(self) -> list[PodInfo]:
        doing = f"list pods in namespace {self.namespace}"
        try:
            resp = await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods", {"namespace": self.namespace},
                                 [("labelSelector", self.selector)], API_TIMEOUT)
            try:
                body = await resp.read()
                if resp.status != 200:
                    raise status_error(resp.status, self.conn.server, doing, "list pods")
            finally:
                resp.release()
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport error becomes one line
            raise self.conn.error(exc, doing, "list pods") from None
        items = json.loads(body).get("items") or []
        return sorted((pod_from_dict(item) for item in items), key=lambda p: p.name)

    async def audit(self, hints: Hints | None = None) -> list[MemberChecks]:
        pods = await self.list_pods()
        hints = hints or {}
        logs = await asyncio.gather(*(self.read_evidence(p.name) for p in pods))
        return [self._member(p, ev, *hints.get(p.name, (None, None))) for p, ev in zip(pods, logs, strict=True)]

    def _member(self, pod: PodInfo, logs: LogEvidence, is_leader: bool | None, version_text: str | None) -> MemberChecks:
        version = parse_version(version_text) or parse_version(pod.image_version)
        if is_leader is None and logs.periodic_passes:
            is_leader = True  # only the leader logs `finished peer corruption check`
        return MemberChecks(
            pod=pod.name, node=pod.node, uid=pod.uid, ready=pod.ready, status=pod.status_text,
            started_at=pod.started_at, is_leader=is_leader, version=version, risk=assess_version(version),
            audit=audit_flags(pod.command, version, member=pod.name), command=pod.command, logs=logs,
        )

    async def read_evidence(self, pod: str) -> LogEvidence:
        """The current container's log: its first MiB and its last lines, never more than 3 MiB in all."""
        try:
            head, head_full = await self._read_log(pod, [("limitBytes", LOG_HEAD_BYTES)], LOG_HEAD_BYTES)
            if head_full:
                return evidence_from_lines(pod, head.splitlines())
            tail, _ = await self._read_log(pod, [("tailLines", LOG_TAIL_LINES)], LOG_TAIL_BYTES)
        except ClusterError as exc:
            return unread(exc.message)
        start = evidence_from_lines(pod, _complete_lines(head), truncated=True)
        recent = evidence_from_lines(pod, tail.splitlines()[1:], truncated=True)  # first line may be cut
        return LogEvidence(
            read=True, lines=start.lines + recent.lines, truncated=True, enabled=start.enabled or recent.enabled,
            enabled_interval=start.enabled_interval or recent.enabled_interval, initial=start.initial,
            initial_detail=start.initial_detail, periodic_last_ts=recent.periodic_last_ts or start.periodic_last_ts,
            periodic_last_peers=recent.periodic_last_peers if recent.periodic_passes else start.periodic_last_peers,
            periodic_passes=max(start.periodic_passes, recent.periodic_passes),
            periodic_vacuous=max(start.periodic_vacuous, recent.periodic_vacuous),
        )

    async def _read_log(self, pod: str, query: list[tuple[str, Any]], budget: int) -> tuple[bytes, bool]:
        """(bytes, whole) where `whole` says the log ended before `budget` bytes."""
        doing = f"get the log of pod {self.namespace}/{pod}"
        try:
            resp = await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods/{name}/log",
                                 {"namespace": self.namespace, "name": pod}, query, API_TIMEOUT)
            try:
                if resp.status != 200:
                    raise status_error(resp.status, self.conn.server, doing, "get pods/log")
                chunks: list[bytes] = []
                size = 0
                while size < budget:
                    chunk = await resp.content.read(min(256 * 1024, budget - size))
                    if not chunk:
                        return b"".join(chunks), True
                    chunks.append(chunk)
                    size += len(chunk)
                return b"".join(chunks), False
            finally:
                resp.release()
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.conn.error(exc, doing, "get pods/log") from None

    async def backups(self) -> BackupStatus:
        doing = f"get cronjob {BACKUP_NAMESPACE}/{BACKUP_CRONJOB}"
        try:
            resp = await get_raw(self.conn.api, "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
                                 {"namespace": BACKUP_NAMESPACE, "name": BACKUP_CRONJOB}, [], API_TIMEOUT)
            try:
                body, status = await resp.read(), resp.status
            finally:
                resp.release()
        except Exception as exc:  # noqa: BLE001
            return BackupStatus(None, f"cannot tell: {self.conn.error(exc, doing, 'get cronjobs').message}")
        if status == 404:
            return BackupStatus(False, f"not deployed (no CronJob {BACKUP_NAMESPACE}/{BACKUP_CRONJOB}): "
                                       "KubeOne's backups-restic addon is off; take an etcd snapshot before surgery")
        if status != 200:
            return BackupStatus(None, f"cannot tell: {status_error(status, self.conn.server, doing, 'get cronjobs').message}")
        obj = json.loads(body)
        spec, st = obj.get("spec") or {}, obj.get("status") or {}
        last_ok, last_run = parse_time(st.get("lastSuccessfulTime")), parse_time(st.get("lastScheduleTime"))
        label = ((obj.get("metadata") or {}).get("labels") or {}).get("kubeone.io/addon")
        suspended = " (suspended)" if spec.get("suspend") else ""
        origin = "backups-restic addon" if label == "backups-restic" else "CronJob"
        detail = f"{origin} deployed{suspended}, schedule {spec.get('schedule', '?')}"
        return BackupStatus(True, detail, spec.get("schedule"), last_ok, last_run)


async def wait_restarted(
    pods: EtcdPodsAudit, before: Sequence[MemberChecks], hints: Hints | None,
    patience: float, on_progress: Callable[[str], None], started: float,
) -> list[MemberChecks]:
    """Until every pod is Ready in a new run whose log shows `enabled corruption checking` (or timeout)."""
    old_uids = {m.pod: (m.uid, m.started_at) for m in before}
    deadline = time.monotonic() + patience
    while True:
        after = await pods.audit(hints)
        waiting = [m.pod for m in after if not (m.ready and (m.uid, m.started_at) != old_uids.get(m.pod)
                                               and (m.logs.enabled or not m.audit.periodic))]
        if not waiting or time.monotonic() > deadline:
            return after
        on_progress(f"waiting for {', '.join(waiting)} (ready, new log) · {time.monotonic() - started:.0f} s")
        await asyncio.sleep(1.0)


def _complete_lines(block: bytes) -> list[bytes]:
    lines = block.splitlines()
    return lines if block.endswith(b"\n") else lines[:-1]

