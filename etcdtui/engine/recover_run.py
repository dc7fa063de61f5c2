"""The quorum-lost recovery (engine/recover.py) as the app's checklist (engine/step_checklist_run.py).

Opened from the ring view when the ring has lost quorum, with the snapshot the operator picked (the newest backup
etcdtui knows of): the snapshot is verified (integrity, revision, age), the plan made on a fresh poll (refused
while quorum is intact) and what a restore loses (revisions and keys written after the snapshot) is said before
any step and in every confirmation. The journal is `etcdtui recover`'s: a run resumes in either face.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.recover import RecoverProcedure
from etcdtui.engine.recover_plan import RecoverPlan, Refused, verify_snapshot
from etcdtui.engine.replace import fresh_snapshot
from etcdtui.engine.replace_journal import JournalError
from etcdtui.engine.step_checklist_run import Asker, StepChecklistRun
from etcdtui.engine.step_journal import StepJournal


def step_title(step: str, plan: RecoverPlan, kubeadm: bool = False) -> tuple[str, bool]:
    """(title, destructive) of one of `plan.steps()`."""
    name, _, node = step.partition(":")
    rejoin = "kubeadm join, one node at a time" if kubeadm else "kubeone apply"
    return {
        "stop": (f"Stop etcd on {node} (its static pod manifest moved aside)", True),
        "restore": (f"Restore snapshot revision {plan.snapshot.revision} on {plan.restore_node} (fresh data dir)",
                    True),
        "start": (f"Start etcd on {plan.restore_node} alone, check it answers", True),
        "reset": (f"Reset {node} (kubeadm reset) and delete its Node", True),
        "rejoin": (f"{rejoin}: re-join {', '.join(plan.others) or 'nothing'}", True),
        "verify": ("Verify: every node a member, all healthy, hashes equal", False),
    }[name]


def loss_text(plan: RecoverPlan) -> str:
    """What restoring this snapshot throws away, in one or two sentences."""
    s = plan.snapshot
    if plan.survivor_revision is None:
        return (f"Snapshot revision {s.revision}; no member answers, so the writes after it cannot be listed. ")
    keys = ", ".join(plan.lost_keys[:5]) + (" …" if plan.lost_keys_total > 5 else "")
    return (f"Snapshot revision {s.revision}: WILL BE LOST {max(plan.survivor_revision - s.revision, 0)} revisions "
            f"({plan.lost_keys_total} keys written or changed after it{': ' + keys if keys else ''}). ")


def pending_recovery(conn: ClusterConnection, state: Path | None) -> Path | None:
    """The snapshot of this cluster's unfinished recovery, if there is one (reads the journal only)."""
    journal, _ = StepJournal.with_lock(state, conn, "recover")
    begin, _ = journal.replay()
    return Path(begin["snapshot"]["path"]) if begin and isinstance(begin.get("snapshot"), dict) else None


class RecoverRun(StepChecklistRun):
    kind = "recover"

    def __init__(self, conn: ClusterConnection, engine: Any, snapshot: Path, interaction: Asker, *,
                 kubeone: KubeOneSettings, ssh: SshSettings | None, state_dir: Path | None = None,
                 namespace: str = "kube-system", flavour: str | None = None) -> None:
        super().__init__(conn, interaction, "all control-plane nodes")
        self.engine, self.snapshot = engine, snapshot
        self.proc = RecoverProcedure(conn, kubeone, ssh=ssh, emit=self.emit, confirm=self.confirm,
                                     state=state_dir, namespace=namespace, flavour=flavour)
        self.proc.on_step = self.on_step
        self.journal, self.lock = self.proc.journal, self.proc.lock
        self.plan: RecoverPlan | None = None

    async def open(self) -> None:
        """Lock, journal, snapshot verified, plan; a refusal (quorum intact, a bad snapshot) is a JournalError."""
        await asyncio.to_thread(self.lock.acquire)
        try:
            facts = await verify_snapshot(self.snapshot)
            plan = await asyncio.to_thread(self.proc.resume_plan)
            if plan is not None and plan.snapshot.sha256 != facts.sha256:
                raise JournalError(f"an unfinished recovery from another snapshot ({plan.snapshot.path}) exists: "
                                   f"finish it first ({self.journal.path})")
            self.resumed = plan is not None
            if plan is None:
                plan = await self.proc.make_plan(await fresh_snapshot(self.engine), facts)
        except Refused as exc:
            self.lock.release()
            raise JournalError(f"refused: {exc}") from None
        except BaseException:
            self.lock.release()
            raise
        self.plan, self.done = plan, self.proc.done
        self.confirm_note = loss_text(plan)
        await asyncio.to_thread(self._layout, [(step, *step_title(step, plan, self.proc.flavour.is_kubeadm))
                                                for step in plan.steps()])

    async def _go(self) -> None:
        assert self.plan is not None
        await self.proc.run(self.plan)

    async def close(self) -> None:
        await self.proc.close()
