"""Is a lab running? Its daemon's pid file and /proc, shared by `lab` subcommands and `lab kubeconfig --all`."""

from __future__ import annotations

from pathlib import Path

from etcdtui.lab.layout import LabLayout


def process_alive(pid: int) -> bool:
    """Alive and not a zombie (a daemon started by this very process stays a zombie until reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(layout: LabLayout) -> int | None:
    try:
        return int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_lab_process(pid: int) -> bool:
    """A live process that is an etcdtui lab daemon (or an `etcdtui lab up` still starting one)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return process_alive(pid) and b"etcdtui" in cmdline
