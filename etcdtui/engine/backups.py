"""Backups: the snapshot the replace procedure takes (step 3), as a procedure of its own.

`take_backup` picks a healthy member (the leader first, never `exclude_node`), finds its node's ssh target
exactly as the replace procedure does (kubeone.yaml/tf.json, or the Node's InternalIP on kubeadm; host keys
verified) and calls the snapshot
adapter (`cluster.backup.snapshot_save`: `etcdctl snapshot save` in the pod, streamed over ssh into a local
0600 file, checked with `etcdutl snapshot status`). Which backups etcdtui knows of, and their age:
engine/backup_age.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from etcdtui.cluster.backup import BackupError, BackupResult, snapshot_save
from etcdtui.cluster.ssh import connect
from etcdtui.cluster.ssh_target import SshError, SshHostKeyError
from etcdtui.engine.backup_age import backup_file_name, healthy_source, own_backup_dir
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.node_reach import flavour_of, node_ssh_target

if TYPE_CHECKING:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.snapshot import RingSnapshot

def new_own_backup_path(context: str, explicit_state_dir: Path | None = None) -> Path:
    """A new file name in etcdtui's backup directory; the directory and its parent are created 0700."""
    directory = own_backup_dir(explicit_state_dir)
    for d in (directory.parent, directory):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / backup_file_name(context)


async def take_backup(
    conn: ClusterConnection,
    snap: RingSnapshot,
    *,
    kubeone: KubeOneSettings,
    dest: Path,
    ssh: SshSettings | None = None,
    namespace: str = "kube-system",
    exclude_node: str | None = None,
    on_progress: Callable[[int, float], None] = lambda _size, _elapsed: None,
    flavour: str | None = None,
) -> BackupResult:
    """Snapshot a healthy member into `dest` (0600, must not exist). Raises BackupError (one line).

    `flavour` is the context's setting (None: detected); on kubeadm the node is reached at its InternalIP."""
    row = healthy_source(snap, exclude_node)
    if row is None or row.pod is None or not row.node_name:
        raise BackupError("no healthy etcd member to take the snapshot from"
                          + (f" (other than {exclude_node})" if exclude_node else ""))
    target, problems = await node_ssh_target(conn, snap, row.node_name, kubeone, ssh,
                                             flavour=flavour_of(kubeone, ssh, flavour), namespace=namespace)
    if target is None:
        why = next((p for p in problems if "host" in p or "known_hosts" in p or "kubeone" in p), None)
        raise BackupError(f"no ssh way to {row.node_name}, where {row.pod.name} runs: "
                          f"{why or (problems[0] if problems else 'no kubeone.yaml/tf.json host')}")
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True, mode=0o700)
    try:
        async with await connect(target) as node_ssh:
            return await snapshot_save(conn, healthy_pod=row.pod.name, namespace=namespace, dest=dest,
                                       on_progress=on_progress, ssh=node_ssh)
    except SshHostKeyError as exc:
        raise BackupError(f"host key verification failed for {row.node_name}: {exc}") from None
    except SshError as exc:
        raise BackupError(f"ssh to {row.node_name}: {exc}") from None
