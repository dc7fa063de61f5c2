"""The journal of a procedure made of named steps (recover, dead-machine repair): what ran, what is done, so a
run resumes at the step that was running. Same file handling as the replace journal (0700 dir, 0600 file,
fsync per record) and the same per-cluster lock, under its own file name."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.engine.replace_journal import Journal, ProcedureLock, cluster_key, state_dir


class StepFailed(Exception):
    """One line: a step failed; run again to retry it."""


Print = Callable[[str], None]
StepObserver = Callable[[str, str | None], None]  # (step, None): started; (step, note): done
Confirm = Callable[[str, str], Awaitable[bool]]  # (what, node) -> confirmed


class StepJournal(Journal):
    """The replace journal's file handling (0700 dir, 0600 file, fsync per record), under its own file name
    (`<prefix>-<cluster>.jsonl`) for the procedures that are a list of named steps (recover, dead-machine repair)."""

    def __init__(self, directory: Path, key: str, prefix: str = "recover") -> None:
        super().__init__(directory, key, prefix)  # `<prefix>-<cluster>.jsonl`; abandoned/archived under it too
        self.prefix = prefix

    @classmethod
    def with_lock(cls, state: Path | None, conn: ClusterConnection, prefix: str) -> tuple[StepJournal, ProcedureLock]:
        """The journal of this cluster and the lock every procedure on it shares (replace's too)."""
        directory, key = state_dir(state), cluster_key(conn.context, conn.server)
        return cls(directory, key, prefix), ProcedureLock(directory, key)

    def records(self) -> list[dict[str, Any]]:
        return list(self._records()) if self.path.exists() else []

    def replay(self) -> tuple[dict[str, Any] | None, set[str]]:
        """The first (`begin`) record and the names of the steps done: what a resume needs."""
        begin: dict[str, Any] | None = None
        done: set[str] = set()
        for record in self.records():
            if record.get("kind") == "begin":
                begin = record
            elif record.get("status") == "done":
                done.add(str(record.get("step")))
        return begin, done

    async def run_steps(self, steps: Sequence[str], done: set[str], run: Callable[[str], Awaitable[str]],
                        emit: Callable[[str], None], outcome: str, on_step: StepObserver = lambda _s, _n: None,
                        ) -> None:
        """Each step not done yet, in order: `running` on disk before it acts, `done` with its note after.
        `on_step(step, None)` when one starts, `on_step(step, note)` when it is done (the app's checklist)."""
        for step in steps:
            if step in done:
                continue
            emit(f"== {step}")
            self.append({"kind": "step", "step": step, "status": "running", "t": time.time()})
            on_step(step, None)
            note = await run(step)
            self.append({"kind": "step", "step": step, "status": "done", "t": time.time(), "note": note})
            done.add(step)
            on_step(step, note)
            emit(f"   done: {note}")
        self.append({"kind": "end", "outcome": outcome, "t": time.time()})
        self.finish()

    def finish(self) -> None:
        self.archive()
