"""Step 9: node Ready, pod Running, every member healthy, hashes agree, no alarm."""

from __future__ import annotations

import asyncio
import time

from etcdtui.core.checklist import StepId, alarm_note
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import ENABLED_MSG, INITIAL_PASSED_MSG, Question, StepFailed
from etcdtui.engine.replace_context import (
    pod_log_messages,
    read_node,
    read_pod,
)
from etcdtui.engine.snapshot import RingSnapshot


async def step_verify(p: ProcedureBase) -> None:
    step = StepId.VERIFY
    await p.ensure_context()
    p.start_step(step, p.commands(step))
    expected = int(p.checklist.facts.get("members") or 3)
    deadline = time.monotonic() + p.settings.verify_timeout
    missing = "not checked"
    snap: RingSnapshot | None = None
    pod_name = f"etcd-{p.node}"
    while time.monotonic() < deadline:
        missing, snap = await _verify_once(p, expected, pod_name)
        if not missing or missing.startswith("alarm:"):
            break
        p.out(step, f"waiting: {missing}")
        await asyncio.sleep(2.0)
    if missing and not missing.startswith("alarm:"):
        raise StepFailed(f"not verified within {p.settings.verify_timeout:.0f} s: {missing}")
    if missing.startswith("alarm:") and snap is not None:
        p.out(step, f"everything else is green; {alarm_note(snap.alarms) or missing}")
        answer = await p.ui.ask(Question(
            "offer", step, "Disarm the leftover alarm?",
            f"All {expected} members are healthy and their hashes agree, but {missing.removeprefix('alarm:')} "
            "is still set.\nRun `etcdctl alarm disarm` from a healthy member?", p.conn.context,
            command=("etcdctl", "alarm", "disarm")))
        if answer != "yes":
            raise StepFailed(f"the alarm stays set ({missing.removeprefix('alarm:').strip()}): disarm it later")
        shown, out = await p.etcdctl(["alarm", "disarm", "-w", "json"], snap)
        p.out(step, shown)
        for _ in range(10):  # the next polls must show it gone (and everything still green)
            missing, snap = await _verify_once(p, expected, pod_name)
            if not missing:
                break
            p.out(step, f"after disarming: {missing}")
            await asyncio.sleep(1.0)
        if missing:
            raise StepFailed(f"after disarming: {missing}")
    p.out(step, f"node {p.node} Ready, pod {pod_name} Running, {expected} members healthy, hashes agree, "
                   "no alarm")
    messages = await pod_log_messages(p.conn, p.settings.namespace, pod_name)
    if any(m == ENABLED_MSG for m in messages):
        p.out(step, f"{pod_name} logs {ENABLED_MSG!r}")
    else:
        p.out(step, f"warning: {pod_name} has not logged {ENABLED_MSG!r} (corruption checks off on it?)")
    if not any(m.startswith("initial corruption checking passed") for m in messages):
        p.out(step, f"{INITIAL_PASSED_MSG!r} is absent on the new member: expected, a fresh member has no "
                       "data to check at its first start (it appears at its next restart)")
    p.finish_step(step, f"{p.node} replaced; ring {snap.verdict.value if snap else '?'}")


async def _verify_once(p: ProcedureBase, expected: int, pod_name: str) -> tuple[str, RingSnapshot | None]:
    node = await read_node(p.conn, p.node)
    if node is None or not node.ready:
        return f"node {p.node} not Ready" if node else f"node {p.node} not registered yet", None
    pod = await read_pod(p.conn, p.settings.namespace, pod_name)
    if pod is None or (pod.get("status") or {}).get("phase") != "Running":
        return f"pod {pod_name} not Running", None
    snap = await fresh_snapshot(p.engine)
    voting = [r for r in snap.rows if r.member_id and not r.is_learner]
    if len(voting) != expected:
        return f"{len(voting)} of {expected} members", snap
    sick = [r.member_name or r.key for r in voting if not r.healthy]
    if sick:
        return f"not healthy: {', '.join(sick)}", snap
    hashes = {r.hash for r in voting}
    if None in hashes or len(hashes) != 1 or any(r.hash_agrees is False for r in voting):
        return "hashes do not agree yet", snap
    if snap.alarms:
        return "alarm: " + ", ".join(sorted({name for _, name in snap.alarms})), snap
    return "", snap
