"""Step 8's safety: a KubeOne plan that does not join exactly the target (or initializes a control plane)
is answered `no`, and so is a plan the operator declines; either way the step fails and nothing follows.

The `kubeone` here is a stand-in script (a real executable in a real PTY) that prints a given plan and
records the answer it reads. That is because the lab's real kubeone computes its plan from the lab's state,
and getting it to plan an `initialize` would mean destroying the lab's control plane. Everything else is
real: the shared lab's API and etcd for the quorum re-check, the runner's PTY, and the prompt detection.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
from conftest import RunningLab

from etcdtui.core.checklist import StepId, StepStatus
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.context_settings import from_kubeconfig
from etcdtui.engine.replace import Outcome, Question, ReplaceProcedure, ReplaceSettings

pytestmark = pytest.mark.integration

NODE = "lab-cp-9"  # no such Node and no such member: step 8's "already joined?" check says no


class Operator:
    def __init__(self, plan_answer: str | None) -> None:
        self.plan_answer = plan_answer
        self.asked: list[Question] = []

    async def ask(self, question: Question) -> str | None:
        self.asked.append(question)
        return NODE if question.kind == "destructive" else self.plan_answer

    def changed(self, step: StepId | None) -> None:
        pass


def _kubeone(tmp_path: Path, plan_lines: list[str]) -> tuple[Path, Path]:
    answer = tmp_path / "answer"
    script = tmp_path / "kubeone"
    body = "\n".join(["The following actions will be taken: ", "Run with --verbose flag for more information.",
                       *plan_lines, ""])
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write({body!r} + '\\n')\n"
        "sys.stdout.write('Do you want to proceed (yes/no): ')\nsys.stdout.flush()\n"
        f"line = sys.stdin.readline()\nopen({str(answer)!r}, 'w').write(line)\n"
        "print()\nprint('INFO Operation canceled.' if line.strip() != 'yes' else 'INFO joined')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, answer


async def _apply(lab: RunningLab, tmp_path: Path, plan: list[str], operator: Operator) -> tuple[ReplaceProcedure,
                                                                                                 Outcome | None]:
    kubeone, _ = _kubeone(tmp_path, plan)
    base = from_kubeconfig(str(lab.kubeconfig))
    settings = ReplaceSettings(NODE, KubeOneSettings(str(kubeone), base.kubeone.manifest, base.kubeone.tf),
                               ssh=base.ssh, state_dir=tmp_path / "state")
    async with connected_engine(kubeconfig=str(lab.kubeconfig), poll_interval=5) as engine:
        proc = ReplaceProcedure(engine.conn, engine, settings, operator)
        await proc.open()
        try:
            await proc.evaluate()
            for step in list(StepId)[: int(StepId.APPLY)]:
                proc.checklist.start(step, ["(not run in this test)"], 1.0)
                proc.checklist.finish(step, 1.0)
            outcome = await proc.run_step(StepId.APPLY)
        finally:
            await proc.close()
    return proc, outcome


async def test_a_plan_that_initializes_a_control_plane_is_answered_no(lab: RunningLab, tmp_path: Path) -> None:
    operator = Operator("yes")
    plan = [f'\t+ join control plane node "{NODE}" (127.0.1.9) using 1.32.4',
            '\t+ initialize control plane node "lab-cp-1" (127.0.1.1) using 1.32.4']
    proc, outcome = await _apply(lab, tmp_path, plan, operator)
    step = proc.checklist.step(StepId.APPLY)
    assert outcome is Outcome.FAILED and step.status is StepStatus.FAILED
    assert step.reason and "initializes a control plane" in step.reason and "answered no" in step.reason
    assert (tmp_path / "answer").read_text() == "no\n"
    assert [q.kind for q in operator.asked] == ["destructive"], "a refused plan is never offered for a yes"
    assert step.confirmation and "lab-cp-9" in step.confirmation


async def test_a_good_plan_declined_in_the_app_is_answered_no(lab: RunningLab, tmp_path: Path) -> None:
    operator = Operator(None)
    plan = [f'\t+ join control plane node "{NODE}" (127.0.1.9) using 1.32.4', "\t+ apply embedded addons"]
    proc, outcome = await _apply(lab, tmp_path, plan, operator)
    step = proc.checklist.step(StepId.APPLY)
    assert [q.kind for q in operator.asked] == ["destructive", "plan"]
    plan_question = operator.asked[1]
    assert f'join control plane node "{NODE}"' in plan_question.text and plan_question.context
    assert (tmp_path / "answer").read_text() == "no\n"
    assert outcome is Outcome.FAILED and step.reason and "declined" in step.reason
