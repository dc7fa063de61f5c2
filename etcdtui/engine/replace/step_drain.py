"""Step 4: drain the node (confirmed by its typed name)."""

from __future__ import annotations

from etcdtui.core.checklist import StepId
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.model import StepFailed
from etcdtui.engine.replace_context import read_node


async def step_drain(p: ProcedureBase) -> None:
    step = StepId.DRAIN
    await p.ensure_context()
    await p.gate_again(step)
    confirmation = await p.confirm(step, f"Drain {p.node}: cordon it and evict its pods.")
    p.start_step(step, p.commands(step), confirmation)
    await p.flush()  # the confirmation and "running" are on disk before anything changes
    if await read_node(p.conn, p.node) is None:
        p.out(step, f'Error from server (NotFound): nodes "{p.node}" not found: already deleted')
        p.finish_step(step, "the Node is already deleted (nothing to drain)")
        return
    from etcdtui.cluster.drain import drain_node  # landed by another engineer (issue #7)

    result = await drain_node(p.conn, p.node, timeout=p.settings.drain_timeout,
                              on_line=lambda line: p.out(step, line))
    if not result.ok:
        raise StepFailed(result.error or "drain failed")
    p.finish_step(step, f"drained in {result.elapsed:.1f} s")
