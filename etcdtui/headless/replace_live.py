"""`etcdtui replace NODE --confirm CONTEXT` when the machine still answers: the corrupted-member checklist, headless.

The same `ReplaceProcedure` the app runs (its gates, steps, journal and resume), with an `Interaction` that asks
nobody: every typed confirmation is answered with the node name because `--confirm` equals the current context
(each printed with node and context), the backup is always taken, KubeOne's plan is answered `yes` only after the
procedure's own plan check passed (it answers `no` itself otherwise), and the offers (remove a member left after
the reset, an orphaned learner, a leftover alarm) are accepted. Each step's status and live output are printed as
they come; what the procedure shows is already redacted (kubeadm's join token and certificate key never appear).
A run that died resumes from the journal when started again. Exit codes: 0 replaced, 2 refused or a step failed
(run again to resume), 3 could not evaluate.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from etcdtui import exitcodes
from etcdtui.headless.output import Output

if TYPE_CHECKING:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.core.checklist import Checklist, StepId
    from etcdtui.engine.replace import Question
    from etcdtui.engine.ring_engine import RingEngine

SAY = Output("replace")


@dataclass
class HeadlessOperator:
    """Answers the procedure's questions from `--confirm` and prints the checklist as it changes."""

    node: str
    context: str
    checklist: Checklist | None = None
    _seen: dict[int, tuple[int, str, int]] = field(default_factory=dict)  # step -> (attempts, status, lines shown)

    async def ask(self, question: Question) -> str | None:
        if question.kind == "destructive":
            SAY.out(f"   confirmed by --confirm {self.context}: {question.title} [node {self.node}, context "
                    f"{self.context}]")
            return question.expect
        if question.kind == "backup":
            SAY.out("   backup: taking the snapshot (a headless run never skips it)")
            return "snapshot"
        SAY.out(f"   {question.title}")
        for line in question.text.splitlines():
            SAY.out(f"     {line}")
        SAY.out(f"   answered yes (--confirm {self.context})")
        return "yes"

    def settled(self, checklist: Checklist) -> None:
        """What a resumed journal already shows is not printed again."""
        self.checklist = checklist
        for s in checklist.steps:
            self._seen[int(s.id)] = (s.attempts, s.status.value, s.dropped_lines + len(s.output))

    def changed(self, step: StepId | None) -> None:
        if self.checklist is None or step is None:
            return
        s = self.checklist.step(step)
        attempts, status, shown = self._seen.get(int(step), (0, "pending", 0))
        total = s.dropped_lines + len(s.output)
        if s.attempts != attempts and s.started_at is not None:
            SAY.out(f"== step {int(step)}: {s.title}" + (f" (attempt {s.attempts})" if s.attempts > 1 else ""))
            for command in s.commands:
                SAY.out(f"   $ {command}")
            status, shown = "running", 0  # a start clears the step's output
        new = total - shown
        if new > 0:
            if new > len(s.output):
                SAY.out(f"   [{new - len(s.output)} lines not shown]")
            for line in s.output[-min(new, len(s.output)):]:
                SAY.out(f"     {line}")
        if s.status.value != status and s.status.value != "running":
            SAY.out(f"   {s.status.value}" + (f": {s.reason}" if s.reason else ""))
        self._seen[int(step)] = (s.attempts, s.status.value, total)


async def run_live(args: argparse.Namespace, conn: ClusterConnection, engine: RingEngine) -> int:
    """Run (or resume) the corrupted-member checklist on `conn`; `--confirm` was already checked against it."""
    from etcdtui.engine.context_settings import SettingsError
    from etcdtui.engine.replace import Outcome, ReplaceProcedure
    from etcdtui.engine.replace_journal import JournalError
    from etcdtui.headless.context_flags import replace_settings

    try:
        settings = replace_settings(args, conn.context)
    except SettingsError as exc:
        return SAY.fail(str(exc), exitcodes.UNKNOWN)
    operator = HeadlessOperator(args.node, conn.context)
    proc = ReplaceProcedure(conn, engine, settings, operator)
    try:
        await proc.open()
    except JournalError as exc:
        return SAY.fail(str(exc), exitcodes.CRITICAL)
    try:
        operator.settled(proc.checklist)
        if proc.resumed:
            done = ", ".join(str(int(s.id)) for s in proc.checklist.steps if s.settled)
            SAY.out(f"Resuming the replacement of {args.node} from {proc.journal.path} (steps done: "
                    f"{done or 'none'})")
        else:
            SAY.out("  → variant: corrupted member (KubeOne's replace procedure): drain, reset, delete the Node, "
                    "re-join, verify")
        outcome = await proc.run()
    finally:
        await proc.close()
    if outcome is Outcome.DONE:
        SAY.out(f"\nReplaced: {args.node}'s etcd member is new and the ring is healthy on context {conn.context}.")
        return exitcodes.OK
    failed = next((s for s in proc.checklist.steps if s.status.value == "failed"), None)
    why = f"step {int(failed.id)} ({failed.title}): {failed.reason}" if failed else outcome.value
    if outcome is Outcome.REFUSED:
        return SAY.fail(f"refused at {why}; nothing more was changed", exitcodes.CRITICAL)
    return SAY.fail(f"stopped at {why} (run the same command again to resume)", exitcodes.CRITICAL)
