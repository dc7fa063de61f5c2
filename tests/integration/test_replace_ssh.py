"""Step 5 of the replace procedure against the lab's real sshd nodes and bastion (read-only: the shared lab).

With the lab's known_hosts the preflight passes through the bastion (hostname, IP, sudo, kubeadm); with a
known_hosts whose key for the node is another one, the step fails and the procedure stops: no silent accept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RunningLab

from etcdtui.core.checklist import StepId, StepStatus
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.context_settings import SshSettings, from_kubeconfig
from etcdtui.engine.replace import Outcome, Question, ReplaceProcedure, ReplaceSettings

pytestmark = pytest.mark.integration

NODE = "lab-cp-2"


class NoAnswers:
    async def ask(self, question: Question) -> str | None:
        raise AssertionError(f"step 5 asks nothing, got {question.title}")

    def changed(self, step: StepId | None) -> None:
        pass


async def _preflight(lab: RunningLab, state: Path, known_hosts: str | None) -> tuple[ReplaceProcedure, Outcome | None]:
    async with connected_engine(kubeconfig=str(lab.kubeconfig), poll_interval=5) as engine:
        lab_settings = from_kubeconfig(str(lab.kubeconfig))  # what `lab up` registered in its kubeconfig
        ssh = SshSettings(known_hosts=known_hosts).over(lab_settings.ssh)
        settings = ReplaceSettings(NODE, KubeOneSettings.of(lab_settings.kubeone), ssh=ssh, state_dir=state)
        proc = ReplaceProcedure(engine.conn, engine, settings, NoAnswers())
        await proc.open()
        try:
            await proc.evaluate()
            for step in (StepId.CONTEXT, StepId.EVIDENCE, StepId.QUORUM, StepId.BACKUP, StepId.DRAIN):
                proc.checklist.start(step, ["(not run in this test)"], 1.0)
                proc.checklist.finish(step, 1.0)
            outcome = await proc.run_step(StepId.SSH)
        finally:
            await proc.close()
    return proc, outcome


async def test_ssh_preflight_through_the_bastion(lab: RunningLab, tmp_path: Path) -> None:
    proc, outcome = await _preflight(lab, tmp_path, None)
    step = proc.checklist.step(StepId.SSH)
    assert outcome is None and step.status is StepStatus.DONE, step.reason
    out = "\n".join(step.output)
    assert "via bastion" in out and str(lab.layout.known_hosts) in out
    for check in ("hostname: the machine is lab-cp-2", "node IP: 127.0.1.2", "sudo: passwordless", "kubeadm: kubeadm is"):
        assert check in out, out
    assert proc.checklist.facts["kubeadm"].endswith("/kubeadm")


async def test_a_changed_host_key_stops_the_procedure(lab: RunningLab, tmp_path: Path) -> None:
    lines = lab.layout.known_hosts.read_text().splitlines()
    node_key = next(ln.split()[-1] for ln in lines if "[lab-cp-3]" in ln)
    tampered = [(" ".join([*ln.split()[:-1], node_key]) if "[lab-cp-2]" in ln else ln) for ln in lines]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(tampered) + "\n")
    proc, outcome = await _preflight(lab, tmp_path / "state", str(known_hosts))
    step = proc.checklist.step(StepId.SSH)
    assert outcome is Outcome.FAILED and step.status is StepStatus.FAILED
    assert step.reason and "host key" in step.reason and "procedure stops" in step.reason, step.reason
    assert proc.checklist.next_step() is StepId.SSH  # nothing after it ran
