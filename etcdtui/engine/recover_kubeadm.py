"""The quorum-loss recovery's re-join on a kubeadm cluster: the reset nodes join the restored one-member cluster
one at a time with the replace procedure's kubeadm join (`KubeadmJoin`): certificate key and bootstrap token
created on the restore node, `sudo kubeadm join … --control-plane` on the node, the token deleted at the end;
the secrets are redacted before anything is emitted. A retry after an interrupted join resets that node first
(kubeadm refuses to join over a half join)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from etcdtui.cluster.ssh import SshNode
from etcdtui.cluster.ssh_target import SshTarget
from etcdtui.engine.replace.model import StepFailed as JoinFailed
from etcdtui.engine.replace.step_kubeadm_join import (
    JOIN_STARTED,
    KubeadmJoin,
    delete_journaled_tokens,
    journaled_join,
)


class Recovery(Protocol):
    """What the re-join uses of `recover.RecoverProcedure` (a Protocol: recover.py imports this module)."""

    journal: Any  # its StepJournal: append(record), records()

    def emit(self, line: str) -> None: ...
    async def ask(self, what: str, node: str) -> None: ...
    async def members(self, plan: Any) -> list[dict[str, Any]]: ...
    async def node_ssh(self, node: str) -> SshNode: ...
    async def ssh_target(self, node: str) -> SshTarget: ...


async def kubeadm_rejoin(proc: Recovery, plan: Any) -> str:
    """Join every reset node of `plan` (a RecoverPlan) that is not a member yet, one at a time; returns the step's
    note. Raises the replace procedure's StepFailed (or SshError): recover.py turns it into its own."""
    joined: list[str] = []
    started = time.monotonic()
    restore = await proc.ssh_target(plan.restore_node)
    await delete_journaled_tokens(proc.journal, _joiner(proc, plan.restore_node), plan.restore_node, restore)
    for node in plan.others:
        names = {str(m.get("name", "")) for m in await proc.members(plan)}
        if node in names:
            continue
        await proc.ask(f"re-join {node} with `sudo kubeadm join … --control-plane`: a bootstrap token and a "
                       f"certificate key are created on {plan.restore_node} (never shown), the token is deleted "
                       "when the join ends", node)
        await _join(proc, plan, node)
        joined.append(node)
    if not joined:
        return "every node is a member again"
    return (f"kubeadm join re-joined {', '.join(joined)} one at a time in {time.monotonic() - started:.0f} s; "
            "the join tokens are deleted")


def _joiner(proc: Recovery, node: str) -> KubeadmJoin:
    return journaled_join(node, proc.journal, proc.emit, lambda: proc.node_ssh(node))


async def _join(proc: Recovery, plan: Any, node: str) -> None:
    join = _joiner(proc, node)
    records = await asyncio.to_thread(proc.journal.records)
    if any(r.get(JOIN_STARTED) == node for r in records):
        join.out(f"an earlier join attempt ran on {node}: `sudo kubeadm reset --force` first")
        code, _ = await join.run(await proc.node_ssh(node), ["sudo", "kubeadm", "reset", "--force"], node, show=True)
        if code != 0:
            raise JoinFailed(f"kubeadm reset on {node} before the new join exited with {code}")
    await join.via(plan.restore_node, await proc.ssh_target(plan.restore_node))
