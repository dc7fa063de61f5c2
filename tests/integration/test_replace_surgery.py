"""Replace, around kubeadm reset, on a real lab: the target leads → leadership is moved to a follower before
its etcd is stopped (and the step says so); an orphaned learner of the target (an interrupted join, never
started, on its address) is cleaned after the reset. The driver is SIGKILLed once step 6 is done (the rest of
the procedure is covered by test_replace_resume.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _lab_cli import etcdctl, lab_status, wait_for
from conftest import RunningLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DRIVER = Path(__file__).with_name("replace_driver.py")


def _leader(root: Path, via: str = "lab-cp-1") -> str:
    statuses = json.loads(etcdctl(root, via, "endpoint", "status", "-w", "json").stdout)
    members = json.loads(etcdctl(root, via, "member", "list", "-w", "json").stdout)["members"]
    leader_id = statuses[0]["Status"]["leader"]
    return next(str(m["name"]) for m in members if m["ID"] == leader_id)


def test_leadership_moved_before_reset_and_orphaned_learner_cleaned(
        fresh_lab: Callable[..., RunningLab], tmp_path: Path) -> None:
    lab = fresh_lab()
    target = _leader(lab.root)
    ip = next(m["ip"] for m in lab_status(lab.root)["members_status"] if m["node"] == target)
    # etcd refuses membership changes ("unhealthy cluster") until its peers have been connected a few seconds.
    wait_for(lambda: etcdctl(lab.root, "lab-cp-1", "member", "add", "orphan", "--learner",
                             f"--peer-urls=https://{ip}:1").returncode == 0, within=30, what="member add", every=1)
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(lab.kubeconfig), target, str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith(("ASK destructive 7", "STEP 6 failed", "OUTCOME")):
            break  # step 7 asks only after a fresh poll: step 6's last record is on disk by then
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert "STEP 6 done" in lines, "\n".join(lines)
    assert "ASK offer 6 context=etcdtui-lab" in lines, lines  # the orphaned learner's removal was offered

    records = [json.loads(x) for x in next(state.glob("replace-*.jsonl")).read_text().splitlines() if x.strip()]
    moved = next(r["value"] for r in records if r.get("type") == "fact" and r.get("key") == "moved_leader")
    assert moved["from"] == target and moved["to"] != target, moved
    reset = [r for r in records if r.get("type") == "step" and r.get("step") == 6]
    output = reset[-1]["output_tail"]
    said = [i for i, ln in enumerate(output) if ln.startswith(f"leadership moved from {target} to {moved['to']}")]
    ran = [i for i, ln in enumerate(output) if "kubeadm reset --force" in ln]
    assert said and ran and said[0] < ran[0], output  # moved, and said so, before the member was stopped
    assert any(ln.startswith("orphaned learner") for ln in output), "\n".join(output)

    members = json.loads(etcdctl(lab.root, moved["to"], "member", "list", "-w", "json").stdout)["members"]
    assert not any(m.get("isLearner") for m in members), members
    assert sorted(m["name"] for m in members) == sorted(n for n in lab.nodes if n != target)
    assert _leader(lab.root, via=moved["to"]) == moved["to"]
