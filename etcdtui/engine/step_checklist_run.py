"""A procedure of named steps (`StepJournal`: the dead-machine repair, the recovery) as a checklist the app's
checklist screen runs — what `ProcedureRunner` asks for.

The procedure keeps its own journal (the headless command's: a run started in one face resumes in the other).
This base mirrors its steps into a core `Checklist` for the screen (status, duration, live output per step),
turns its confirmations into typed questions naming the node and the context, and maps how a run ends:

    DONE (every step done) · FAILED (a step failed: Enter retries it) · PAUSED (a confirmation declined)
    · Ctrl+C: the running step is marked failed ("stopped by the operator") and the cancel goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.core.checklist import Checklist, StepSpec, StepStatus
from etcdtui.engine.defrag import DefragQuestion
from etcdtui.engine.replace import Outcome
from etcdtui.engine.replace_journal import ProcedureLock
from etcdtui.engine.step_journal import StepFailed, StepJournal

DECLINED = "not confirmed"  # how the procedures' StepFailed starts when a confirmation is declined


class Asker(Protocol):
    async def ask(self, question: Any) -> str | None:
        """The typed answer (the node name); None is no/cancel."""

    def changed(self, step: int | None) -> None:
        """The checklist changed; called on the event loop, must not block."""


class StepChecklistRun:
    """Subclasses set `self.journal`, `self.lock` and `self.done` (the procedure's), lay the checklist out with
    `_layout`, and implement `open`, `_go` (run the procedure) and `close`."""

    kind = "steps"
    journal: StepJournal
    lock: ProcedureLock
    done: set[str]

    def __init__(self, conn: ClusterConnection, interaction: Asker, node: str) -> None:
        self.conn, self.interaction, self.node = conn, interaction, node
        self.checklist = Checklist.of_steps(self.kind, node, conn.context, conn.server, [])
        self.steps: list[str] = []
        self.done = set()
        self.resumed = False
        self._current: int | None = None
        self.confirm_note = ""  # said in every confirmation (e.g. what a restore loses)

    def _layout(self, steps: Sequence[tuple[str, str, bool]]) -> None:
        """(step, title, destructive) in order; the steps the journal has done are shown done with their notes."""
        self.steps = [step for step, _, _ in steps]
        self.checklist = Checklist.of_steps(self.kind, self.node, self.conn.context, self.conn.server,
                                            [StepSpec(title, destructive=d) for _, title, d in steps])
        notes = {r.get("step"): r.get("note") for r in (self.journal.records() if self.done else ())
                 if r.get("status") == "done"}  # blocking file read: call it in a thread when steps are done
        for index, step in enumerate(self.steps):
            if step in self.done:
                now = time.time()
                self.checklist.start(index, (), now)
                self.checklist.finish(index, now, str(notes.get(step) or "done before"))

    async def _go(self) -> None:
        raise NotImplementedError

    def commands(self, step: str) -> list[str]:
        return []

    async def run(self) -> Outcome:
        try:
            await self._go()
        except StepFailed as exc:
            reason = str(exc)
            declined = reason.startswith(DECLINED)
            self._fail("declined: nothing was changed by this step; Enter asks again" if declined else reason)
            return Outcome.PAUSED if declined else Outcome.FAILED
        except asyncio.CancelledError:
            self._fail("stopped by the operator")
            raise
        self.checklist.end("done", time.time())
        self.interaction.changed(None)
        return Outcome.DONE

    def abandon(self) -> None:
        self.journal.append({"kind": "end", "outcome": "abandoned", "t": time.time()})
        self.journal.discard()
        self.checklist.end("abandoned", time.time())
        self.interaction.changed(None)

    # -- the procedure's callbacks ------------------------------------------------------------------------------
    def on_step(self, step: str, note: str | None) -> None:
        index, now = self.steps.index(step), time.time()
        if note is None:
            state = self.checklist.step(index)
            if state.status is StepStatus.FAILED:
                state.status = StepStatus.PENDING  # a retry
            self.checklist.start(index, self.commands(step), now)
            self._current = index
        else:
            self.checklist.finish(index, now, note)
            self._current = None
        self.interaction.changed(index)

    def emit(self, line: str) -> None:
        if line.startswith("== ") or line.startswith("   done: "):
            return  # the checklist shows the step and its note
        if self._current is not None:
            self.checklist.step(self._current).add_output([line.strip()])
            self.interaction.changed(self._current)

    def _fail(self, reason: str) -> None:
        if self._current is not None:
            self.checklist.fail(self._current, reason.splitlines()[0] if reason else "failed", time.time())
            self.interaction.changed(self._current)
            self._current = None

    async def confirm(self, what: str, node: str) -> bool:
        index = self._current if self._current is not None else 0
        answer = await self.interaction.ask(DefragQuestion(  # the typed question every checklist asks
            kind="destructive", step=index, title=f"Step {index}: {what}",
            text=f"{self.confirm_note}This step changes the cluster of context {self.conn.context}. Type the node "
                 f"name to go on.", context=self.conn.context, expect=node))
        return answer == node
