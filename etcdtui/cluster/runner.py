"""Run a local program with live output: argv only (never a shell), pipes or a pseudo-terminal.

Why a PTY at all: `kubeone apply` refuses its `Do you want to proceed (yes/no): ` prompt unless stdin AND
stdout are terminals, and many programs block-buffer when writing to a pipe. In PTY mode the child gets the
slave as stdin/stdout/stderr in a new session; in pipe mode stdin is /dev/null or a pipe we own. The child
never inherits the app's terminal (it would steal keystrokes from Textual and change its terminal modes).

Output arrives as the events of `etcdtui.cluster.command_output` (shared with the ssh adapter):
`OutputBatch`, `PromptEvent`, then one `Finished` carrying the `CommandResult`.

Usage::

    cmd = await start_command(CommandSpec(("kubeone", "apply", "-m", m, "-t", t), pty=True))
    async with cmd:                      # leaving the block cancels a command still running
        async for ev in cmd.events():
            if isinstance(ev, PromptEvent):
                await cmd.answer("yes")
    result = await cmd.wait()

The transcript records argv verbatim: pass secrets through the environment, never in argv.

Known limit: the PTY is the child's stdin/stdout/stderr but not its controlling terminal (that would need
`preexec_fn`, unsafe with threads), so a program that opens `/dev/tty` itself gets ENXIO. kubeone does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import termios
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from etcdtui.cluster.argv import checked_argv
from etcdtui.cluster.command_output import (
    DEFAULT_LIMITS,
    DEFAULT_PROMPT_PATTERNS,
    KUBEONE_PROMPT,
    CommandNotFoundError,
    CommandResult,
    Event,
    Finished,
    OutputBatch,
    OutputPump,
    PromptEvent,
    RunnerError,
    StreamLimits,
    Transcript,
)

__all__ = [
    "DEFAULT_PROMPT_PATTERNS",
    "KUBEONE_PROMPT",
    "CommandNotFoundError",
    "CommandResult",
    "CommandSpec",
    "Event",
    "Finished",
    "LocalCommand",
    "OutputBatch",
    "PromptEvent",
    "RunnerError",
    "StreamLimits",
    "run_command",
    "start_command",
]

_READ_SIZE = 256 * 1024


# -- local commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandSpec:
    argv: tuple[str, ...]
    pty: bool = False
    env: Mapping[str, str] | None = None  # None: a copy of this process's environment
    extra_env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    term: str = "dumb"  # TERM for the child: no colours, no cursor games
    no_color: bool = False  # also set NO_COLOR=1
    stdin_pipe: bool = False  # pipe mode: give the child a stdin pipe for answers (else /dev/null)
    merge_stderr: bool = False  # pipe mode: one "stdout" stream for both
    prompt_patterns: tuple[str, ...] = DEFAULT_PROMPT_PATTERNS
    pty_size: tuple[int, int] = (50, 200)  # rows, columns
    kill_grace: float = 5.0  # SIGTERM, then SIGKILL after this many seconds


def build_env(spec: CommandSpec) -> dict[str, str]:
    env = dict(os.environ if spec.env is None else spec.env)
    env.update(spec.extra_env)
    env["TERM"] = spec.term
    if spec.no_color:
        env["NO_COLOR"] = "1"
    return env


def _resolve(program: str, env: Mapping[str, str], cwd: str | None) -> str:
    if "/" in program:
        # A relative path is relative to the child's working directory, as exec will see it.
        path = os.path.join(cwd, program) if cwd else program
        if not os.path.exists(path):
            raise CommandNotFoundError(f"{program}: no such file")
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            raise CommandNotFoundError(f"{program}: not an executable file")
        return path
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandNotFoundError(f"{program}: command not found on PATH")
    return found


async def start_command(
    spec: CommandSpec, *, limits: StreamLimits = DEFAULT_LIMITS, transcript_path: Path | None = None
) -> LocalCommand:
    """Start `spec.argv`; raises CommandNotFoundError/RunnerError with a one-line message."""
    argv = checked_argv(spec.argv, RunnerError)
    env = build_env(spec)
    executable = _resolve(argv[0], env, spec.cwd)
    child_fds: list[int] = []
    parent_fds: dict[str, int] = {}
    stdin_fd: int | None = None
    try:
        if spec.pty:
            master, slave = os.openpty()
            child_fds.append(slave)
            rows, cols = spec.pty_size
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            parent_fds["pty"] = master
            stdin_fd = master
            stdio: dict[str, int] = {"stdin": slave, "stdout": slave, "stderr": slave}
        else:
            out_r, out_w = os.pipe()
            parent_fds["stdout"] = out_r
            child_fds.append(out_w)
            stdio = {"stdout": out_w, "stderr": out_w}
            if not spec.merge_stderr:
                err_r, err_w = os.pipe()
                parent_fds["stderr"] = err_r
                child_fds.append(err_w)
                stdio["stderr"] = err_w
            if spec.stdin_pipe:
                in_r, in_w = os.pipe()
                child_fds.append(in_r)
                stdin_fd = in_w
                stdio["stdin"] = in_r
            else:
                stdio["stdin"] = subprocess.DEVNULL
        for fd in parent_fds.values():
            os.set_blocking(fd, False)
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)
        try:
            proc = await asyncio.create_subprocess_exec(
                executable,
                *argv[1:],
                **stdio,  # type: ignore[arg-type]
                env=env,
                cwd=spec.cwd,
                start_new_session=True,  # own process group: cancel signals all of it; no terminal signals
                close_fds=True,
            )
        except OSError as exc:
            raise RunnerError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    except BaseException:
        for fd in {*child_fds, *parent_fds.values(), *([stdin_fd] if stdin_fd is not None else [])}:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise
    for fd in child_fds:
        os.close(fd)
    return LocalCommand(spec, argv, proc, parent_fds, stdin_fd, limits, transcript_path)


class LocalCommand:
    """A started local command. Obtain it from `start_command()`."""

    def __init__(
        self,
        spec: CommandSpec,
        argv: tuple[str, ...],
        proc: asyncio.subprocess.Process,
        read_fds: dict[str, int],
        stdin_fd: int | None,
        limits: StreamLimits,
        transcript_path: Path | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.spec = spec
        self.argv = argv
        self.pid = proc.pid
        self._proc = proc
        self._limits = limits
        self._t0 = self._loop.time()
        self.transcript = Transcript(argv, "local", limits, transcript_path)
        self._pump = OutputPump(
            list(read_fds), self.transcript, limits, spec.prompt_patterns, strip_ansi=True
        )
        self._read_fds = dict(read_fds)
        self._stream_of = {fd: name for name, fd in read_fds.items()}
        self._paused = False
        self._resume_task: asyncio.Task[None] | None = None
        self._open_readers = set(read_fds.values())
        self._all_eof = asyncio.Event()
        self._stdin_fd = stdin_fd
        self._exited = False
        self._cancelled = False
        self._done: asyncio.Future[CommandResult] = self._loop.create_future()
        for name, fd in read_fds.items():
            self._loop.add_reader(fd, self._on_readable, fd, name)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"supervise-{proc.pid}")

    # reading ---------------------------------------------------------------------------------------
    def _on_readable(self, fd: int, stream: str) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO on a PTY master: every holder of the slave has closed it (the Linux way of saying EOF).
            if exc.errno not in (errno.EIO, errno.EBADF):
                self._pump.record("event", f"read error on {stream}: {exc.strerror}")
            data = b""
        if data:
            self._pump.feed(stream, data)
            if not self._pump.has_space() and not self._paused:
                self._pause_reading()
        else:
            self._stop_reading(fd)

    def _pause_reading(self) -> None:
        # Backpressure: the child blocks on a full pipe/PTY instead of us buffering without bound.
        self._paused = True
        for fd in self._open_readers:
            self._loop.remove_reader(fd)
        self._resume_task = asyncio.create_task(self._resume_reading())

    async def _resume_reading(self) -> None:
        await self._pump.wait_for_space()
        self._paused = False
        for fd in self._open_readers:
            self._loop.add_reader(fd, self._on_readable, fd, self._stream_of[fd])

    @property
    def max_buffered_bytes(self) -> int:
        """High-water mark of output read but not yet batched (bounded by `max_pending_bytes` + one read)."""
        return self._pump.max_pending_seen

    def _stop_reading(self, fd: int) -> None:
        if fd in self._open_readers:
            self._loop.remove_reader(fd)
            self._open_readers.discard(fd)
        if not self._open_readers:
            self._all_eof.set()

    async def _supervise(self) -> None:
        try:
            returncode = await self._proc.wait()
            self._exited = True
            duration = self._loop.time() - self._t0
            try:
                await asyncio.wait_for(self._all_eof.wait(), self._limits.drain_after_exit)
            except TimeoutError:
                self._pump.record("event", "output still open after exit (a background process holds it)")
            for fd in list(self._open_readers):
                self._stop_reading(fd)
            await self._pump.close()
            result = CommandResult(
                argv=self.argv,
                where="local",
                exit_code=returncode if returncode >= 0 else None,
                signal=-returncode if returncode < 0 else None,
                duration_s=duration,
                started_at=self.transcript.started_at,
                cancelled=self._cancelled,
                dropped_bytes=self._pump.dropped_bytes,
            )
            await self._pump.finish(result)
            self._done.set_result(result)
        except BaseException as exc:
            if not self._done.done():  # never leave wait() hanging
                self._done.set_exception(RunnerError(f"lost track of {self.argv[0]}: {exc!r}"))
            raise
        finally:
            self._close_fds()

    def _close_fds(self) -> None:
        fds = set(self._read_fds.values())
        if self._stdin_fd is not None:
            fds.add(self._stdin_fd)
            self._stdin_fd = None
        for fd in list(self._open_readers):
            self._stop_reading(fd)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._read_fds.clear()

    # public API ------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._done.done()

    def events(self) -> AsyncIterator[Event]:
        return self._pump.events()

    async def wait(self) -> CommandResult:
        return await asyncio.shield(self._done)

    async def answer(self, text: str, *, secret: bool = False) -> None:
        """Type `text` and Enter. `secret` keeps it out of the transcript."""
        fd = self._stdin_fd
        if fd is None or self._exited:
            raise RunnerError(f"cannot answer {self.argv[0]}: it has no input or has finished")
        await _write_all(self._loop, fd, (text + "\n").encode())
        self._pump.record("answer", "<hidden>" if secret else text)

    def close_stdin(self) -> None:
        """Pipe mode: send end-of-file to the child's stdin."""
        if self._stdin_fd is not None and not self.spec.pty:
            fd, self._stdin_fd = self._stdin_fd, None
            os.close(fd)

    async def cancel(self, grace: float | None = None) -> CommandResult:
        """SIGTERM to the whole process group, SIGKILL after `grace` seconds if anything is left."""
        if self._done.done():
            return self._done.result()
        grace = self.spec.kill_grace if grace is None else grace
        self._cancelled = True
        self._pump.record("event", f"cancel: SIGTERM to process group {self.pid}")
        self._signal_group(signal.SIGTERM)
        deadline = self._loop.time() + grace
        while self._loop.time() < deadline:
            if self._exited and not self._group_alive():
                break
            await asyncio.sleep(0.05)
        else:
            self._pump.record("event", f"cancel: SIGKILL to process group {self.pid} after {grace:g} s")
            self._signal_group(signal.SIGKILL)
        return await self.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    async def __aenter__(self) -> LocalCommand:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._done.done():
            await self.cancel()


async def _write_all(loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _set_if_pending, ready)
            try:
                await ready
            finally:
                loop.remove_writer(fd)
        except OSError as exc:
            raise RunnerError(f"cannot write to the command: {exc.strerror}") from None


async def run_command(
    spec: CommandSpec,
    *,
    on_batch: Callable[[OutputBatch], Awaitable[None] | None] | None = None,
    on_prompt: Callable[[PromptEvent], Awaitable[str | None]] | None = None,
    limits: StreamLimits = DEFAULT_LIMITS,
    transcript_path: Path | None = None,
) -> CommandResult:
    """Run to completion. `on_prompt` returns the answer, or None to cancel the command."""
    cmd = await start_command(spec, limits=limits, transcript_path=transcript_path)
    async with cmd:
        async for ev in cmd.events():
            if isinstance(ev, OutputBatch) and on_batch is not None:
                maybe = on_batch(ev)
                if maybe is not None:
                    await maybe
            elif isinstance(ev, PromptEvent):
                reply = await on_prompt(ev) if on_prompt is not None else None
                if reply is None:
                    await cmd.cancel()
                elif not cmd.done:
                    await cmd.answer(reply)
    return await cmd.wait()


def _set_if_pending(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
