"""`lab down` leaves nothing behind; bad input gives one clear line, exit 1, and nothing half-started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _lab_cli import etcdtui, one_line_error, wait_for
from conftest import RunningLab

from etcdtui.lab.lab_process import process_alive
from etcdtui.lab.lifecycle import lab_processes
from etcdtui.lab.ports import accepts_connections

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_down_leaves_no_process_and_no_port(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab()
    pids = [lab.state["pid"], *(p for p in lab.state["etcd_pids"].values() if p)]
    ports = [(str(h), int(p)) for h, p in lab.state["ports"]]
    assert len(pids) == 4 and all(process_alive(p) for p in pids)
    assert all(accepts_connections(h, p) for h, p in ports)

    result = etcdtui("lab", "down", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    assert "leftover" not in result.stderr  # the daemon stopped everything itself
    assert not [p for p in pids if process_alive(p)]
    assert not [hp for hp in ports if accepts_connections(*hp)]
    assert not lab_processes(lab.root)
    assert not lab.root.exists()


def test_down_keep_data_keeps_files(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab(members=1)
    assert etcdtui("lab", "down", "--keep-data", "--dir", str(lab.root)).returncode == 0
    assert (lab.root / "kubeconfig").exists() and lab.layout.etcd_data_dir("lab-cp-1").is_dir()
    assert not lab.layout.control_socket.exists() and not lab_processes(lab.root)
    assert etcdtui("lab", "down", "--dir", str(lab.root)).returncode == 0
    assert not lab.root.exists()


def test_unknown_node_is_one_line(lab: RunningLab) -> None:
    for command in ("kill", "corrupt"):
        line = one_line_error(etcdtui("lab", command, "lab-cp-9", "--dir", str(lab.root)))
        assert line.endswith("unknown node 'lab-cp-9' (lab nodes: lab-cp-1, lab-cp-2, lab-cp-3)")


def test_second_up_on_same_dir_is_refused(lab: RunningLab) -> None:
    line = one_line_error(etcdtui("lab", "up", "--dir", str(lab.root)))
    assert f"lab already running in {lab.root} (pid {lab.state['pid']})" in line
    assert etcdtui("lab", "status", "--dir", str(lab.root)).returncode == 0  # the first lab is untouched


def test_missing_etcd_binary(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    line = one_line_error(etcdtui("lab", "up", "--dir", str(root), "--etcd", str(tmp_path / "no-etcd")))
    assert "etcd binary not found" in line
    assert not root.exists() and not lab_processes(root)


def test_api_port_in_use(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(etcdtui("lab", "up", "--dir", str(root), "--api-port", str(port)))
    assert f"port 127.0.0.1:{port} is already in use" in line
    assert not root.exists() and not lab_processes(root)


def test_port_taken_while_starting_leaves_nothing(tmp_path: Path) -> None:
    """The daemon's own check (the port is taken after the CLI looked): still one line, nothing left."""
    root = tmp_path / "lab"
    root.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = subprocess.run(
            [sys.executable, "-m", "etcdtui.lab.daemon", "--dir", str(root), "--members", "1",
             "--api-port", str(port)],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert daemon.returncode == 1
    assert (root / "lab.error").read_text().strip() == f"port 127.0.0.1:{port} is already in use"
    assert not lab_processes(root)


@pytest.mark.parametrize("members", ["4", "0", "9"])
def test_invalid_member_count(tmp_path: Path, members: str) -> None:
    line = one_line_error(etcdtui("lab", "up", "--dir", str(tmp_path / "lab"), "--members", members))
    assert f"invalid --members {members}" in line
    assert not (tmp_path / "lab").exists()


def test_commands_without_a_lab(tmp_path: Path) -> None:
    for args in (("status",), ("kill", "lab-cp-1"), ("down",), ("api-outage", "1")):
        line = one_line_error(etcdtui("lab", *args, "--dir", str(tmp_path / "none")))
        assert "no lab" in line


def test_crashed_daemon_takes_its_members_along(fresh_lab: Callable[..., RunningLab]) -> None:
    """SIGKILL the daemon: the kernel kills its etcd members (PDEATHSIG); `down` cleans up; `up` works again."""
    lab = fresh_lab(members=1)
    members = [p for p in lab.state["etcd_pids"].values() if p]
    os.kill(lab.state["pid"], signal.SIGKILL)
    wait_for(lambda: not any(process_alive(p) for p in members), within=10, what="members die with the daemon")
    assert not lab_processes(lab.root)

    again = etcdtui("lab", "up", "--dir", str(lab.root), "--members", "1")
    assert again.returncode == 0, again.stderr
    assert etcdtui("lab", "status", "--dir", str(lab.root)).returncode == 0
    result = etcdtui("lab", "down", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    assert not lab.root.exists() and not lab_processes(lab.root)
