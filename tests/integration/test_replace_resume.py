"""Acceptance: the replace procedure survives being killed, and refuses when quorum is at stake.

* Crash-resume: the procedure runs headless in its own process (`replace_driver.py`, the real engine and
  adapters against a real lab); it is SIGKILLed while step 6 (`kubeadm reset` over ssh) runs, restarted,
  SIGKILLed again during step 8 (after KubeOne's prompt was answered), restarted, and finishes: 3 healthy
  members with equal hashes, no alarm, the node and its etcd pod back. Each restart resumes at the step that
  was running (the journal), taking over the dead process's lock.
* Quorum refusal: with lab-cp-3 kept down, `etcdtui replace lab-cp-2 --dry-run` exits 2 naming the gate, and
  the procedure stops at step 2 without touching anything.
Each test has its own lab (destructive).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from etcdtui.engine.connected import connected_engine
from etcdtui.engine.replace import fresh_snapshot

pytestmark = pytest.mark.integration

NODE = "lab-cp-2"
DRIVER = Path(__file__).with_name("replace_driver.py")


async def _driver(kubeconfig: Path, state: Path, kill_when: Callable[[str], bool] | None,
                  within: float = 150) -> tuple[int | None, list[str]]:
    """Run the driver; SIGKILL it as soon as `kill_when(line)` is true. Returns (rc or None if killed, lines)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(DRIVER), str(kubeconfig), NODE, str(state), "--backup", "skip",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    killed = False
    try:
        async with asyncio.timeout(within):
            async for raw in proc.stdout:
                line = raw.decode().rstrip()
                lines.append(line)
                if kill_when is not None and kill_when(line):
                    await asyncio.sleep(0.3)  # let the step get going (the reset/join really in flight)
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return (None if killed else proc.returncode), lines


async def _lab(root: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "etcdtui", "lab", args[0], "--dir", str(root), *args[1:],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_killed_during_reset_and_during_apply_then_resumed_to_the_same_end_state(tmp_path: Path) -> None:
    root, state = tmp_path / "lab", tmp_path / "state"
    try:  # `lab down` even when `lab up` fails half-way: no daemon may outlive the test
        rc, _, err = await _lab(root, "up", "--corrupt-checks", "on")
        assert rc == 0, err
        rc, _, err = await _lab(root, "corrupt", NODE)
        assert rc == 0, err
        kubeconfig = root / "kubeconfig"
        started = time.monotonic()
        rc1, first = await _driver(kubeconfig, state, lambda ln: ln == "STEP 6 running")
        assert rc1 is None, first
        journals = list(state.glob("replace-*.jsonl"))  # the live journal (none finished yet)
        assert len(journals) == 1 and (journals[0].stat().st_mode & 0o777) == 0o600
        assert list(state.glob("replace-*.lock")), "the killed process leaves its lock behind"

        rc2, second = await _driver(kubeconfig, state, lambda ln: ln.startswith("ASK plan 8"))
        assert rc2 is None, second
        assert second[0] == "RESUMED True next=6", second
        assert "STEP 6 done" in second and "STEP 7 done" in second

        rc3, third = await _driver(kubeconfig, state, None)
        assert third[0] == "RESUMED True next=8", third
        assert rc3 == 0, "\n".join(third)
        assert third[-1] == "OUTCOME done", third
        assert [p.name.endswith(".done.jsonl") for p in state.glob("replace-*.jsonl")] == [True], \
            "a finished journal is archived"
        assert len(list(state.glob("replace-*.done.jsonl"))) == 1
        print(f"crash-resume end to end: {time.monotonic() - started:.1f} s")

        async with connected_engine(kubeconfig=str(kubeconfig), poll_interval=2) as engine:
            await engine.wait_complete(30)
            snap = await fresh_snapshot(engine)
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        assert sorted(r.node_name or "" for r in voting) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert all(r.healthy for r in voting) and len({r.hash for r in voting}) == 1
        assert not snap.alarms and not any(f.is_corruption for f in snap.findings)
        assert any(n.name == NODE and n.ready for n in snap.nodes)
        assert any(r.pod_name == f"etcd-{NODE}" and r.pod and r.pod.phase == "Running" for r in snap.rows)
    finally:
        await _lab(root, "down")


async def test_refuses_at_the_quorum_gate_with_another_member_down(tmp_path: Path) -> None:
    root, state = tmp_path / "lab", tmp_path / "state"
    rc, _, err = await _lab(root, "up")
    if rc != 0:
        await _lab(root, "down")
    assert rc == 0, err
    # lab-cp-3's etcd hangs (SIGSTOP): down for its peers and etcdctl, and the lab's kubelet does not restart
    # it (a `lab kill` would be restarted within a second or two).
    pid = json.loads((root / "lab.json").read_text())["etcd_pids"]["lab-cp-3"]
    os.kill(pid, signal.SIGSTOP)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "etcdtui", "replace", NODE, "--dry-run", "--kubeconfig", str(root / "kubeconfig"),
            "--state-dir", str(state), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode == 2, (out.decode(), err.decode())
        assert "[REFUSED] quorum" in out.decode() and "not healthy: lab-cp-3" in out.decode()
        assert err.decode().startswith("etcdtui replace: refused:") and len(err.decode().splitlines()) == 1
        assert not state.exists(), "a dry run writes no journal"

        rc4, lines = await _driver(root / "kubeconfig", state, None, within=90)
        assert rc4 == 1 and "STEP 2 failed" in lines, "\n".join(lines)
        assert lines[-1].startswith("OUTCOME refused") and "lab-cp-3" in lines[-1], lines
        assert not any(ln.startswith("ASK") for ln in lines), "nothing is asked (or changed) after a refusal"
        journal = next(state.glob("replace-*.jsonl"))
        records = [json.loads(x) for x in journal.read_text().splitlines()]
        assert {r["step"] for r in records if r["type"] == "step"} == {0, 1, 2}
    finally:
        os.kill(pid, signal.SIGCONT)
        await _lab(root, "down")
