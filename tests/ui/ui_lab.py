"""A real lab for the UI tests and scripts: `etcdtui lab up --dir` in a temporary directory, `lab down` after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ui_support import until


def lab_cli(root: Path, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdtui", "lab", *args[:1], "--dir", str(root), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def running_lab(root: Path, *up_args: str) -> Iterator[Path]:
    """Yields the lab's kubeconfig path."""
    done = lab_cli(root, "up", *up_args)
    if done.returncode != 0:
        raise RuntimeError(f"lab up failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    try:
        yield root / "kubeconfig"
    finally:
        lab_cli(root, "down")


def kubeadm_ssh_config(root: Path, config_home: Path) -> Path:
    """A config.yaml under `config_home` (use it as XDG_CONFIG_HOME) with the kubeadm lab's ssh settings
    (`contexts.etcdtui-lab.ssh`), as an operator of a kubeadm cluster writes them. Returns the file."""
    port = json.loads((root / "lab.json").read_text())["ssh"]["lab-cp-1"]["port"]
    path = config_home / "etcdtui" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(f"contexts:\n  etcdtui-lab:\n    ssh:\n      user: ubuntu\n      port: {port}\n"
                    f"      identity_file: {root / 'ssh' / 'id_ed25519'}\n      known_hosts: {root / 'known_hosts'}\n")
    return path


async def lab_app_ready(pilot: Any, app: Any) -> None:
    """The ring view on a fresh lab: three healthy members."""
    await until(pilot, "three healthy members", lambda: bool(
        app.ring.snapshot and sum(bool(r.healthy) for r in app.ring.snapshot.rows) == 3), 60)


async def take_backup_with_b(pilot: Any, app: Any) -> Any:
    """`b`, Enter on "Take snapshot", wait for the result; returns the dialog (still open: Esc closes it)."""
    from etcdtui.ui.screens.backup import BackupScreen

    await pilot.press("b")
    await until(pilot, "the backup dialog", lambda: isinstance(app.screen, BackupScreen), 10)
    backup = app.screen
    await pilot.press("enter")
    await until(pilot, "the snapshot", lambda: backup.result is not None or backup.error is not None, 90)
    assert backup.result is not None, backup.error
    return backup
