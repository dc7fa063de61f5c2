"""A command running on a node over ssh: live output events, answers to prompts, cancel — like a local command."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncssh

from etcdtui.cluster.command_output import (
    CommandResult,
    Event,
    OutputPump,
    StreamLimits,
    Transcript,
)
from etcdtui.cluster.ssh_target import (
    SshError,
    SshTarget,
    failure_reason,
    hop_role,
)

_READ_SIZE = 64 * 1024


class RemoteCommand:
    """A command running on a node: `events()`, `wait()`, `answer()`, `cancel()` like a local command."""

    def __init__(
        self,
        target: SshTarget,
        where: str,
        argv: tuple[str, ...],
        command: str,
        proc: asyncssh.SSHClientProcess[bytes],
        limits: StreamLimits,
        prompt_patterns: Sequence[str],
        transcript_path: Path | None,
        pty: bool,
        stdin: bool,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stdin_open = stdin
        self.argv = argv
        self.command = command
        self.role = hop_role(target, target.hop, False)
        self._where = where
        self._proc = proc
        self._t0 = self._loop.time()
        self._cancelled = False
        self._lost: str | None = None
        streams = ["pty"] if pty else ["stdout", "stderr"]
        self.transcript = Transcript(argv, where, limits, transcript_path)
        self._pump = OutputPump(streams, self.transcript, limits, prompt_patterns)
        readers: list[tuple[str, Any]] = [(streams[0], proc.stdout)]
        if not pty:
            readers.append(("stderr", proc.stderr))
        self._readers = [asyncio.create_task(self._read(name, r)) for name, r in readers]
        self._abandoned: str | None = None
        self._done: asyncio.Future[CommandResult] = self._loop.create_future()
        self._collector = asyncio.create_task(self._collect())
        self._supervisor = asyncio.create_task(self._supervise())

    async def _read(self, stream: str, reader: asyncssh.SSHReader[bytes]) -> None:
        try:
            while data := await reader.read(_READ_SIZE):
                self._pump.feed(stream, data)
                if not self._pump.has_space():
                    await self._pump.wait_for_space()  # backpressure: sshd's window fills up, no loss
        except (asyncssh.Error, OSError) as exc:
            self._note_lost(exc)

    def _note_lost(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = f"connection to {self.role} lost while running `{self.command}`: {failure_reason(exc)}"

    async def _collect(self) -> tuple[int | None, tuple[str, bool, str, str] | None]:
        await asyncio.gather(*self._readers)
        try:
            completed = await self._proc.wait(check=False)
        except (asyncssh.Error, OSError) as exc:
            self._note_lost(exc)
            return None, None
        return completed.exit_status, completed.exit_signal

    async def _supervise(self) -> None:
        exit_status: int | None = None
        exit_signal: tuple[str, bool, str, str] | None = None
        try:
            exit_status, exit_signal = await self._collector
        except asyncio.CancelledError:
            if self._abandoned is None:  # the supervisor itself is being cancelled (shutdown)
                raise
        finally:
            duration = self._loop.time() - self._t0
            if self._abandoned is not None:
                error: str | None = self._abandoned
            elif exit_signal is None and (exit_status is None or exit_status < 0):
                # The channel closed without an exit status: the connection (or sshd) died under us.
                error = self._lost or f"connection to {self.role} lost while running `{self.command}`"
            else:
                error = None
            await self._pump.close()
            result = CommandResult(
                argv=self.argv,
                where=self._where,
                exit_code=exit_status if error is None and exit_signal is None else None,
                signal=_signal_number(exit_signal[0]) if exit_signal else None,
                duration_s=duration,
                started_at=self.transcript.started_at,
                cancelled=self._cancelled,
                dropped_bytes=self._pump.dropped_bytes,
                error=error,
            )
            await self._pump.finish(result)
            self._done.set_result(result)

    def events(self) -> AsyncIterator[Event]:
        return self._pump.events()

    async def wait(self) -> CommandResult:
        return await asyncio.shield(self._done)

    async def answer(self, text: str, *, secret: bool = False) -> None:
        if self._done.done() or not self._stdin_open:
            raise SshError(
                f"cannot answer `{self.command}`: it has no input (start it with stdin=True) or has finished"
            )
        try:
            self._proc.stdin.write((text + "\n").encode())
            await self._proc.stdin.drain()
        except (asyncssh.Error, OSError) as exc:
            raise SshError(f"cannot answer `{self.command}` on {self.role}: {failure_reason(exc)}") from None
        self._pump.record("answer", "<hidden>" if secret else text)

    async def close_input(self) -> None:
        """End of input (EOF on the command's stdin), e.g. after writing a file's content to `tee`."""
        if self._stdin_open:
            self._stdin_open = False
            with contextlib.suppress(asyncssh.Error, OSError):
                self._proc.stdin.write_eof()

    async def cancel(self, grace: float = 3.0) -> CommandResult:
        """Stop the command: a TERM signal request, then closing the channel, then giving up waiting.

        OpenSSH refuses signal requests for root sessions ("session signalling requires privilege
        separation") and cannot signal a command running under sudo; closing the channel hangs up a remote
        terminal (SIGHUP), so start commands that may need stopping with `pty=True`. Without a terminal
        the command may keep running on the node: the result says so in `error`.
        """
        if self._done.done():
            return self._done.result()
        self._cancelled = True
        self._pump.record("event", "cancel: TERM signal request")
        with contextlib.suppress(asyncssh.Error, OSError):
            self._proc.send_signal("TERM")
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.wait(), grace)
        self._pump.record("event", "cancel: closing the channel")
        self._proc.close()
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.wait(), grace)
        self._abandoned = (
            f"stopped waiting for `{self.command}` on {self.role}: sshd could not signal it "
            "and it has no terminal to hang up, so it may still be running there"
        )
        self._collector.cancel()
        return await self.wait()


def _signal_number(name: str) -> int | None:
    with contextlib.suppress(KeyError):
        return int(signal.Signals["SIG" + name.removeprefix("SIG")])
    return None
