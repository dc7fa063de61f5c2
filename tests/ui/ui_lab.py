"""A real lab for the UI tests and scripts: `etcdtui lab up --dir` in a temporary directory, `lab down` after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
