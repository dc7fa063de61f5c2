"""Replace a corrupted member (kubeone-procedure.md §9): steps 0–9 run with the adapters, journaled, resumable.

No Textual here. The UI (or a test) supplies an `Interaction`: it is told when the checklist changes and asked
the questions (typed node name for destructive steps, KubeOne's plan, offers). The state machine and the gates
are the core's (`etcdtui.core.checklist`); the journal and the lock are `replace_journal.py`.

    proc = ReplaceProcedure(conn, engine, settings, interaction)
    await proc.open()        # lock + journal: resumes an unfinished procedure of this cluster for the same node
    outcome = await proc.run()   # runs from the next step until done, a failure, a refusal or a declined question
    await proc.close()

Every step is idempotent, so a step interrupted by a crash is simply run again. The quorum gate is re-checked
against a fresh etcdctl poll immediately before every destructive step.

Where things live: `model` (settings, questions, outcomes, errors), `fresh` (a snapshot newer than the
question), `base` (journal, output, confirmation, re-checked gate, etcdctl and ssh helpers the steps share),
`commands` (what each step will run, for the screen and --dry-run), one module per step or step group
(`steps_read` 0–2, `step_backup` 3, `step_drain` 4, `step_reset` 5–6, `step_delete_node` 7, `step_apply` 8,
`step_verify` 9) and `procedure` (the lock, the journal and the run loop). A new step is a `step_*` function
of a `ProcedureBase` in its own module, listed in `ReplaceProcedure._runners` and `commands.step_commands`.
"""

from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import (
    Interaction,
    Outcome,
    Paused,
    Question,
    Refused,
    ReplaceSettings,
    StepFailed,
)
from etcdtui.engine.replace.procedure import ReplaceProcedure

__all__ = [
    "Interaction",
    "Outcome",
    "Paused",
    "Question",
    "Refused",
    "ReplaceProcedure",
    "ReplaceSettings",
    "StepFailed",
    "fresh_snapshot",
]
