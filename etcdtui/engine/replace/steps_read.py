"""Steps 0–2, read-only: gather the context, then the evidence and quorum gates."""

from __future__ import annotations

from etcdtui.core.checklist import (
    StepId,
    evidence_gate,
    quorum_gate,
)
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import REUSE_POLL_S, StepFailed
from etcdtui.engine.replace_context import member_facts


async def step_context(p: ProcedureBase) -> None:
    step = StepId.CONTEXT
    p.start_step(step, p.commands(step))
    ctx, snap = await p.evaluate()
    p.checklist.step(step).commands = p.commands(step)
    for line in ctx.lines:
        p.out(step, line)
    for warning in ctx.warnings:
        p.out(step, f"warning: {warning}")
    if ctx.problems:
        for problem in ctx.problems:
            p.out(step, f"problem: {problem}")
        raise StepFailed(ctx.problems[0])
    if "members" not in p.checklist.facts:
        voting = sum(1 for r in snap.rows if r.member_id and not r.is_learner)
        p.write(p.checklist.note("members", voting, p.clock()))
        p.write(p.checklist.note("member_id", ctx.row.member_id if ctx.row else None, p.clock()))
        if ctx.node_ip:  # where the machine is after step 7 deleted its Node (kubeadm has no kubeone.yaml)
            p.write(p.checklist.note("node_ip", ctx.node_ip, p.clock()))
    p.finish_step(step, f"{p.node} is {ctx.ssh.describe() if ctx.ssh else '?'}")


async def step_evidence(p: ProcedureBase) -> None:
    step = StepId.EVIDENCE
    await p.ensure_context()
    p.start_step(step, p.commands(step))
    snap = await fresh_snapshot(p.engine, max_age=REUSE_POLL_S)
    facts = member_facts(snap)
    gate = evidence_gate(facts, p.node)
    p.gates["evidence"] = gate
    for m in facts:
        p.out(step, f"{m.name} ({m.member_id}): " + ("; ".join(m.evidence) if m.evidence else "no evidence"))
    for warning in gate.warnings:
        p.out(step, f"warning: {warning}")
    p.close_gate(step, gate, snap.alarms)


async def step_quorum(p: ProcedureBase) -> None:
    step = StepId.QUORUM
    await p.ensure_context()
    p.start_step(step, p.commands(step))
    snap = await fresh_snapshot(p.engine, max_age=REUSE_POLL_S)
    gate, decision = quorum_gate(member_facts(snap), p.node)
    p.gates["quorum"] = gate
    p.out(step, f"N={decision.voting}, quorum={decision.quorum_now}, after removal={decision.quorum_after}, "
                   f"healthy others={decision.healthy_others}")
    p.out(step, gate.detail)
    p.close_gate(step, gate, snap.alarms)
