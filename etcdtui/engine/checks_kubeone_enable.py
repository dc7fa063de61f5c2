"""Enable the corruption checks with KubeOne: `kubeone apply -m M -t T --force-upgrade` (kubeone-procedure §2, §6).

kubeone runs in a PTY (it refuses its prompt without one); KubeOne's plan and prompt go to a callback (the
dialog), the answer is written back, then the pods are re-read until every member has restarted, and the
before/after of every member's flags is returned.
"""

from __future__ import annotations

import time

from etcdtui.cluster.runner import (
    CommandNotFoundError,
    CommandSpec,
    OutputBatch,
    PromptEvent,
    RunnerError,
    run_command,
)
from etcdtui.core.kubeone_output import kubeone_error
from etcdtui.engine.checks_audit import EtcdPodsAudit, Hints, wait_restarted
from etcdtui.engine.checks_kubeone import KubeOneTool
from etcdtui.engine.checks_plan import Plan, parse_plan
from etcdtui.engine.checks_results import (
    CANCELLED,
    DECLINED,
    ENABLED,
    FAILED,
    ChecksReport,
    EnableOutcome,
    EnableRefused,
    OutputCallback,
    PlanCallback,
    ProgressCallback,
    member_changes,
    same_commands,
)

RESTART_TIMEOUT = 120.0  # after kubeone exits: every member back, Ready, with its new log
OUTPUT_KEEP_LINES = 400  # lines of kubeone output kept for the plan and the result


class KubeOneEnable:
    def __init__(self, pods: EtcdPodsAudit, tool: KubeOneTool) -> None:
        self.pods = pods
        self.tool = tool

    async def run(
        self,
        *,
        on_output: OutputCallback,
        on_plan: PlanCallback,
        on_progress: ProgressCallback,
        hints: Hints | None = None,
        restart_timeout: float = RESTART_TIMEOUT,
    ) -> EnableOutcome:
        """Run `kubeone apply … --force-upgrade`; raises EnableRefused (one line) when it cannot start."""
        facts = await self.tool.facts()
        blockers = facts.blockers()
        if blockers:
            raise EnableRefused(blockers[0])
        before = await self.pods.audit(hints)
        kept: list[str] = []
        plan_seen: list[Plan] = []
        answers: list[str] = []
        started = time.monotonic()
        on_progress(f"running {facts.command[0]} apply (KubeOne computes its plan)")

        def batch(b: OutputBatch) -> None:
            if b.dropped_bytes:
                kept.append(f"[{b.dropped_bytes} bytes of output dropped]")
            kept.extend(b.lines)
            del kept[:-OUTPUT_KEEP_LINES]
            on_output(b.lines)

        async def prompt(ev: PromptEvent) -> str | None:
            plan = parse_plan(kept)
            plan_seen.append(plan)
            on_progress("waiting for your answer to KubeOne's prompt")
            yes = await on_plan(plan, ev.text)
            on_progress("KubeOne is restarting the members one by one (cordon, restart, uncordon)" if yes
                        else "answered no: waiting for KubeOne to exit")
            answers.append("yes" if yes else "no")
            return answers[-1]

        spec = CommandSpec(facts.command, pty=True, env=self.tool.env(), no_color=True)
        try:
            result = await run_command(spec, on_batch=batch, on_prompt=prompt)
        except (CommandNotFoundError, RunnerError) as exc:
            raise EnableRefused(f"cannot run kubeone: {exc}") from None
        plan = plan_seen[-1] if plan_seen else None
        tail = tuple(kept[-40:])
        canceled = any("Operation canceled" in line for line in kept)
        if result.cancelled:
            return EnableOutcome(CANCELLED, f"kubeone was stopped: {result.describe()}", result, plan, output_tail=tail)
        if not result.ok:
            last = kubeone_error(kept)
            return EnableOutcome(FAILED, f"kubeone failed (exit code {result.exit_code}){': ' + last if last else ''}",
                                 result, plan, output_tail=tail)
        if canceled or answers[-1:] == ["no"]:
            after_pods = await self.pods.audit(hints)
            same = same_commands(before, after_pods)
            note = "the cluster is unchanged: every etcd command line is as before" if same else \
                "WARNING: an etcd command line changed anyway"
            return EnableOutcome(DECLINED, f"KubeOne's plan was declined (Operation canceled.): {note}", result, plan,
                                 member_changes(before, after_pods), output_tail=tail)
        if plan is None:
            return EnableOutcome(FAILED, "kubeone exited without asking for confirmation: nothing was applied",
                                 result, None, output_tail=tail)
        on_progress("kubeone finished: waiting for every member to be back with its new flags")
        # The leader may have moved during the restarts: keep only the versions from the hints.
        fresh = {pod: (None, version) for pod, (_, version) in (hints or {}).items()}
        after = await wait_restarted(self.pods, before, fresh, restart_timeout, on_progress, started)
        report = ChecksReport(tuple(after), facts, await self.pods.backups(), time.time())
        changes = member_changes(before, after)
        if report.all_on:
            message = (f"corruption checks are on for all {len(after)} members "
                       f"(kubeone took {result.duration_s:.0f} s)")
            return EnableOutcome(ENABLED, message, result, plan, changes, report, tail)
        off = [m.pod for m in after if not m.all_on]
        return EnableOutcome(FAILED, f"kubeone succeeded but checks are still off on {', '.join(off)}", result, plan,
                             changes, report, tail)
