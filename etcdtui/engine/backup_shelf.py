"""The backups of one cluster as the ring view sees them: the newest one and its age, and a snapshot taken now.

The same snapshot as `etcdtui backup` (`engine.backups.take_backup`: a healthy member, the leader first, streamed
over ssh into a 0600 file, verified with `etcdutl snapshot status`), written to etcdtui's own backup directory.
The adapters it needs are imported (off the event loop) the first time a snapshot is asked for: the ring view
builds this at startup for its BACKUP line, which only scans directories (engine/backup_age.py).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etcdtui.engine.backup_age import BackupAge, healthy_source, look
from etcdtui.engine.context_settings import ClusterSettings

if TYPE_CHECKING:
    from etcdtui.cluster.backup import BackupResult
    from etcdtui.cluster.kube import ClusterConnection


class BackupShelf:
    """What the ring view's BACKUP line and `b` use on a live cluster."""

    def __init__(self, conn: ClusterConnection, ring: Any, settings: ClusterSettings, *,
                 state_dir: Path | None = None, namespace: str = "kube-system") -> None:
        self.conn, self.ring, self.settings = conn, ring, settings
        self.state_dir, self.namespace = state_dir, namespace

    def look(self) -> BackupAge:
        return look(self.conn.context, self.settings, self.state_dir)

    def source(self) -> str | None:
        """The member the snapshot will come from, on the latest data (the dialog names it before asking)."""
        snap = self.ring.latest
        row = healthy_source(snap) if snap is not None else None
        return row.key if row is not None else None

    async def take(self, on_progress: Callable[[int, float], None]) -> BackupResult:
        """Raises `BackupError` (one line)."""
        backups, replace, checks = [await asyncio.to_thread(importlib.import_module, f"etcdtui.engine.{name}")
                                    for name in ("backups", "replace", "checks")]
        snap = await replace.fresh_snapshot(self.ring)
        dest = await asyncio.to_thread(backups.new_own_backup_path, self.conn.context, self.state_dir)
        result: BackupResult = await backups.take_backup(
            self.conn, snap, kubeone=checks.KubeOneSettings.of(self.settings.kubeone), dest=dest,
            ssh=self.settings.ssh, namespace=self.namespace, on_progress=on_progress, flavour=self.settings.flavour)
        return result
