"""Step 8: `kubeone apply` re-joins the node; KubeOne's plan is checked and answered in the app."""

from __future__ import annotations

import asyncio
import os
import shlex
import time

from etcdtui.cluster.runner import (
    CommandNotFoundError,
    CommandSpec,
    OutputBatch,
    PromptEvent,
    RunnerError,
    start_command,
)
from etcdtui.core.checklist import StepId, check_join_plan
from etcdtui.core.kubeone_output import kubeone_error
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.model import Question, StepFailed
from etcdtui.engine.replace.step_kubeadm_join import kubeadm_rejoin
from etcdtui.engine.replace_context import read_node

APPLY_TIMEOUT = 1800.0  # KubeOne documents "several minutes"; the lab takes seconds


async def _joined(p: ProcedureBase) -> bool:
    node = await read_node(p.conn, p.node)
    if node is None:
        return False
    present, _ = await p.member_present()
    return present


async def _wait_previous_apply(p: ProcedureBase, step: StepId) -> None:
    """After a crash during apply, a kubeone it started may still run: let it finish before deciding."""
    pid = p.checklist.facts.get("kubeone_pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _alive(pid):
        p.out(step, f"waiting for the kubeone (pid {pid}) of the interrupted run to exit")
        await asyncio.sleep(1.0)


async def step_apply(p: ProcedureBase) -> None:
    step = StepId.APPLY
    await p.ensure_context()
    if p.flavour is not None and p.flavour.is_kubeadm:
        await kubeadm_rejoin(p)  # kubeadm's join instead of kubeone apply
        return
    await _wait_previous_apply(p, step)
    if await _joined(p):
        p.start_step(step, p.commands(step))
        p.out(step, f"{p.node} is back: the Node exists and it is an etcd member (nothing to apply)")
        p.finish_step(step, "already joined")
        return
    await p.gate_again(step)
    argv = p.apply_argv()
    confirmation = await p.confirm(
        step, f"Run `{shlex.join(argv)}`: KubeOne re-joins {p.node}. Its plan is shown before `yes` is sent.",
        argv)
    p.start_step(step, p.commands(step), confirmation)
    await p.flush()  # the confirmation and "running" are on disk before anything changes
    kept: list[str] = []
    verdicts: list[str] = []

    def batch(b: OutputBatch) -> None:
        kept.extend(b.lines)
        del kept[:-2000]
        p.out(step, *b.lines)

    async def prompt(ev: PromptEvent) -> str:
        p.out(step, ev.text)
        check = check_join_plan(kept, p.node)
        if not check.ok:
            verdicts.append(f"KubeOne's plan refused: {check.reason}; answered no")
            p.out(step, verdicts[-1])
            return "no"
        answer = await p.ui.ask(Question(
            "plan", step, "KubeOne's plan", "\n".join(check.actions) + f"\n\n✓ {check.reason}\n\nKubeOne asks: "
            f"{ev.text.strip()}\nAnswer yes?", p.conn.context, command=tuple(argv)))
        if answer != "yes":
            verdicts.append("KubeOne's plan declined in the app; answered no")
            p.out(step, verdicts[-1])
            return "no"
        p.out(step, "answered yes")
        return "yes"

    spec = CommandSpec(tuple(argv), pty=True, no_color=True, env=_env(p))
    try:
        cmd = await start_command(spec)
    except (CommandNotFoundError, RunnerError) as exc:
        raise StepFailed(f"kubeone: {exc}") from None
    # Journaled so that a resume after a crash waits for this kubeone before deciding anything.
    p.write(p.checklist.note("kubeone_pid", cmd.pid, p.clock()))
    await p.flush()
    try:
        async with asyncio.timeout(APPLY_TIMEOUT), cmd:
            async for ev in cmd.events():
                if isinstance(ev, OutputBatch):
                    batch(ev)
                elif isinstance(ev, PromptEvent) and not cmd.done:
                    await cmd.answer(await prompt(ev))
        result = await cmd.wait()
    except TimeoutError:
        raise StepFailed(f"kubeone apply did not finish within {APPLY_TIMEOUT:.0f} s; it was stopped") from None
    if verdicts:
        raise StepFailed(verdicts[0])
    if not result.ok:
        last = kubeone_error(kept)
        raise StepFailed(f"kubeone apply failed ({result.describe()})" + (f": {last}" if last else ""))
    if any("Operation canceled" in line for line in kept):
        raise StepFailed("KubeOne canceled the operation")
    p.finish_step(step, f"kubeone apply succeeded in {result.duration_s:.0f} s")


def _env(p: ProcedureBase) -> dict[str, str]:
    env = dict(os.environ)
    env.update(p.settings.kubeone.extra_env)
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
