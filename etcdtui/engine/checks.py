"""The corruption-checks audit and "enable them with KubeOne" (issue #6; kubeone-procedure §1, §2, §6, §9).

No Textual here: the screen (`etcdtui/ui/screens/checks.py`) calls `ChecksService` and renders its results.
`ChecksService` is the one object the screen and the replace procedure hold; the work is in modules of one idea:

* `checks_audit`: every etcd pod's flags, version risk and log evidence; KubeOne's backups CronJob.
* `checks_kubeone`: the `kubeone` binary, its version (≥ 1.4.1) and its files (`KubeOneSettings`).
* `checks_kubeone_enable`: `kubeone apply -m M -t T --force-upgrade` in a PTY, plan and prompt to a callback.
* `checks_results`: what they return (`MemberChecks`, `ChecksReport`, `EnableOutcome`, ...).
* `checks_kubeadm` / `checks_kubeadm_service`: the same "Enable" on a plain kubeadm cluster (manifest edits).
"""

from __future__ import annotations

import asyncio
import time

from etcdtui.cluster.kube import ClusterConnection, ClusterError
from etcdtui.cluster.objects import PodInfo
from etcdtui.engine.checks_audit import EtcdPodsAudit, Hints
from etcdtui.engine.checks_evidence import LogEvidence
from etcdtui.engine.checks_kubeone import CONFIGURED, KubeOneSettings, KubeOneTool
from etcdtui.engine.checks_kubeone_enable import RESTART_TIMEOUT, KubeOneEnable
from etcdtui.engine.checks_results import (
    CANCELLED,
    DECLINED,
    ENABLED,
    FAILED,
    BackupStatus,
    ChecksReport,
    EnableOutcome,
    EnableRefused,
    KubeOneFacts,
    MemberChange,
    MemberChecks,
    OutputCallback,
    PlanCallback,
    ProgressCallback,
)

__all__ = [
    "CANCELLED", "CONFIGURED", "DECLINED", "ENABLED", "FAILED", "BackupStatus", "ChecksReport", "ChecksService",
    "EnableOutcome", "EnableRefused", "KubeOneFacts", "KubeOneSettings", "MemberChange", "MemberChecks",
    "OutputCallback", "PlanCallback", "ProgressCallback",
]


class ChecksService:
    def __init__(
        self,
        conn: ClusterConnection,
        settings: KubeOneSettings,
        *,
        namespace: str = "kube-system",
        selector: str = "component=etcd",
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.namespace = namespace
        self.selector = selector
        self.pods = EtcdPodsAudit(conn, namespace=namespace, selector=selector)
        self.kubeone = KubeOneTool(settings)

    @property
    def context(self) -> str:
        return self.conn.context

    async def report(self, hints: Hints | None = None) -> ChecksReport:
        """Everything the screen shows. `hints`: pod → (is_leader, etcd version) from the ring engine."""
        members_task = asyncio.ensure_future(self.audit(hints))
        kubeone, backups = await asyncio.gather(self.kubeone_facts(), self.backups())
        try:
            members, error = await members_task, None
        except ClusterError as exc:
            members, error = [], exc.message
        return ChecksReport(tuple(members), kubeone, backups, time.time(), error)

    async def list_pods(self) -> list[PodInfo]:
        return await self.pods.list_pods()

    async def audit(self, hints: Hints | None = None) -> list[MemberChecks]:
        return await self.pods.audit(hints)

    async def read_evidence(self, pod: str) -> LogEvidence:
        return await self.pods.read_evidence(pod)

    async def backups(self) -> BackupStatus:
        return await self.pods.backups()

    async def kubeone_facts(self) -> KubeOneFacts:
        return await self.kubeone.facts()

    async def enable(
        self,
        *,
        on_output: OutputCallback,
        on_plan: PlanCallback,
        on_progress: ProgressCallback,
        hints: Hints | None = None,
        restart_timeout: float = RESTART_TIMEOUT,
    ) -> EnableOutcome:
        """Run `kubeone apply … --force-upgrade`; raises EnableRefused (one line) when it cannot start."""
        return await KubeOneEnable(self.pods, self.kubeone).run(
            on_output=on_output, on_plan=on_plan, on_progress=on_progress, hints=hints,
            restart_timeout=restart_timeout)
