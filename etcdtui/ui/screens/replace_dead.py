"""The dead-machine replace checklist (KubeOne's "Manual Cluster Repair"): the replace screen's machinery
(4 Hz redraw, worker, Ctrl+C, Esc, abandon, typed confirmations) running `DeadMachineRun` instead.

Steps: evidence, quorum gate, backup, member remove ⚠, delete the Node ⚠, wait for the replacement machine
(its output says at which address and which known_hosts, and why it does not answer yet), kubeone apply ⚠,
verify. The journal is the headless command's: a run started by `etcdtui replace NODE --confirm CONTEXT`
resumes here and the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etcdtui.engine.replace import Outcome, ReplaceSettings
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.services import ProcedureRunner

DeadMachineFactory = Callable[[Any], ProcedureRunner]  # the screen (its Interaction) -> the procedure


class DeadMachineScreen(ReplaceScreen):
    def __init__(self, build: DeadMachineFactory, settings: ReplaceSettings, *, context: str) -> None:
        super().__init__(lambda _settings, interaction: build(interaction), settings, context=context)

    def heading(self) -> str:
        return (f"Replace the dead machine of {self.settings.node} (KubeOne's manual cluster repair) · "
                f"context {self.context_label}")

    def _opened_status(self, proc: ProcedureRunner) -> str:
        nxt = proc.checklist.next_index()
        if proc.resumed and nxt is not None:
            return (f"resuming the interrupted dead-machine repair at step {nxt} "
                    f"({proc.checklist.step(nxt).title}): press Enter to continue")
        return ("press Enter to start; member remove, Node delete and kubeone apply ask for the node name; "
                "step 5 waits for the fresh machine you provision")

    def _done_notice(self) -> str | None:
        return f"{self.settings.node}: the fresh machine joined, the ring is healthy"

    def _outcome_text(self, outcome: Outcome) -> str:
        if outcome is Outcome.DONE:
            return f"done: {self.settings.node} runs on a fresh machine (journal archived)"
        return super()._outcome_text(outcome)
