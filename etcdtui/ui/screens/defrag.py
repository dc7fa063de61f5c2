"""The defragment screen (`d` in the ring view): the planned steps, the exact command, live output, durations.

The checklist screen of the replace procedure does everything a checklist needs (redraw at 4 Hz from the
procedure's checklist, run in a worker, Ctrl+C to stop a step, Esc, abandon); this screen runs the
`DefragProcedure` in it instead, and asks for the member name (or the context, for compaction and disarm).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etcdtui.engine.defrag import DefragInteraction, DefragProcedure, DefragQuestion, DefragSettings
from etcdtui.engine.replace import Outcome
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog

DefragFactory = Callable[[DefragSettings, DefragInteraction], DefragProcedure]


def defrag_procedures_on(conn: Any, ring: Any) -> DefragFactory:
    """Real defragment procedures on the live connection and the ring engine (their gates poll it)."""

    def build(settings: DefragSettings, interaction: DefragInteraction) -> DefragProcedure:
        return DefragProcedure(conn, ring, settings, interaction)

    return build


class DefragScreen(ReplaceScreen):
    def __init__(self, procedures: DefragFactory, settings: DefragSettings, *, context: str) -> None:
        super().__init__(procedures, settings, context=context)  # type: ignore[arg-type]
        self.defrag_procedures = procedures
        self.defrag_settings = settings

    def heading(self) -> str:
        return f"Defragment the etcd ring · context {self.context_label}"

    def _build(self) -> Any:
        return self.defrag_procedures(self.defrag_settings, self)

    def _opened_status(self, proc: Any) -> str:
        nxt = proc.checklist.next_index()
        if proc.resumed and nxt is not None:
            return (f"resuming an interrupted defragmentation at step {nxt} ({proc.checklist.step(nxt).title}):"
                    " press Enter to continue")
        return "press Enter to start: " + "; ".join(proc.plan_lines()[:1]) + "; each member asks for its name"

    def changed(self, step: int | None) -> None:
        self._dirty = True

    async def ask(self, question: DefragQuestion) -> str | None:  # type: ignore[override]
        self._status(f"waiting for you: {question.title}")
        answer = await self.app.push_screen(
            TypedConfirmDialog(title=question.title, text=question.text, context=question.context,
                               expect=question.expect, command=question.command), wait_for_dismiss=True)
        self._status("")
        return answer if isinstance(answer, str) else None

    def _done_notice(self) -> str | None:
        return None  # the status line says it

    def _outcome_text(self, outcome: Outcome) -> str:
        if outcome is Outcome.DONE:
            return "done: every selected member defragmented, the ring healthy (journal archived)"
        return super()._outcome_text(outcome)
