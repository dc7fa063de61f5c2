"""Step 3: an etcd snapshot from a healthy member, copied here over ssh (or skipped with a reason)."""

from __future__ import annotations

import asyncio
import time

from etcdtui.cluster.ssh import connect
from etcdtui.core.checklist import StepId
from etcdtui.engine.replace.base import ProcedureBase
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import Paused, Question, StepFailed


async def step_backup(p: ProcedureBase) -> None:
    step = StepId.BACKUP
    ctx = await p.ensure_context()
    question = Question("backup", step, "Step 3: backup", "Take an etcd snapshot from a healthy member now "
                        f"(to {p.backup_dir()}), or skip it with a typed reason.", p.conn.context,
                        command=tuple(p.commands(step)))
    answer = await p.ui.ask(question)
    if answer is None:
        raise Paused()
    if answer.startswith("skip:"):
        reason = answer.removeprefix("skip:").strip()
        if not reason:
            raise Paused()
        p.write(p.checklist.skip(step, f"skipped by the operator: {reason}", p.clock()))
        p.ui.changed(step)
        return
    p.start_step(step, p.commands(step))
    from etcdtui.cluster.backup import BackupError, snapshot_save  # another engineer's adapter (issue #7)

    snap = await fresh_snapshot(p.engine)
    pod = p.healthy_pod(snap)
    host_node = pod.node
    target = p.ssh_target_for(host_node, ctx)
    dest_dir = p.backup_dir()
    await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True, mode=0o700)
    dest = dest_dir / f"etcd-snapshot-{p.conn.context}-{time.strftime('%Y%m%dT%H%M%S')}.db"
    last = [0.0]

    def progress(size: int, elapsed: float) -> None:
        if elapsed - last[0] >= 1.0:
            last[0] = elapsed
            p.out(step, f"{size} bytes after {elapsed:.0f} s")

    try:
        async with await connect(target) as node_ssh:
            result = await snapshot_save(p.conn, healthy_pod=pod.name, namespace=p.settings.namespace,
                                         dest=dest, on_progress=progress, ssh=node_ssh)
    except BackupError as exc:
        raise StepFailed(f"backup failed: {exc.message}") from None
    except NotImplementedError:
        raise StepFailed("the snapshot adapter is not available in this build: skip with a reason") from None
    p.out(step, f"snapshot of {result.member_pod}: {result.path} ({result.size} bytes, sha256 "
                   f"{result.sha256[:16]}…" + (f", revision {result.revision}" if result.revision else "") + ")")
    p.finish_step(step, str(result.path))
