"""Starting and stopping a lab: the daemon started detached and waited for (every member healthy, the API
answering), retried when a port picked free was taken meanwhile; stopped with every process and port it used
gone, its files removed. The command line (`etcdtui lab ...`) is lab/cli.py; benchmarks and tests call these.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import etcdtui
from etcdtui.lab.control_client import ControlError, request
from etcdtui.lab.etcd_binary import EtcdNotFound, resolve_etcd
from etcdtui.lab.lab_process import is_lab_process, process_alive, read_pid
from etcdtui.lab.layout import DEFAULT_NAME, LabLayout, valid_lab_name
from etcdtui.lab.ports import PortInUse, accepts_connections, ensure_free

UP_TIMEOUT = 30.0
DOWN_TIMEOUT = 20.0
ERROR_FILE = "lab.error"
VALID_MEMBERS = (1, 3, 5, 7)
# Everything the lab writes in its directory (removed by `down` unless --keep-data).
LAB_ENTRIES = ("kubeconfig", "ssh_config", "known_hosts", "kubeone.yaml", "tf.json", "bin", "lab.json", "lab.pid",
               "lab.log", "lab.error", "control.sock", "pki", "ssh", "nodes", "logs", "serviceaccount",
               "kubeadm")
RUNTIME_ENTRIES = ("lab.json", "lab.pid", "control.sock", "lab.error")


class LabCliError(Exception):
    """A one-line error for the user."""


# == starting =============================================================================================
START_ATTEMPTS = 3  # a port picked free can be taken by another process before etcd binds it


def start_lab(root: Path, **options: Any) -> dict[str, Any]:
    """Start a lab daemon in `root` and return its state (lab.json) once it is ready; raise LabCliError.

    Ports are checked free when picked, but another lab starting at the same moment (or any process) may bind
    one before etcd does: that start is cleaned up and retried with fresh ports, never reported as a failure.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_lab_once(root, **options)
        except LabCliError as exc:
            if "address already in use" not in str(exc) or attempt == START_ATTEMPTS or options.get("api_port"):
                raise
    raise AssertionError("unreachable")


