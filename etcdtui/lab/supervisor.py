"""A kubelet-like supervisor for one container: run it, keep its logs, restart it with backoff when it dies.

Each run's stderr and stdout are written as CRI log lines (`<RFC3339Nano> stderr F <line>`) to
`<logs_dir>/<restartCount>.log`, the way the kubelet does, so the API server can serve `logs`, `--previous`,
timestamps and since-filters from the files alone. Lines longer than MAX_LINE and output past MAX_LOG_BYTES
per run are dropped and counted, so a chatty process cannot fill the disk or the daemon's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from etcdtui.lab.objects import ContainerRun, now_rfc3339

log = logging.getLogger(__name__)

MAX_LINE = 256 * 1024
MAX_LOG_BYTES = 32 * 1024 * 1024
BACKOFF_START = 1.0
BACKOFF_CAP = 10.0  # the real kubelet caps at 5 min; the lab must recover within a test's patience
BACKOFF_RESET_AFTER = 10.0  # a run that lasted this long resets the backoff (kubelet: 10 min)
STOP_GRACE = 10.0

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if the lab daemon dies, the kernel SIGKILLs its etcd members,
    # so a crashed daemon never leaves processes behind.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def cri_timestamp() -> str:
    ns = time.time_ns()
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


class Container:
    """One supervised container. `argv()` is asked afresh for every run, so a new command line takes effect."""

    def __init__(
        self,
        name: str,
        logs_dir: Path,
        argv: Callable[[], list[str]],
        on_change: Callable[[], None],
    ) -> None:
        self.name = name
        self.logs_dir = logs_dir
        self._argv = argv
        self._on_change = on_change
        self.restart_count = 0
        self.current: ContainerRun | None = None
        self.previous: ContainerRun | None = None
        self.waiting_reason: str | None = "ContainerCreating"
        self.proc: asyncio.subprocess.Process | None = None
        self.dropped_lines = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- state read by the ring -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    # -- control --------------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._supervise(), name=f"container-{self.name}")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop for good (no restart): SIGTERM, then SIGKILL after `grace` seconds."""
        self._stopping = True
        self._wake.set()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kill(self) -> None:
        """SIGKILL the current run; the supervisor restarts it after the backoff."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    # -- the loop -------------------------------------------------------------------------------------
    async def _supervise(self) -> None:
        backoff = BACKOFF_START
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._run_once()
            except OSError as exc:  # e.g. the log directory vanished: count it as a failed run, keep supervising
                log.error("container %s: run failed: %s", self.name, exc)
            if self._stopping:
                break
            backoff = BACKOFF_START if time.monotonic() - started >= BACKOFF_RESET_AFTER else backoff
            self.waiting_reason = "CrashLoopBackOff"
            self._on_change()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
            if not self._stopping:
                self.restart_count += 1
        self.waiting_reason = None
        self._on_change()

    async def _run_once(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{self.restart_count}.log"
        log_path.unlink(missing_ok=True)
        run = ContainerRun(container_id=secrets.token_hex(32), log_path=log_path, started_at=now_rfc3339())
        log_file = open(log_path, "ab", buffering=0)  # noqa: ASYNC230 - a local file, opened once per run
        try:
            argv = self._argv()
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    limit=MAX_LINE,
                    preexec_fn=_die_with_parent,
                )
            except OSError as exc:
                log_file.write(f"{cri_timestamp()} stderr F failed to start: {exc}\n".encode())
                self._finish(run, 128, "StartError")
                return
            if self.current is not None:
                self.previous = self.current
            self.current = run
            self.waiting_reason = None
            self._on_change()
            assert self.proc.stdout is not None and self.proc.stderr is not None
            written = [0]
            await asyncio.gather(
                self._pump(self.proc.stderr, "stderr", log_file, written),
                self._pump(self.proc.stdout, "stdout", log_file, written),
            )
            code = await self.proc.wait()
            self._finish(run, signal_exit_code(code), "Completed" if code == 0 else "Error")
        finally:
            log_file.close()

    def _finish(self, run: ContainerRun, exit_code: int, reason: str) -> None:
        run.finished_at = now_rfc3339()
        run.exit_code = exit_code
        run.reason = reason
        run.done.set()
        if self.current is not run:  # never started: keep the failed attempt visible as the current run
            self.previous, self.current = self.current, run
        self._on_change()

    async def _pump(self, stream: asyncio.StreamReader, name: str, out: BinaryIO, written: list[int]) -> None:
        write = out.write
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # longer than MAX_LINE: asyncio discarded it
                self.dropped_lines += 1
                continue
            if not line:
                return
            record = f"{cri_timestamp()} {name} F ".encode() + line.rstrip(b"\n") + b"\n"
            if written[0] + len(record) > MAX_LOG_BYTES:
                self.dropped_lines += 1
                continue
            written[0] += len(record)
            write(record)


def signal_exit_code(returncode: int) -> int:
    """asyncio reports death by signal N as -N; container runtimes report 128+N (SIGKILL -> 137)."""
    return 128 - returncode if returncode < 0 else returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
