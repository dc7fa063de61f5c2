"""Step 7: delete the Node object."""

from __future__ import annotations

import asyncio

from etcdtui.core.checklist import StepId
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.model import StepFailed
from etcdtui.engine.replace_context import delete_node, read_node


async def step_delete_node(p: ProcedureBase) -> None:
    step = StepId.DELETE_NODE
    await p.ensure_context()
    await p.gate_again(step)
    confirmation = await p.confirm(step, f"Delete the Node object {p.node} (kubectl delete node).")
    p.start_step(step, p.commands(step), confirmation)
    await p.flush()  # the confirmation and "running" are on disk before anything changes
    if await delete_node(p.conn, p.node):
        p.out(step, f'node "{p.node}" deleted')
    else:
        p.out(step, f'Error from server (NotFound): nodes "{p.node}" not found: already deleted')
    for _ in range(30):
        if await read_node(p.conn, p.node) is None:
            break
        await asyncio.sleep(0.5)
    else:
        raise StepFailed(f"node {p.node} still exists after the delete")
    p.finish_step(step, "the Node is gone")
