"""The journal side of a checklist procedure, shared by the defragment procedure (and meant for replace).

A procedure keeps its `Checklist` (core) and appends each transition to its `Journal` from one writer thread
(fsync never blocks the event loop; FIFO keeps the order), telling the UI after each change. `_flush()` waits
until everything written so far is on disk: called before any action that must be resumable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from etcdtui.core.checklist import Checklist, StepStatus
from etcdtui.engine.replace_journal import Journal, ProcedureLock

OUTPUT_FLUSH_S = 1.0  # a running step's output tail is journaled at most this often


class ChecklistRun:
    def __init__(self, checklist: Checklist, journal: Journal, lock: ProcedureLock,
                 notify: Callable[[int | None], None], clock: Callable[[], float] = time.time) -> None:
        self.checklist = checklist
        self.journal = journal
        self.lock = lock
        self.notify = notify
        self.clock = clock
        self._last_flush = 0.0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{journal.procedure}-journal")

    def write(self, record: dict[str, Any]) -> None:
        self._io.submit(self.journal.append, record)

    async def flush(self) -> None:
        await asyncio.wrap_future(self._io.submit(lambda: None))

    async def close_journal(self) -> None:
        await self.flush()
        self._io.shutdown(wait=False)
        self.lock.release()

    async def finish_procedure(self, outcome: str) -> None:
        """The procedure ended well: journal the end, keep the journal as a record (archived)."""
        self.write(self.checklist.end(outcome, self.clock()))
        await self.flush()
        await asyncio.to_thread(self.journal.archive)
        self.notify(None)

    def abandon(self) -> None:
        self.write(self.checklist.end("abandoned", self.clock()))
        self._io.submit(self.journal.discard)

    def start_step(self, step: int, commands: Sequence[str], confirmation: str | None = None) -> None:
        if self.checklist.step(step).status is StepStatus.FAILED:
            self.checklist.step(step).status = StepStatus.PENDING  # a retry
        self.write(self.checklist.start(step, commands, self.clock(), confirmation))
        self.notify(step)

    def finish_step(self, step: int, note: str | None = None) -> None:
        self.write(self.checklist.finish(step, self.clock(), note))
        self.notify(step)

    def skip_step(self, step: int, reason: str) -> None:
        self.write(self.checklist.skip(step, reason, self.clock()))
        self.notify(step)

    def fail_step(self, step: int, reason: str) -> None:
        s = self.checklist.step(step)
        if s.status is not StepStatus.RUNNING:
            self.start_step(step, s.commands)
        self.write(self.checklist.fail(step, reason.splitlines()[0] if reason else "failed", self.clock()))
        self.notify(step)

    def note(self, key: str, value: Any) -> None:
        self.write(self.checklist.note(key, value, self.clock()))

    def out(self, step: int, *lines: str) -> None:
        self.checklist.step(step).add_output(lines)
        now = self.clock()
        if now - self._last_flush >= OUTPUT_FLUSH_S:
            self._last_flush = now
            self.write(self.checklist.output_record(step, now))
        self.notify(step)