def _start_lab_once(
    root: Path, *, members: int = 3, corrupt_checks: str = "off", etcd: str | None = None, api_port: int = 0,
    bastion: bool = True, within: float = UP_TIMEOUT, quota_backend_bytes: int = 0, name: str = DEFAULT_NAME,
    flavour: str = "kubeone",
) -> dict[str, Any]:
    if not valid_lab_name(name):
        raise LabCliError(f"invalid --name {name!r}: lowercase letters, digits and '-', at most 32 characters")
    if members not in VALID_MEMBERS:
        raise LabCliError(f"invalid --members {members}: use an odd number from 1 to 7 (3 or 5 are usual)")
    try:
        binaries = resolve_etcd(etcd)
        if api_port:
            ensure_free("127.0.0.1", api_port)
    except (EtcdNotFound, PortInUse) as exc:
        raise LabCliError(str(exc)) from None
    root = root.expanduser().resolve()
    layout = LabLayout(root)
    existed = root.exists() and any(root.iterdir())
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    _claim(layout)
    # A lab does not resume: files of an earlier lab here (`down --keep-data`, a crashed daemon) are replaced.
    for entry in LAB_ENTRIES:
        path = root / entry
        if entry == "lab.pid":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "etcdtui.lab.daemon", "--dir", str(root), "--members", str(members),
        "--corrupt-checks", corrupt_checks, "--api-port", str(api_port), "--bastion", "on" if bastion else "off",
        "--etcd", str(binaries.etcd), "--name", name, "--flavour", flavour,
    ]
    if quota_backend_bytes:
        argv += ["--quota-backend-bytes", str(quota_backend_bytes)]
    env = dict(os.environ)
    package_root = str(Path(etcdtui.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    log_fd = os.open(layout.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, start_new_session=True, env=env,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    layout.pid_file.write_text(f"{proc.pid}\n")
    try:
        return _wait_ready(layout, proc, within)
    except BaseException:
        _stop_daemon(layout, proc.pid)
        _reap_leftovers(root)
        _remove_files(layout, keep_data=False, keep_log=True)
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
        raise


def _claim(layout: LabLayout) -> None:
    """Refuse a second lab in the same directory; the pid file is created exclusively."""
    for _ in range(2):
        try:
            fd = os.open(layout.pid_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pid = read_pid(layout)
            if pid is not None and is_lab_process(pid):
                raise LabCliError(f"lab already running in {layout.root} (pid {pid})") from None
            layout.pid_file.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        return
    raise LabCliError(f"cannot claim {layout.pid_file}")


def _wait_ready(layout: LabLayout, proc: subprocess.Popen[bytes], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    error_file = layout.root / ERROR_FILE
    while time.monotonic() < deadline:
        if layout.state_file.exists():
            with contextlib.suppress(ValueError, OSError):
                return dict(json.loads(layout.state_file.read_text()))
        if proc.poll() is not None:
            reason = error_file.read_text().strip() if error_file.exists() else f"exit code {proc.returncode}"
            raise LabCliError(reason or "the lab daemon exited")
        time.sleep(0.05)
    raise LabCliError(f"the lab did not become ready within {within:.0f} s (see {layout.daemon_log})")


# == stopping =============================================================================================
def stop_lab(root: Path, *, keep_data: bool = False) -> list[int]:
    """Stop the lab in `root`; return the pids that had to be killed as leftovers (normally none)."""
    root = root.expanduser().resolve()
    layout = LabLayout(root)
    if not root.exists() or not any((root / e).exists() for e in LAB_ENTRIES):
        raise LabCliError(f"no lab in {root}")
    state: dict[str, Any] = {}
    with contextlib.suppress(ValueError, OSError):
        state = json.loads(layout.state_file.read_text())
    pid = read_pid(layout)
    if pid is not None and is_lab_process(pid):
        with contextlib.suppress(ControlError):
            request(layout, "POST", "/shutdown", limit_s=5.0)
        _stop_daemon(layout, pid)
    leftovers = _reap_leftovers(root)
    _wait_ports_closed([(str(h), int(p)) for h, p in state.get("ports", [])])
    _remove_files(layout, keep_data=keep_data, keep_log=keep_data)
    if not keep_data:
        with contextlib.suppress(OSError):
            root.rmdir()  # only if nothing else lives there
    return leftovers


def _stop_daemon(layout: LabLayout, pid: int) -> None:
    """SIGTERM, wait, then SIGKILL its whole process group (the daemon leads its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, DOWN_TIMEOUT):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)


def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (lab up's failure path)
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def lab_processes(root: Path) -> list[int]:
    """Processes this lab started: its daemon (`etcdtui.lab.daemon --dir ROOT`) and etcd/etcdctl runs on its files."""
    needle = str(root)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if not args:
            continue
        daemon = "etcdtui.lab.daemon" in args and needle in args
        member = Path(args[0]).name in ("etcd", "etcdctl") and any(needle + "/" in a for a in args[1:])
        if (daemon or member) and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _reap_leftovers(root: Path) -> list[int]:
    pids = lab_processes(root)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        _wait_gone(pid, 5.0)
    return pids


def _wait_ports_closed(ports: list[tuple[str, int]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while ports and time.monotonic() < deadline:
        ports = [(h, p) for h, p in ports if accepts_connections(h, p, 0.2)]
        if ports:
            time.sleep(0.1)


def _remove_files(layout: LabLayout, *, keep_data: bool, keep_log: bool) -> None:
    names = RUNTIME_ENTRIES if keep_data else LAB_ENTRIES
    for name in names:
        if keep_log and name == "lab.log":
            continue
        path = layout.root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# == command handlers =====================================================================================
