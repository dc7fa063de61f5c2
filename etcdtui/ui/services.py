"""Everything the UI uses from the layers below, in one typed, frozen object handed to the app factory.

A command (`etcdtui`, `etcdtui replace NODE`) builds one `Services` on a live cluster (`ui/session.py`); the
snapshot tests and the screenshots build one on fixed data and fakes. Screens never reach past it: they ask
the app (`ui/navigation.py`), and the app reads its `Services`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from etcdtui.engine.context_settings import ClusterSettings
from etcdtui.ui.config import UiConfig
from etcdtui.ui.source import SnapshotSource

if TYPE_CHECKING:  # typing only: the UI starts without importing the adapters it may never use
    from etcdtui.cluster.backup import BackupResult
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.core.checklist import Checklist
    from etcdtui.core.logstore import LogStore
    from etcdtui.engine.backup_age import BackupAge
    from etcdtui.engine.checks import (
        ChecksReport,
        EnableOutcome,
        OutputCallback,
        PlanCallback,
        ProgressCallback,
    )
    from etcdtui.engine.checks_kubeadm import ConfirmEdit
    from etcdtui.engine.replace import Interaction, Outcome, ReplaceSettings

Hints = Mapping[str, tuple[bool | None, str | None]]  # pod → (is leader, etcd version) from the ring view


class ChecksBackend(Protocol):
    """What the checks screen needs; `etcdtui.engine.checks.ChecksService` is the real one."""

    @property
    def context(self) -> str: ...

    async def report(self, hints: Hints | None = None) -> ChecksReport: ...

    async def enable(
        self, *, on_output: OutputCallback, on_plan: PlanCallback, on_progress: ProgressCallback,
        hints: Hints | None = None,
    ) -> EnableOutcome: ...


@runtime_checkable
class ManifestChecksBackend(Protocol):
    """The checks screen on a kubeadm cluster: `etcdtui.engine.checks_kubeadm_service.KubeadmChecksService`."""

    @property
    def context(self) -> str: ...

    async def report(self, hints: Hints | None = None) -> ChecksReport: ...

    async def enable_by_manifests(
        self, *, on_output: OutputCallback, on_progress: ProgressCallback, confirm: ConfirmEdit,
        hints: Hints | None = None,
    ) -> EnableOutcome: ...


class LogSource(Protocol):
    """What the logs screen needs; `etcdtui.engine.log_engine.LogEngine` is the real one."""

    store: LogStore

    def stream_summary(self) -> list[tuple[str, str, str]]: ...

    def history_progress(self) -> dict[str, tuple[int, int, bool]]: ...

    def cancel_history(self) -> None: ...


class ProcedureLock(Protocol):
    def release(self) -> None: ...


class ProcedureRunner(Protocol):
    """What the replace screen needs; `etcdtui.engine.replace.ReplaceProcedure` is the real one."""

    checklist: Checklist
    resumed: bool

    @property
    def lock(self) -> ProcedureLock: ...

    async def open(self) -> None: ...

    async def run(self) -> Outcome: ...

    async def close(self) -> None: ...

    def abandon(self) -> None: ...


ProcedureFactory = Callable[["ReplaceSettings", "Interaction"], ProcedureRunner]


class BackupBackend(Protocol):
    """What the backup line and `b` need; `etcdtui.engine.backup_shelf.BackupShelf` is the real one."""

    def look(self) -> BackupAge: ...

    def source(self) -> str | None: ...

    async def take(self, on_progress: Callable[[int, float], None]) -> BackupResult: ...


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """The app's inputs. Only `ring` is required (fixed data needs nothing else).

    `conn` is the live cluster (None for fixed data: logs, checks and replace then say they need one). `checks`,
    `logs`, `procedures` and `backups` replace the real engines (tests, screenshots); left None, the app builds the real
    ones on `conn` and owns their lifecycle.
    """

    ring: SnapshotSource
    conn: ClusterConnection | None = None
    context_label: str | None = None
    readonly: bool = False
    config: UiConfig = field(default_factory=UiConfig)
    clock: Callable[[], datetime] = _now
    namespace: str = "kube-system"
    selector: str = "component=etcd"
    settings: ClusterSettings = ClusterSettings()  # the context's kubeone and ssh settings (resolved)
    replace_state_dir: Path | None = None  # journals and locks (None: the XDG state dir)
    checks: ChecksBackend | ManifestChecksBackend | None = None
    logs: LogSource | None = None
    procedures: ProcedureFactory | None = None
    backups: BackupBackend | None = None

    @property
    def flavour(self) -> str | None:
        """`kubeone` or `kubeadm` for a live cluster (the context's flavour, else a kubeone manifest configured)."""
        if self.conn is None:
            return None
        from etcdtui.engine.flavour import decide

        return decide(self.settings).name

    @property
    def context(self) -> str | None:
        """The label shown everywhere: explicit, else the connection's, else fixed data's own."""
        if self.context_label:
            return self.context_label
        if self.conn is not None:
            return self.conn.context
        latest = self.ring.latest
        return latest.context if latest else None


def hints_of(ring: SnapshotSource) -> Hints:
    """Leader and etcd version per pod from the ring view's latest snapshot (etcdctl knows them best)."""
    snap = ring.latest
    return {r.pod_name: (r.is_leader, r.version) for r in snap.rows if r.pod_name} if snap else {}
