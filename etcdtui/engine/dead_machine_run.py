"""The dead-machine repair (engine/dead_machine.py) as the app's checklist (engine/step_checklist_run.py).

    run = DeadMachineRun(conn, engine, settings, interaction, diagnosis)   # diagnosis None: resume the journal
    await run.open()                 # lock + journal
    outcome = await run.run()        # DONE, FAILED (Enter retries), PAUSED (a confirmation declined)
    await run.close()
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.engine.dead_machine import (
    DESTRUCTIVE,
    KUBEADM_APPLY_TITLE,
    PROCEDURE,
    STEP_TITLES,
    STEPS,
    DeadMachineRepair,
    Diagnosis,
)
from etcdtui.engine.replace import ReplaceSettings
from etcdtui.engine.replace.step_kubeadm_join import rejoin_commands
from etcdtui.engine.replace_journal import JournalError
from etcdtui.engine.step_checklist_run import Asker, StepChecklistRun
from etcdtui.engine.step_journal import StepJournal


def voting_members(snap: Any) -> int:
    """How many voting members the ring had when the repair began (what verify waits for again)."""
    return sum(1 for r in snap.rows if r.member_id and not r.is_learner)


def pending_repair(conn: ClusterConnection, state: Path | None) -> str | None:
    """The node of this cluster's unfinished dead-machine repair, if there is one (reads the journal only)."""
    journal, _ = StepJournal.with_lock(state, conn, PROCEDURE)
    begin, _ = journal.replay()
    return str(begin["node"]) if begin and begin.get("node") else None


class DeadMachineRun(StepChecklistRun):
    kind = "repair"

    def __init__(self, conn: ClusterConnection, engine: Any, settings: ReplaceSettings, interaction: Asker,
                 diagnosis: Diagnosis | None, voting: int = 3) -> None:
        super().__init__(conn, interaction, settings.node)
        self.diagnosis, self.voting = diagnosis, voting
        self.repair = DeadMachineRepair(conn, engine, settings.node, settings.kubeone, ssh=settings.ssh,
                                        emit=self.emit, confirm=self.confirm, state=settings.state_dir,
                                        flavour=settings.flavour)
        self.repair.on_step = self.on_step
        self.journal, self.lock = self.repair.journal, self.repair.lock
        self.confirm_note = f"The machine of {settings.node} is gone. "
        self._layout(self._steps())

    def _steps(self) -> list[tuple[str, str, bool]]:
        kubeadm = self.repair.flavour.is_kubeadm
        return [(s, KUBEADM_APPLY_TITLE if s == "apply" and kubeadm else STEP_TITLES[s], s in DESTRUCTIVE)
                for s in STEPS]

    async def open(self) -> None:
        await asyncio.to_thread(self.lock.acquire)
        try:
            self.resumed = await asyncio.to_thread(self.repair.resume)
            if self.resumed and self.repair.facts.get("node") != self.node:
                raise JournalError(f"an unfinished dead-machine repair of {self.repair.facts.get('node')} exists "
                                   f"({self.journal.path}): finish it first")
            if not self.resumed and self.diagnosis is None:
                raise JournalError(f"no unfinished dead-machine repair of {self.node} to resume")
        except BaseException:
            self.lock.release()
            raise
        self.done = self.repair.done
        await asyncio.to_thread(self._layout, self._steps())

    async def _go(self) -> None:
        await self.repair.run(self.diagnosis, self.voting)

    async def close(self) -> None:
        await self.repair.close()

    def commands(self, step: str) -> list[str]:
        member = str(self.repair.facts.get("member_id") or "?")
        return {
            "member-remove": [f"etcdctl member remove {member}  (in a healthy member's pod)"],
            "delete-node": [f"DELETE /api/v1/nodes/{self.node}"],
            "wait-machine": [f"ssh {self.node}: host key in known_hosts, no /var/lib/etcd/member, no etcd manifest"],
            "apply": rejoin_commands(self.node, "<healthy control-plane node>") if self.repair.flavour.is_kubeadm
            else [f"kubeone apply --manifest <kubeone.yaml> -t <tf.json>  (the plan may only join {self.node})"],
        }.get(step, [])
