"""Steps 5–6: ssh preflight on the node, then leadership moved off it, `kubeadm reset`, and the member (and any
orphaned learner of the node) gone from `member list`."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time

from etcdtui.cluster.runner import OutputBatch
from etcdtui.cluster.ssh_preflight import PreflightOptions, preflight
from etcdtui.core.checklist import StepId
from etcdtui.core.etcdctl import parse_member_list
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import Question, StepFailed
from etcdtui.engine.snapshot import RingSnapshot
from etcdtui.engine.surgery import SurgeryError, move_leadership_off

MEMBER_GONE_TIMEOUT = 20.0


async def step_ssh(p: ProcedureBase) -> None:
    step = StepId.SSH
    ctx = await p.ensure_context()
    p.start_step(step, p.commands(step))
    node = await p.open_ssh(step)
    checks = await preflight(node, PreflightOptions(node_ip=ctx.node_ip))
    failed = [c for c in checks if c.status == "failed"]
    for c in checks:
        p.out(step, f"{c.status:7} {c.name}: {c.detail}")
    if failed:
        raise StepFailed(f"{failed[0].name}: {failed[0].detail}")
    kubeadm = next((c.value for c in checks if c.name == "kubeadm" and c.value), "kubeadm")
    p.write(p.checklist.note("kubeadm", kubeadm, p.clock()))
    p.finish_step(step, f"{ctx.ssh.describe() if ctx.ssh else ''}: hostname, IP, sudo, kubeadm ok")


async def step_reset(p: ProcedureBase) -> None:
    step = StepId.RESET
    await p.ensure_context()
    snap = await p.gate_again(step)
    kubeadm = str(p.checklist.facts.get("kubeadm") or "kubeadm")
    argv = ["sudo", kubeadm, "reset", "--force"]
    confirmation = await p.confirm(step, f"Run `{shlex.join(argv)}` on {p.node}: its etcd member is "
                                             "removed and its data wiped.", argv)
    p.start_step(step, p.commands(step), confirmation)
    await p.flush()  # the confirmation and "running" are on disk before anything changes
    snap = await leadership_off(p, step, snap)
    node = await p.open_ssh(step)
    p.out(step, f"$ {shlex.join(argv)}")
    stderr: list[str] = []

    def batch(b: OutputBatch) -> None:
        if b.stream == "stderr":
            stderr.extend(b.lines)
        p.out(step, *b.lines)

    cmd = await node.start(argv)
    try:
        async for ev in cmd.events():
            if isinstance(ev, OutputBatch):
                batch(ev)
        result = await cmd.wait()
    except asyncio.CancelledError:
        # Ctrl+C: stop the remote command too (signal, then close the channel), not only our reading.
        with contextlib.suppress(Exception):
            await asyncio.shield(cmd.cancel())
        raise
    if result.error is not None:
        p.ssh_node = None  # the connection is gone: the retry reconnects
        raise StepFailed(f"kubeadm reset on {p.node}: {result.error}; retry the step (reset is idempotent)")
    if result.exit_code != 0:
        raise StepFailed(f"kubeadm reset failed: {result.describe()}")
    if any("failed to remove etcd member" in line.lower() for line in stderr):
        p.out(step, "kubeadm could not remove the etcd member (exit 0 hides it): checking member list")
    deadline = time.monotonic() + MEMBER_GONE_TIMEOUT
    present, member_id = await p.member_present(snap)
    while present and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        present, member_id = await p.member_present()
    if present and member_id:
        remove = ["member", "remove", member_id]
        answer = await p.ui.ask(Question(
            "offer", step, "Remove the member by hand?",
            f"{p.node} ({member_id}) is still in `member list` after kubeadm reset.\nRun `etcdctl member "
            f"remove {member_id}` from a healthy member? (Otherwise KubeOne's repair removes it in step 8.)",
            p.conn.context, command=("etcdctl", *remove)))
        if answer == "yes":
            shown, out = await p.etcdctl(remove)
            p.out(step, shown, *out.splitlines())
            present, _ = await p.member_present()
        if present:
            raise StepFailed(f"{p.node} is still an etcd member after the reset")
    p.out(step, f"member list: {p.node} is gone")
    await remove_orphaned_learners(p, step)
    p.finish_step(step, "reset; the member is gone from member list")


async def leadership_off(p: ProcedureBase, step: StepId, snap: RingSnapshot) -> RingSnapshot:
    """Before kubeadm reset stops the target's etcd: if it leads, hand leadership to the healthiest follower."""
    try:
        snap, to = await move_leadership_off(
            p.etcdctl_exec, p.settings.namespace, snap, p.node, lambda: fresh_snapshot(p.engine),
            lambda line: p.out(step, line), purpose="kubeadm reset on")
    except SurgeryError as exc:
        raise StepFailed(str(exc)) from None
    if to is not None:
        p.note("moved_leader", {"from": p.node, "to": to, "t": p.clock()})
        await p.flush()
    return snap


async def remove_orphaned_learners(p: ProcedureBase, step: StepId) -> None:
    """A learner left by an interrupted join of this node (never started: no name, on its address; or named
    after it) would make KubeOne's `member add` fail: offer `member remove` for each."""
    _, out = await p.etcdctl(["member", "list", "-w", "json"])
    ips = {ip for ip in ((p.ctx.node_ip if p.ctx else None),
                         (p.ctx.host.private_address if p.ctx and p.ctx.host else None)) if ip}
    for m in parse_member_list(out).members:
        on_target = any(f"//{ip}:" in u for ip in ips for u in m.peer_urls)
        if not m.is_learner or not (m.name == p.node or (not m.name and on_target)):
            continue
        peers = ", ".join(m.peer_urls)
        remove = ["member", "remove", m.member_id]
        p.out(step, f"orphaned learner {m.member_id} ({m.name or 'never started'}, {peers}) of {p.node}")
        answer = await p.ui.ask(Question(
            "offer", step, "Remove the orphaned learner?",
            f"Learner {m.member_id} ({peers}) belongs to {p.node} but never became a voting member (an "
            f"interrupted join). KubeOne's re-join would fail on it.\nRun `etcdctl member remove {m.member_id}` "
            "from a healthy member?", p.conn.context, command=("etcdctl", *remove)))
        if answer != "yes":
            raise StepFailed(f"orphaned learner {m.member_id} left in member list: remove it before the re-join")
        shown, text = await p.etcdctl(remove)
        p.out(step, shown, *text.splitlines())
