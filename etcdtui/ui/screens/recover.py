"""The quorum-lost recovery checklist (`R` in the ring view while QUORUM-LOST): the replace screen's machinery
(4 Hz redraw, worker, Ctrl+C, Esc, abandon, typed confirmations) running `RecoverRun`.

Steps (engine/recover.py): etcd stopped on every control-plane node ⚠, the snapshot restored on one node ⚠,
started alone ⚠, the other nodes reset ⚠, re-joined with kubeone apply ⚠, verified. What the restore loses is
in the status line and in every confirmation. The journal is `etcdtui recover`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from etcdtui.engine.replace import Outcome
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.services import ProcedureRunner

RecoverFactory = Callable[[Any], ProcedureRunner]  # the screen (its Interaction) -> the procedure


class RecoverScreen(ReplaceScreen):
    def __init__(self, build: RecoverFactory, snapshot: Path, *, context: str) -> None:
        super().__init__(lambda _settings, interaction: build(interaction), None, context=context)  # type: ignore[arg-type]
        self.snapshot = snapshot

    def heading(self) -> str:
        return f"Recover from a snapshot: quorum is lost · {self.snapshot.name} · context {self.context_label}"

    def _opened_status(self, proc: ProcedureRunner) -> str:
        nxt = proc.checklist.next_index()
        note = getattr(proc, "confirm_note", "")
        if proc.resumed and nxt is not None:
            return (f"resuming the interrupted recovery at step {nxt} ({proc.checklist.step(nxt).title}): "
                    "press Enter to continue")
        return f"{note}Press Enter to start; every step that changes a node asks for its name."

    def _done_notice(self) -> str | None:
        return "recovered: every node a member again, the ring healthy"

    def _outcome_text(self, outcome: Outcome) -> str:
        if outcome is Outcome.DONE:
            return f"done: recovered from {self.snapshot.name} (journal archived)"
        return super()._outcome_text(outcome)
