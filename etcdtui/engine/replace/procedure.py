"""The replace procedure: lock and journal, then the steps in order until done, a failure, a refusal or a pause."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from etcdtui.cluster.etcdctl_exec import EtcdctlExecError
from etcdtui.cluster.kube import ClusterError
from etcdtui.cluster.runner import RunnerError
from etcdtui.cluster.ssh_target import SshError
from etcdtui.core.checklist import Checklist, StepId
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.model import Outcome, Paused, Refused, StepFailed
from etcdtui.engine.replace.step_apply import step_apply
from etcdtui.engine.replace.step_backup import step_backup
from etcdtui.engine.replace.step_delete_node import step_delete_node
from etcdtui.engine.replace.step_drain import step_drain
from etcdtui.engine.replace.step_reset import step_reset, step_ssh
from etcdtui.engine.replace.step_verify import step_verify
from etcdtui.engine.replace.steps_read import step_context, step_evidence, step_quorum
from etcdtui.engine.replace_journal import Journal, JournalError


class ReplaceProcedure(ProcedureBase):
    """See the package docstring: open(), run() until an outcome, close()."""

    # -- lifecycle --------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Take the cluster's lock; resume its unfinished journal (same node) or start a new one."""
        await asyncio.to_thread(self.lock.acquire)
        try:
            existing = await asyncio.to_thread(self.journal.load)
        except JournalError:
            self.lock.release()
            raise
        if existing is not None and existing.node != self.node:
            self.lock.release()
            raise JournalError(f"an unfinished replacement of {existing.node} exists for this cluster "
                               f"({self.journal.path}): finish or abandon it first")
        if existing is not None:
            self.checklist, self.resumed = existing, True
        else:
            self.write(self.checklist.begin_record(self.clock()))

    async def close(self) -> None:
        if self.ssh_node is not None:
            await self.ssh_node.close()
            self.ssh_node = None
        await self._exec.close()
        await self.close_journal()

    @staticmethod
    def pending_journal(context: str, server: str, state_dir: Path | None = None) -> Checklist | None:
        """The unfinished procedure of a cluster (for the resume offer at startup), or None."""
        try:
            return Journal.for_cluster(context, server, state_dir).load()
        except JournalError:
            return None

    # -- running -----------------------------------------------------------------------------------------
    async def run(self) -> Outcome:
        """Run steps from the next one on; returns at the end, a failure, a refusal or a pause."""
        while True:
            step = self.checklist.next_step()
            if step is None:
                await self.finish_procedure("replaced")
                return Outcome.DONE
            outcome = await self.run_step(step)
            if outcome is not None:
                return outcome

    async def run_step(self, step: StepId) -> Outcome | None:
        runner = self._runners()[step]
        try:
            await runner()
        except Paused:
            self.ui.changed(step)
            return Outcome.PAUSED
        except Refused as exc:
            self.fail_step(step, str(exc))
            return Outcome.REFUSED
        except (StepFailed, ClusterError, SshError, EtcdctlExecError, RunnerError) as exc:
            self.fail_step(step, getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            return Outcome.FAILED
        except asyncio.CancelledError:
            self.fail_step(step, "stopped by the operator")
            raise
        return None

    def _runners(self) -> dict[StepId, Callable[[], Awaitable[None]]]:
        steps: dict[StepId, Callable[[ProcedureBase], Awaitable[None]]] = {
            StepId.CONTEXT: step_context, StepId.EVIDENCE: step_evidence, StepId.QUORUM: step_quorum,
            StepId.BACKUP: step_backup, StepId.DRAIN: step_drain, StepId.SSH: step_ssh,
            StepId.RESET: step_reset, StepId.DELETE_NODE: step_delete_node, StepId.APPLY: step_apply,
            StepId.VERIFY: step_verify,
        }
        return {step: functools.partial(run, self) for step, run in steps.items()}
