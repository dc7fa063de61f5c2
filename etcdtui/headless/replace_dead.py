"""`etcdtui replace NODE --confirm CONTEXT`: headless, the variant chosen as the app chooses it (docs/recover.md).

The variant is chosen from what etcdtui finds (Node NotReady or gone, ssh unreachable, member unreachable) and
printed with the reasons. The dead-machine repair runs here; a machine that still answers ssh is the
corrupted-member case, handed to `replace_live` (the app's checklist without prompts). An unfinished journal
resumes as it began, without a new diagnosis. Exit codes: 0 repaired, 2 refused or a step failed (run again to
resume), 3 could not evaluate.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from etcdtui import exitcodes
from etcdtui.headless.output import Output
from etcdtui.headless.replace_live import run_live

if TYPE_CHECKING:
    from etcdtui.cluster.kube import ClusterConnection

SAY = Output("replace")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--confirm", metavar="CONTEXT", help="run headless without prompts (either variant); "
                   "must equal the current context name")
    p.add_argument("--wait-machine", type=float, default=1800.0, metavar="SECONDS",
                   help="how long to wait for the replacement machine (default 1800)")


def run(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterError

    try:
        return asyncio.run(_run(args))
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)


async def _run(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.dead_machine import DeadMachineRepair, Diagnosis, diagnose
    from etcdtui.engine.replace_journal import JournalError
    from etcdtui.engine.ring_engine import RingEngine
    from etcdtui.engine.step_journal import StepFailed

    conn = await ClusterConnection.open(args.kubeconfig, args.context)
    if args.confirm != conn.context:
        await conn.close()
        return SAY.wrong_context(args.confirm, conn.context, exitcodes.CRITICAL)

    async def confirm(what: str, node: str) -> bool:
        SAY.out(f"   confirmed by --confirm {args.confirm}: {what} [node {node}, context {conn.context}]")
        return True

    from etcdtui.engine.context_settings import SettingsError
    from etcdtui.headless.context_flags import resolved

    try:
        settings, ssh, flavour = resolved(args, conn.context)
    except SettingsError as exc:
        await conn.close()
        return SAY.fail(str(exc), exitcodes.UNKNOWN)
    engine = RingEngine(conn, poll_interval=5.0)
    repair = DeadMachineRepair(conn, engine, args.node, settings, ssh=ssh, emit=SAY.out,
                               confirm=confirm, state=args.state_dir, wait_machine_s=args.wait_machine,
                               flavour=flavour)
    try:
        async with engine:
            await asyncio.to_thread(repair.lock.acquire)
            if repair.resume():
                SAY.out(f"Resuming the dead-machine repair of {args.node} from {repair.journal.path} "
                        f"(done: {', '.join(s for s in repair.done) or 'nothing yet'})")
                diagnosis: Diagnosis | None = None
                voting = int(repair.facts.get("members") or 3)
            elif _pending_replace(conn, args.state_dir) == args.node:
                repair.lock.release()  # an interrupted corrupted-member replace resumes as it began
                return await run_live(args, conn, engine)
            else:
                snap = await engine.wait_complete(30.0)
                diagnosis = await diagnose(conn, snap, args.node, settings, ssh, flavour=flavour)
                SAY.out(f"Replace the etcd member of {args.node} on context {conn.context}:")
                for reason in diagnosis.reasons:
                    SAY.out(f"  {reason}")
                if not diagnosis.dead:
                    repair.lock.release()  # the replace procedure takes the same lock
                    return await run_live(args, conn, engine)
                SAY.out("  → variant: dead machine (KubeOne's manual cluster repair): no drain, no reset; the member is "
                        "removed, the Node deleted, a fresh machine joined")
                voting = sum(1 for r in snap.rows if r.member_id and not r.is_learner)
            await repair.run(diagnosis, voting)
    except StepFailed as exc:
        return SAY.fail(f"stopped: {exc} (run the same command again to resume)", exitcodes.CRITICAL)
    except JournalError as exc:
        return SAY.fail(str(exc), exitcodes.CRITICAL)
    finally:
        await repair.close()
        repair.lock.release()
        await conn.close()
    SAY.out(f"\nRepaired: {args.node} is a member again on context {conn.context}.")
    return exitcodes.OK


def _pending_replace(conn: ClusterConnection, state: Path | None) -> str | None:
    """The node of this cluster's unfinished corrupted-member replace, if there is one."""
    from etcdtui.engine.replace import ReplaceProcedure

    pending = ReplaceProcedure.pending_journal(conn.context, conn.server, state)
    return pending.node if pending is not None else None
