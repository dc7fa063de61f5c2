"""`kubeone apply` in a pseudo-terminal that answers KubeOne's prompt itself: `yes` only when the plan joins
nothing but the expected control-plane nodes and initializes nothing. Shared by `recover` (re-join of the reset
nodes) and the dead-machine repair (join of the fresh machine)."""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Callable, Sequence

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.runner import (
    CommandNotFoundError,
    CommandSpec,
    OutputBatch,
    PromptEvent,
    RunnerError,
    start_command,
)
from etcdtui.core.checklist import check_join_plan
from etcdtui.engine.checks import ChecksService, KubeOneSettings

APPLY_TIMEOUT = 900.0


class ApplyFailed(Exception):
    """One line: kubeone apply failed, or its plan was refused."""


def join_plan_problem(lines: Sequence[str], allowed: Sequence[str]) -> str | None:
    """None when KubeOne's plan joins only `allowed` nodes (at least one) and initializes nothing."""
    check = check_join_plan(lines, allowed[0] if allowed else "")
    if "no plan" in check.reason or "initializes" in check.reason:
        return check.reason
    extra = [j for j in check.joins if j not in allowed]
    if not check.joins:
        return "the plan joins no node"
    if extra:
        return f"the plan joins {', '.join(extra)}, which etcdtui did not prepare for it"
    return None


async def apply_argv(conn: ClusterConnection, kubeone: KubeOneSettings, namespace: str = "kube-system") -> list[str]:
    facts = await ChecksService(conn, kubeone, namespace=namespace).kubeone_facts()
    argv = [facts.binary or "kubeone", "apply", "-m", facts.manifest or "kubeone.yaml"]
    if facts.tfjson:
        argv += ["-t", facts.tfjson]
    return argv


async def run_apply(
    argv: Sequence[str], kubeone: KubeOneSettings, allowed: Sequence[str], *, emit: Callable[[str], None],
    on_pid: Callable[[int], None],
) -> float:
    """Run it; returns its duration in seconds. Raises ApplyFailed (one line)."""
    kept: list[str] = []
    refusal: list[str] = []
    env = dict(os.environ)
    env.update(kubeone.extra_env)
    try:
        cmd = await start_command(CommandSpec(tuple(argv), pty=True, no_color=True, env=env))
    except (CommandNotFoundError, RunnerError) as exc:
        raise ApplyFailed(f"kubeone: {exc}") from None
    on_pid(cmd.pid)
    try:
        async with asyncio.timeout(APPLY_TIMEOUT), cmd:
            async for ev in cmd.events():
                if isinstance(ev, OutputBatch):
                    kept.extend(ev.lines)
                    del kept[:-2000]
                    for line in ev.lines:
                        emit(f"     {line}")
                elif isinstance(ev, PromptEvent) and not cmd.done:
                    problem = join_plan_problem(kept, allowed)
                    if problem:
                        refusal.append(problem)
                    emit(f"     {ev.text.strip()} -> {'no' if problem else 'yes'}")
                    await cmd.answer("no" if problem else "yes")
        result = await cmd.wait()
    except TimeoutError:
        raise ApplyFailed(f"`{shlex.join(argv)}` did not finish within {APPLY_TIMEOUT:.0f} s; it was stopped") from None
    if refusal:
        raise ApplyFailed(f"KubeOne's plan refused: {refusal[0]}; answered no")
    if not result.ok:
        raise ApplyFailed(f"kubeone apply failed ({result.describe()})")
    return result.duration_s
