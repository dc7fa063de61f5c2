"""What the command-line benchmarks share: a lab to run against (a running one, or a fresh one for the run)
and wall-clock timing of commands run as a user would (a new process each)."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


def compile_bytecode(*checkouts: str) -> None:
    """Byte-compile etcdtui (this one and any other checkout timed), as installing a wheel does. Without it, a
    run under PYTHONDONTWRITEBYTECODE=1 (set on these machines) compiles every edited module again in every
    process: 100-300 ms of a start-up, measured, that no installed etcdtui pays."""
    import compileall

    import etcdtui

    for root in [str(Path(etcdtui.__file__).parent), *(str(Path(c) / "etcdtui") for c in checkouts)]:
        compileall.compile_dir(root, quiet=1)


@contextlib.contextmanager
def lab_kubeconfig(running: str | None, prefix: str) -> Iterator[str]:
    """`running` when given (a lab's kubeconfig), else a fresh lab in a temp dir, stopped at the end."""
    if running is not None:
        yield running
        return
    from etcdtui.lab.lifecycle import start_lab, stop_lab

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp) / "lab"
        start_lab(root, bastion=False)
        try:
            yield str(root / "kubeconfig")
        finally:
            stop_lab(root)


def timed(argvs: Sequence[Sequence[str]], env: dict[str, str]) -> tuple[float, list[int]]:
    """Seconds to run the commands one after another, and their exit codes."""
    wall, _cpu, codes = timed_with_cpu(argvs, env)
    return wall, codes


def timed_with_cpu(argvs: Sequence[Sequence[str]], env: dict[str, str]) -> tuple[float, float, list[int]]:
    """Wall seconds, the commands' own CPU seconds (user + system), and their exit codes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    codes = [subprocess.run(list(argv), env=env, capture_output=True, check=False, timeout=120).returncode
             for argv in argvs]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, codes
