"""The newest backup etcdtui knows of, and its age: directory scans and pure functions (no cluster adapters).

Light on purpose: the ring view's BACKUP line imports it at startup; taking a snapshot (engine/backups.py,
engine/backup_shelf.py) pulls in the ssh and Kubernetes adapters only when it is asked for. "Known" backups are
the snapshot files in etcdtui's own backup directory (where `etcdtui backup` and the procedures write) and in the
context's configured one (`contexts.<name>.backups.dir` in config.yaml, e.g. where a restic restore lands).

etcdtui's own directory holds the snapshots of every context it has backed up, each named after its context: a
context knows only its own there. Another cluster's snapshot must never be shown as this one's backup, let alone
be offered for restoring this cluster after a loss of quorum.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from etcdtui.engine.context_settings import ClusterSettings
from etcdtui.engine.replace_journal import state_dir

if TYPE_CHECKING:
    from etcdtui.engine.snapshot import MemberRow, RingSnapshot

SNAPSHOT_SUFFIXES = (".db", ".snapshot")
_TIMESTAMP = "%Y%m%dT%H%M%S"
_STAMPED = r"\d{8}T\d{6}\.db"


def backup_file_stem(context: str) -> str:
    """`etcd-snapshot-<context>-`: the start of the names of a context's snapshots in etcdtui's own directory
    (characters that do not belong in a file name, like the `/` of an EKS ARN, become `_`)."""
    return "etcd-snapshot-" + re.sub(r"[^A-Za-z0-9._@-]", "_", context) + "-"


def backup_file_name(context: str, now: float | None = None) -> str:
    return f"{backup_file_stem(context)}{time.strftime(_TIMESTAMP, time.localtime(now))}.db"


@dataclass(frozen=True)
class BackupPlace:
    """A directory of snapshots; `context` set: only that context's snapshots by etcdtui's naming count there
    (`prod`'s stem is a prefix of `prod-eu`'s names, hence the timestamp in the match)."""

    directory: Path
    context: str | None = None

    @cached_property
    def _own_names(self) -> re.Pattern[str] | None:
        """Built once per place, not once per file scanned."""
        return None if self.context is None else re.compile(re.escape(backup_file_stem(self.context)) + _STAMPED)

    def holds(self, name: str) -> bool:
        if self._own_names is None:
            return name.endswith(SNAPSHOT_SUFFIXES) and not name.endswith(".part")
        return self._own_names.fullmatch(name) is not None


def own_backup_dir(explicit_state_dir: Path | None = None) -> Path:
    """Where etcdtui's snapshots go: `$XDG_STATE_HOME/etcdtui/replace/backups` (the replace procedure's too)."""
    return state_dir(explicit_state_dir) / "backups"


def healthy_source(snap: RingSnapshot, exclude_node: str | None = None) -> MemberRow | None:
    """The member to snapshot: healthy, with a pod and a member ID, not `exclude_node`; the leader first."""
    rows = [r for r in snap.rows if r.pod and r.healthy and r.member_id and r.node_name != exclude_node]
    return min(rows, key=lambda r: (not r.is_leader, r.key)) if rows else None


@dataclass(frozen=True)
class KnownBackup:
    path: Path
    mtime: float  # seconds since the epoch
    size: int

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.mtime)


def newest_backup(places: Sequence[Path | BackupPlace]) -> KnownBackup | None:
    """The most recent snapshot file (*.db, *.snapshot) directly in any of `places` (missing ones are skipped);
    a bare path counts every snapshot file in it."""
    best: KnownBackup | None = None
    for place in places:
        where = place if isinstance(place, BackupPlace) else BackupPlace(place)
        try:
            entries = list(os.scandir(where.directory))
        except OSError:
            continue
        for entry in entries:
            if not where.holds(entry.name):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if entry.is_file() and st.st_size > 0 and (best is None or st.st_mtime > best.mtime):
                best = KnownBackup(Path(entry.path), st.st_mtime, st.st_size)
    return best


def format_age(seconds: float) -> str:
    """`42s`, `7m`, `3h12m`, `2d4h`: the age of a backup for a narrow column."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


@dataclass(frozen=True)
class BackupAge:
    newest: KnownBackup | None
    dirs: tuple[Path, ...]  # where etcdtui looked
    max_age_s: float

    def stale(self, now: float) -> bool:
        """No backup known, or the newest is older than the context's threshold."""
        return self.newest is None or self.newest.age(now) > self.max_age_s


def backup_places(context: str, settings: ClusterSettings,
                  explicit_state_dir: Path | None = None) -> tuple[BackupPlace, ...]:
    """`context`'s snapshots in etcdtui's own directory, and every snapshot in the context's configured one."""
    configured = settings.backups.dir
    return (BackupPlace(own_backup_dir(explicit_state_dir), context),
            *([BackupPlace(Path(configured))] if configured else []))


def look(context: str, settings: ClusterSettings, explicit_state_dir: Path | None = None) -> BackupAge:
    """Scan the directories (blocking: call it in a thread)."""
    places = backup_places(context, settings, explicit_state_dir)
    return BackupAge(newest_backup(places), tuple(p.directory for p in places), settings.backups.max_age_s)
