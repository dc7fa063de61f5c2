"""One member of the lab's ring: where it listens, what it runs, what is shown of it (MemberInfo), and the ring's errors."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from etcdtui.lab.ports import PortInUse, ensure_free, free_port
from etcdtui.lab.supervisor import Container

LAB_CHECK_INTERVAL = "5s"  # periodic corruption check when `--corrupt-checks on` (KubeOne uses 240m)


SNAPSHOT_COUNT = "10"  # a .snap file early, or the startup corruption check asks no peer (etcd-lab.md §4.4)


class RingError(Exception):
    """A ring operation failed (message is a one-line error for the user)."""


class UnknownNode(RingError):
    pass


def node_ip(index: int) -> str:
    return f"127.0.1.{index}"


def corrupt_check_flags(enabled: bool) -> list[str]:
    if not enabled:
        return []
    return ["--experimental-initial-corrupt-check=true", f"--experimental-corrupt-check-time={LAB_CHECK_INTERVAL}"]


@dataclass
class MemberInfo:
    node: str
    name: str
    member_id: str | None  # hex, as etcd logs it
    client_url: str
    peer_url: str
    client_port: int
    peer_port: int
    pid: int | None
    running: bool
    reset: bool
    data_dir: Path
    command: list[str]  # the kubeadm-style argv shown in the pod
    host_ip: str  # the node's own loopback address, 127.0.1.K (distinct per node)


@dataclass
class Member:
    node: str
    index: int
    ip: str
    client_port: int
    peer_port: int
    metrics_port: int
    data_dir: Path
    pki_dir: Path
    flags: list[str]
    initial_cluster: str = ""
    initial_state: str = "new"
    member_id: str | None = None
    reset: bool = False
    healthy: bool = False
    container: Container | None = None
    node_uid: str = ""

    @property
    def client_url(self) -> str:
        return f"https://{self.ip}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.ip}:{self.peer_port}"


def port_free_on(*hosts: str) -> int:
    """A port free on every host given (members listen on 127.0.0.1 and their node address)."""
    for _ in range(50):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                ensure_free(host, port)
        except PortInUse:
            continue
        return port
    raise PortInUse(f"no free port on {', '.join(hosts)}")


def last_fatal_message(log_path: Path) -> str | None:
    """The `msg` + `error` of the last fatal/error zap line in a CRI log file."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 64 * 1024))  # the tail is enough; logs can be large
            lines = fh.read().decode(errors="replace").splitlines()[-50:]
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        try:
            entry = json.loads(parts[3])
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("fatal", "panic", "error"):
            msg = str(entry.get("msg", ""))
            err = entry.get("error")
            return f"{msg}: {err}" if err else msg
    return None
