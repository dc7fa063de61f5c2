"""Output of a running command (local or over ssh) as events: batches of lines, prompts, the result.

An `OutputPump` turns raw bytes from one or more streams into events for exactly one consumer:
`OutputBatch` (complete decoded lines, at most every `batch_interval`; non-UTF-8 bytes replaced),
`PromptEvent` (an unterminated line matching a prompt regex after `prompt_quiet` seconds of silence) and
finally `Finished`. Every buffer is bounded: producers pause reading while `max_pending_bytes` wait to be
batched (the child then blocks on its full pipe: nothing is lost), and batches a slow consumer has not taken
beyond `max_queued_bytes` are dropped oldest first, counted in bytes on the next batch and in the result.
A `Transcript` keeps the argv, timestamps and the last lines (optionally a 0600 file).

Within one batching interval, batches of different streams go out in the order their output arrived.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import shlex
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

# kubeone's exact prompt (pkg/confirmation/confirm.go), then common yes/no and password prompts.
KUBEONE_PROMPT = r"Do you want to proceed \(yes/no\): ?$"
DEFAULT_PROMPT_PATTERNS: tuple[str, ...] = (
    KUBEONE_PROMPT,
    r"\((?:yes/no|y/n)\)\s*[:?]?\s*$",
    r"\[(?:y/N|Y/n|y/n|yes/no)\]\s*[:?]?\s*$",
    r"(?i)password[^:\n]*:\s*$",
)

_ANSI_RE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


class RunnerError(Exception):
    """A command could not be started or driven; the message is one line for the operator."""


class CommandNotFoundError(RunnerError):
    pass


# -- events and results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputBatch:
    """Complete lines from one stream (`pty`, `stdout` or `stderr`) since the previous batch.

    `partial` is the current unterminated line (shown as provisional; it reappears in `lines` once complete).
    `dropped_bytes` counts output lost since the previous batch because a buffer was full.
    """

    stream: str
    lines: tuple[str, ...]
    partial: str
    raw_bytes: int
    dropped_bytes: int = 0


@dataclass(frozen=True)
class PromptEvent:
    """The command waits for input: `text` is the unterminated line that matched a prompt pattern."""

    stream: str
    text: str


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    where: str  # "local" or "user@host:port"
    exit_code: int | None  # None when killed by a signal or the connection was lost
    signal: int | None
    duration_s: float
    started_at: float  # epoch seconds
    cancelled: bool = False
    dropped_bytes: int = 0
    error: str | None = None  # e.g. "connection to ... lost while running ..."

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None and not self.cancelled

    def describe(self) -> str:
        if self.error:
            outcome = self.error
        elif self.signal is not None:
            outcome = f"killed by {_signal_name(self.signal)}"
        else:
            outcome = f"exited with {self.exit_code}"
        if self.cancelled:
            outcome = f"cancelled, {outcome}"
        return f"`{shlex.join(self.argv)}` {outcome} after {self.duration_s:.1f} s"


@dataclass(frozen=True)
class Finished:
    result: CommandResult


Event = OutputBatch | PromptEvent | Finished


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


# -- limits, line cleaning, transcript -------------------------------------------------------------


@dataclass(frozen=True)
class StreamLimits:
    batch_interval: float = 0.05  # at most one batch per stream per interval
    prompt_quiet: float = 0.15  # silence before an unterminated line may be a prompt
    max_pending_bytes: int = 4 * 1024 * 1024  # raw bytes read but not decoded: readers pause beyond this
    max_queued_bytes: int = 16 * 1024 * 1024  # batches the consumer has not taken yet
    max_line_chars: int = 64 * 1024  # an unterminated line longer than this is cut
    transcript_lines: int = 5000
    transcript_file_max_bytes: int = 32 * 1024 * 1024
    drain_after_exit: float = 1.0  # a grandchild may keep the output open after the child exits


DEFAULT_LIMITS = StreamLimits()


def clean_line(line: str, strip_ansi: bool = True) -> str:
    """PTY lines end in `\\r`; a bare `\\r` means "overwrite" (progress bars): keep what a terminal shows."""
    line = line.rstrip("\r")
    if "\r" in line:
        line = line.rsplit("\r", 1)[1]
    if strip_ansi and "\x1b" in line:
        line = _ANSI_RE.sub("", line)
    return line


@dataclass(frozen=True)
class TranscriptEntry:
    offset_s: float  # seconds since the command started
    kind: str  # stream name, "prompt", "answer" or "event"
    text: str


class Transcript:
    """The last `max_lines` entries in memory, optionally everything (up to a cap) in a 0600 file."""

    def __init__(
        self, argv: Sequence[str], where: str, limits: StreamLimits, path: Path | None = None
    ) -> None:
        self.argv = tuple(argv)
        self.where = where
        self.started_at = time.time()
        self._t0 = time.monotonic()
        self.entries: deque[TranscriptEntry] = deque(maxlen=limits.transcript_lines)
        self.dropped_entries = 0
        self._path = path
        self._file_max = limits.transcript_file_max_bytes
        self._file_written = 0
        self._file_truncated = False
        self._unwritten: list[str] = []
        self._fd: int | None = None
        self.add(
            "event",
            f"started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.started_at))} "
            f"on {where}: {shlex.join(self.argv)}",
        )

    def add(self, kind: str, text: str) -> None:
        self.add_many(kind, (text,))

    def add_many(self, kind: str, lines: Sequence[str]) -> None:
        offset = time.monotonic() - self._t0
        overflow = len(self.entries) + len(lines) - (self.entries.maxlen or 0)
        if overflow > 0:
            self.dropped_entries += overflow
        if len(lines) > (self.entries.maxlen or 0):
            lines = lines[-(self.entries.maxlen or 0) :]
        self.entries.extend(TranscriptEntry(offset, kind, line) for line in lines)
        if self._path is not None and not self._file_truncated:
            self._unwritten.extend(f"[+{offset:9.3f}s] {kind}: {line}\n" for line in lines)

    def tail(self, n: int) -> list[str]:
        return [e.text for e in list(self.entries)[-n:]]

    def render(self) -> str:
        head = f"[{self.dropped_entries} earlier entries dropped]\n" if self.dropped_entries else ""
        return head + "".join(f"[+{e.offset_s:9.3f}s] {e.kind}: {e.text}\n" for e in self.entries)

    async def flush_file(self) -> None:
        """Write pending entries off the event loop (a slow disk must not freeze the UI)."""
        if self._path is None or not self._unwritten:
            return
        chunk, self._unwritten = "".join(self._unwritten), []
        try:
            await asyncio.to_thread(self._write, chunk)
        except OSError as exc:
            # A full disk or a bad path must not stop the command: keep the in-memory transcript only.
            self._file_truncated = True
            self.entries.append(
                TranscriptEntry(
                    time.monotonic() - self._t0,
                    "event",
                    f"transcript file {self._path}: {exc.strerror}; no longer written",
                )
            )

    async def close_file(self) -> None:
        await self.flush_file()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.close, fd)

    def _write(self, chunk: str) -> None:
        assert self._path is not None
        if self._fd is None:
            # 0600 from the start (the output may contain anything), and no following of symlinks.
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            os.fchmod(self._fd, 0o600)
        data = chunk.encode("utf-8", "replace")
        if self._file_written + len(data) > self._file_max:
            data = data[: max(0, self._file_max - self._file_written)] + b"\n[transcript truncated]\n"
            self._file_truncated = True
        os.write(self._fd, data)
        self._file_written += len(data)


# -- the pump: raw bytes in, events out ------------------------------------------------------------


class _StreamState:
    def __init__(self) -> None:
        self.raw = bytearray()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.partial = ""
        self.last_data_at = 0.0
        self.first_pending_at = 0.0  # batches of one flush go out in the order their output arrived
        self.prompted_for: str | None = None  # the partial line a PromptEvent was already sent for
        self.gap = False  # bytes were dropped since the last decode


class OutputPump:
    """Batches raw output of several streams into events for exactly one consumer.

    Producers call `feed()` from reader callbacks (cheap, never awaits). `run()` is the batching task.
    """

    def __init__(
        self,
        streams: Sequence[str],
        transcript: Transcript,
        limits: StreamLimits = DEFAULT_LIMITS,
        prompt_patterns: Sequence[str] = DEFAULT_PROMPT_PATTERNS,
        strip_ansi: bool = True,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._streams = {name: _StreamState() for name in streams}
        self._limits = limits
        self._prompts = [re.compile(p) for p in prompt_patterns]
        self._strip_ansi = strip_ansi
        self.transcript = transcript
        self._pending = 0
        self.max_pending_seen = 0  # for tests and benchmarks: the raw buffer's high-water mark
        self._space = asyncio.Event()
        self._space.set()
        self._wake = asyncio.Event()
        self._closing = False
        self._queue: deque[Event] = deque()
        self._queued_bytes = 0
        self._queue_ready = asyncio.Event()
        self._dropped_unreported = 0
        self.dropped_bytes = 0
        self._consumed = False
        self._task = asyncio.create_task(self._run(), name="output-pump")

    # producers -----------------------------------------------------------------------------------
    def feed(self, stream: str, data: bytes) -> None:
        st = self._streams[stream]
        now = self._loop.time()
        if not st.raw:
            st.first_pending_at = now
        st.raw += data
        st.last_data_at = now
        self._pending += len(data)
        self.max_pending_seen = max(self.max_pending_seen, self._pending)
        if self._pending >= self._limits.max_pending_bytes:
            self._space.clear()  # producers should stop reading until the next flush (backpressure)
            if self._pending > 2 * self._limits.max_pending_bytes:
                self._drop_oldest(st)  # a producer that ignores backpressure loses its oldest output
        self._wake.set()

    def has_space(self) -> bool:
        return self._pending < self._limits.max_pending_bytes

    async def wait_for_space(self) -> None:
        await self._space.wait()

    def _drop_oldest(self, st: _StreamState) -> None:
        # Keep the newest output (what the operator needs to see), cut at a line boundary when possible.
        excess = self._pending - self._limits.max_pending_bytes
        cut = min(excess, len(st.raw))
        newline = st.raw.find(b"\n", cut)
        if 0 <= newline < len(st.raw) - 1:
            cut = newline + 1
        del st.raw[:cut]
        self._pending -= cut
        self._count_dropped(cut)
        st.gap = True

    def _count_dropped(self, n: int) -> None:
        self.dropped_bytes += n
        self._dropped_unreported += n

    def record(self, kind: str, text: str) -> None:
        self.transcript.add(kind, text)

    async def close(self) -> None:
        """All producers are done: flush what is left (unterminated lines included) and stop batching."""
        self._closing = True
        self._wake.set()
        await self._task

    async def finish(self, result: CommandResult) -> None:
        """After `close()`: record the outcome, close the transcript file, then hand out `Finished`."""
        self.transcript.add("event", result.describe())
        await self.transcript.close_file()
        self._enqueue(Finished(result))

    # the batching task ---------------------------------------------------------------------------
    async def _run(self) -> None:
        last_flush = float("-inf")
        while not self._closing:
            timeout = self._prompt_deadline()
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            delay = last_flush + self._limits.batch_interval - self._loop.time()
            if delay > 0 and not self._closing:
                await asyncio.sleep(delay)
            last_flush = self._loop.time()
            self._flush(final=False)
            self._space.set()
            self._detect_prompts()
            await self.transcript.flush_file()
        self._flush(final=True)
        self._space.set()
        await self.transcript.flush_file()

    def _prompt_deadline(self) -> float | None:
        deadlines = [
            st.last_data_at + self._limits.prompt_quiet - self._loop.time()
            for st in self._streams.values()
            if st.partial and st.prompted_for != st.partial and self._looks_like_prompt(st.partial)
        ]
        return max(0.0, min(deadlines)) if deadlines else None

    def _looks_like_prompt(self, text: str) -> bool:
        text = clean_line(text, self._strip_ansi)
        return any(p.search(text) for p in self._prompts)

    def _detect_prompts(self) -> None:
        now = self._loop.time()
        for name, st in self._streams.items():
            if (
                st.partial
                and not st.raw
                and st.prompted_for != st.partial
                and now - st.last_data_at >= self._limits.prompt_quiet - 0.005
                and self._looks_like_prompt(st.partial)
            ):
                st.prompted_for = st.partial
                text = clean_line(st.partial, self._strip_ansi)
                self.transcript.add("prompt", text)
                self._enqueue(PromptEvent(name, text))

    def _flush(self, final: bool) -> None:
        for name, st in sorted(self._streams.items(), key=lambda item: item[1].first_pending_at):
            if not st.raw and not (final and st.partial):
                continue
            data = bytes(st.raw)
            st.raw.clear()
            self._pending -= len(data)
            lines: list[str] = []
            if st.gap:
                st.gap = False
                if st.partial:
                    lines.append(st.partial)
                st.partial = ""
                st.decoder.reset()
                lines.append("[… output dropped: the reader could not keep up …]")
            text = st.partial + st.decoder.decode(data, final=final)
            parts = text.split("\n")
            partial = parts.pop()
            if "\r" in text or (self._strip_ansi and "\x1b" in text):
                parts = [clean_line(p, self._strip_ansi) for p in parts]
            lines.extend(parts)
            if len(partial) > self._limits.max_line_chars:
                lines.append(partial)
                partial = ""
            if final and partial:
                lines.append(clean_line(partial, self._strip_ansi))
                partial = ""
            st.partial = partial
            if st.prompted_for is not None and st.prompted_for != partial:
                st.prompted_for = None
            if lines:
                self.transcript.add_many(name, lines)
            self._enqueue(OutputBatch(name, tuple(lines), clean_line(partial, self._strip_ansi), len(data)))

    # the queue and its consumer ------------------------------------------------------------------
    def _enqueue(self, ev: Event) -> None:
        if isinstance(ev, OutputBatch):
            limit = self._limits.max_queued_bytes
            while self._queued_bytes + ev.raw_bytes > limit and self._drop_oldest_batch():
                pass
            self._queued_bytes += ev.raw_bytes
        self._queue.append(ev)
        self._queue_ready.set()

    def _drop_oldest_batch(self) -> bool:
        for i, old in enumerate(self._queue):
            if isinstance(old, OutputBatch):
                del self._queue[i]
                self._queued_bytes -= old.raw_bytes
                self._count_dropped(old.raw_bytes)
                return True
        return False

    async def events(self) -> AsyncIterator[Event]:
        """The events, once: batches, prompts, then one `Finished`."""
        if self._consumed:
            raise RunnerError("the events of a command can be consumed only once")
        self._consumed = True
        while True:
            while not self._queue:
                self._queue_ready.clear()
                await self._queue_ready.wait()
            ev = self._queue.popleft()
            if isinstance(ev, OutputBatch):
                self._queued_bytes -= ev.raw_bytes
                if self._dropped_unreported:
                    ev = replace(ev, dropped_bytes=self._dropped_unreported)
                    self._dropped_unreported = 0
            yield ev
            if isinstance(ev, Finished):
                return
