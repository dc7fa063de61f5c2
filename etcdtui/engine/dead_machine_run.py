"""The dead-machine repair as a checklist the app's checklist screen runs (what `ProcedureRunner` asks for).

`DeadMachineRepair` (engine/dead_machine.py) is the procedure and its journal (`repair-<cluster>.jsonl`, the one
the headless `etcdtui replace NODE --confirm CONTEXT` writes): a run started in one face resumes in the other.
This adapter mirrors its steps into a core `Checklist` for the screen (status, duration, live output per step)
and turns its confirmations into typed questions naming the node and the context.

    run = DeadMachineRun(conn, engine, settings, interaction, diagnosis)   # diagnosis None: resume the journal
    await run.open()                 # lock + journal
    outcome = await run.run()        # DONE, FAILED (Enter retries), PAUSED (a confirmation declined)
    await run.close()
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Protocol

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.core.checklist import Checklist, StepSpec, StepStatus
from etcdtui.engine.dead_machine import (
    DESTRUCTIVE,
    KUBEADM_APPLY_TITLE,
    PROCEDURE,
    STEP_TITLES,
    STEPS,
    DeadMachineRepair,
    Diagnosis,
)
from etcdtui.engine.defrag import DefragQuestion
from etcdtui.engine.recover import StepFailed, StepJournal
from etcdtui.engine.replace import Outcome, ReplaceSettings
from etcdtui.engine.replace.step_kubeadm_join import rejoin_commands
from etcdtui.engine.replace_journal import JournalError, ProcedureLock

DECLINED = "not confirmed"  # DeadMachineRepair's StepFailed when a confirmation is declined


class Asker(Protocol):
    async def ask(self, question: Any) -> str | None:
        """The typed answer (the node name); None is no/cancel."""

    def changed(self, step: int | None) -> None:
        """The checklist changed; called on the event loop, must not block."""


def voting_members(snap: Any) -> int:
    """How many voting members the ring had when the repair began (what verify waits for again)."""
    return sum(1 for r in snap.rows if r.member_id and not r.is_learner)


def pending_repair(conn: ClusterConnection, state: Path | None) -> str | None:
    """The node of this cluster's unfinished dead-machine repair, if there is one (reads the journal only)."""
    journal, _ = StepJournal.with_lock(state, conn, PROCEDURE)
    begin, _ = journal.replay()
    return str(begin["node"]) if begin and begin.get("node") else None


class DeadMachineRun:
    def __init__(self, conn: ClusterConnection, engine: Any, settings: ReplaceSettings, interaction: Asker,
                 diagnosis: Diagnosis | None, voting: int = 3) -> None:
        self.conn, self.node, self.interaction = conn, settings.node, interaction
        self.diagnosis, self.voting = diagnosis, voting
        self.repair = DeadMachineRepair(conn, engine, settings.node, settings.kubeone, ssh=settings.ssh,
                                        emit=self._emit, confirm=self._confirm, state=settings.state_dir,
                                        flavour=settings.flavour)
        self.repair.on_step = self._on_step
        self.checklist = Checklist.of_steps(
            "repair", settings.node, conn.context, conn.server,
            [StepSpec(KUBEADM_APPLY_TITLE if s == "apply" and self.repair.flavour.is_kubeadm else STEP_TITLES[s],
                      destructive=s in DESTRUCTIVE) for s in STEPS])
        self.resumed = False
        self._current: int | None = None

    @property
    def lock(self) -> ProcedureLock:
        return self.repair.lock

    async def open(self) -> None:
        await asyncio.to_thread(self.repair.lock.acquire)
        try:
            self.resumed = await asyncio.to_thread(self.repair.resume)
            if self.resumed and self.repair.facts.get("node") != self.node:
                raise JournalError(f"an unfinished dead-machine repair of {self.repair.facts.get('node')} exists "
                                   f"({self.repair.journal.path}): finish it first")
            if not self.resumed and self.diagnosis is None:
                raise JournalError(f"no unfinished dead-machine repair of {self.node} to resume")
        except BaseException:
            self.repair.lock.release()
            raise
        notes = {r.get("step"): r.get("note") for r in await asyncio.to_thread(self.repair.journal.records)
                 if r.get("status") == "done"}
        for index, step in enumerate(STEPS):  # what a resume finds done is shown done, with its note
            if step in self.repair.done:
                now = time.time()
                self.checklist.start(index, (), now)
                self.checklist.finish(index, now, str(notes.get(step) or "done before"))

    async def run(self) -> Outcome:
        try:
            await self.repair.run(self.diagnosis, self.voting)
        except StepFailed as exc:
            reason = str(exc)
            declined = reason == DECLINED
            self._fail("declined: nothing was changed by this step; Enter asks again" if declined else reason)
            return Outcome.PAUSED if declined else Outcome.FAILED
        except asyncio.CancelledError:
            self._fail("stopped by the operator")
            raise
        self.checklist.end("repaired", time.time())
        self.interaction.changed(None)
        return Outcome.DONE

    def abandon(self) -> None:
        self.repair.journal.append({"kind": "end", "outcome": "abandoned", "t": time.time()})
        self.repair.journal.discard()
        self.checklist.end("abandoned", time.time())
        self.interaction.changed(None)

    async def close(self) -> None:
        await self.repair.close()

    # -- the repair's callbacks -------------------------------------------------------------------------------
    def _on_step(self, step: str, note: str | None) -> None:
        index, now = STEPS.index(step), time.time()
        if note is None:
            state = self.checklist.step(index)
            if state.status is StepStatus.FAILED:
                state.status = StepStatus.PENDING  # a retry
            self.checklist.start(index, self._commands(step), now)
            self._current = index
        else:
            self.checklist.finish(index, now, note)
            self._current = None
        self.interaction.changed(index)

    def _emit(self, line: str) -> None:
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

    async def _confirm(self, what: str, node: str) -> bool:
        index = self._current if self._current is not None else 0
        answer = await self.interaction.ask(DefragQuestion(  # the typed question every checklist asks
            kind="destructive", step=index, title=f"Step {index}: {what}",
            text=f"The machine of {node} is gone. This step changes the cluster of context {self.conn.context}. "
                 f"Type the node name to go on.", context=self.conn.context, expect=node))
        return answer == node

    def _commands(self, step: str) -> list[str]:
        member = str(self.repair.facts.get("member_id") or "?")
        return {
            "member-remove": [f"etcdctl member remove {member}  (in a healthy member's pod)"],
            "delete-node": [f"DELETE /api/v1/nodes/{self.node}"],
            "wait-machine": [f"ssh {self.node}: host key in known_hosts, no /var/lib/etcd/member, no etcd manifest"],
            "apply": rejoin_commands(self.node, "<healthy control-plane node>") if self.repair.flavour.is_kubeadm
            else [f"kubeone apply --manifest <kubeone.yaml> -t <tf.json>  (the plan may only join {self.node})"],
        }.get(step, [])
