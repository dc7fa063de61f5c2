"""Steps 5–6: ssh preflight on the node, then `kubeadm reset` and the member gone from `member list`."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time

from etcdtui.cluster.runner import OutputBatch
from etcdtui.cluster.ssh import PreflightOptions, preflight
from etcdtui.core.checklist import StepId
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.model import Question, StepFailed

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
    p.finish_step(step, "reset; the member is gone from member list")
