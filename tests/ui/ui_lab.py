"""A real lab for the UI tests and scripts: `etcdtui lab up --dir` in a temporary directory, `lab down` after."""

from __future__ import annotations

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
