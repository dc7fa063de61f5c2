"""The checks screen's backend on a kubeadm-flavoured context: the same audit, "Enable" by manifest edits.

The pods, logs and backups are read exactly as for KubeOne (`ChecksService`); there is no kubeone to find, and
"Enable" is `checks_kubeadm.enable_on_kubeadm` (each member's `/etc/kubernetes/manifests/etcd.yaml` edited over
ssh, one at a time, the gate between, every write confirmed through `confirm`). Afterwards the pods are re-read
until the restarted members log `enabled corruption checking`, for the before/after table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from etcdtui.cluster.kube import ClusterError
from etcdtui.engine.checks import ChecksService
from etcdtui.engine.checks_audit import Hints, wait_restarted
from etcdtui.engine.checks_kubeadm import (
    ConfirmEdit,
    KubeadmEnableOutcome,
    KubeadmEnableRefused,
    enable_on_kubeadm,
)
from etcdtui.engine.checks_kubeone_enable import RESTART_TIMEOUT
from etcdtui.engine.checks_results import (
    ENABLED,
    FAILED,
    ChecksReport,
    EnableOutcome,
    EnableRefused,
    MemberChecks,
    OutputCallback,
    ProgressCallback,
    member_changes,
)
from etcdtui.engine.flavour import KUBEADM, NodeSsh
from etcdtui.engine.kubeadm_context import no_kubeone

OUTPUT_KEEP_LINES = 400


class KubeadmChecksService:
    def __init__(self, checks: ChecksService, ring: Any, node_ssh: NodeSsh) -> None:
        self.checks = checks
        self.ring = ring  # the ring engine: the gate polls it (`fresh_snapshot`)
        self.node_ssh = node_ssh

    @property
    def context(self) -> str:
        return self.checks.context

    async def report(self, hints: Hints | None = None) -> ChecksReport:
        members_task = asyncio.ensure_future(self.checks.audit(hints))
        backups = await self.checks.backups()
        try:
            members, error = await members_task, None
        except ClusterError as exc:
            members, error = [], exc.message
        return ChecksReport(tuple(members), no_kubeone(), backups, time.time(), error, flavour=KUBEADM)

    async def enable_by_manifests(
        self, *, on_output: OutputCallback, on_progress: ProgressCallback, confirm: ConfirmEdit,
        hints: Hints | None = None, restart_timeout: float = RESTART_TIMEOUT,
    ) -> EnableOutcome:
        """Raises EnableRefused (one line) when nothing was changed because a member is unhealthy."""
        before = await self.checks.audit(hints)
        kept: list[str] = []
        started = time.monotonic()

        def output(line: str) -> None:
            kept.append(line)
            del kept[:-OUTPUT_KEEP_LINES]
            on_output([line])

        try:
            outcome = await enable_on_kubeadm(self.ring, self.node_ssh, on_output=output, on_progress=on_progress,
                                              confirm=confirm)
        except KubeadmEnableRefused as exc:
            raise EnableRefused(str(exc)) from None
        # The leader may have moved during the restarts: keep only the versions from the hints.
        fresh = {pod: (None, version) for pod, (_, version) in (hints or {}).items()}
        restarted = _restarted(before, outcome)
        if outcome.ok and restarted:
            on_progress("waiting for the restarted members to log `enabled corruption checking`")
            after = await wait_restarted(self.checks.pods, restarted, fresh, restart_timeout, on_progress, started)
        else:
            after = await self.checks.audit(fresh)
        report = ChecksReport(tuple(after), no_kubeone(), await self.checks.backups(), time.time(), flavour=KUBEADM)
        changes = member_changes(before, after)
        tail = tuple(kept[-40:])
        if not outcome.ok:
            return EnableOutcome(FAILED, outcome.message, None, None, changes, report, tail)
        off = [m.pod for m in after if not (m.audit.initial and m.audit.periodic)]
        if off:
            return EnableOutcome(FAILED, f"manifests edited but the checks are still off on {', '.join(off)}", None,
                                 None, changes, report, tail)
        return EnableOutcome(ENABLED, outcome.message, None, None, changes, report, tail)


def _restarted(before: Sequence[MemberChecks], outcome: KubeadmEnableOutcome) -> list[MemberChecks]:
    """The members whose manifest was written (the kubelet restarted them)."""
    written = {e.node for e in outcome.edits if e.changed}
    return [m for m in before if m.node in written]
