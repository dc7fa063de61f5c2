"""`etcdtui recover --snapshot FILE [--dry-run] [--confirm CONTEXT]`: restore etcd from a snapshot after quorum
is lost (docs/recover.md).

Refuses while quorum is intact (use `etcdtui replace NODE`). Verifies the snapshot, says what will be lost,
then stops etcd everywhere, restores on one node, starts it alone, resets and re-joins the others and verifies.
Every destructive step names the node and the context: in a terminal you type the node name; with
`--confirm CONTEXT` it runs without prompts, and a CONTEXT that is not the current one exits 2 before any
change. A run that dies resumes where it stopped when started again with the same snapshot.
Exit codes: 0 recovered (or --dry-run: may run), 2 refused or failed, 3 could not evaluate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from etcdtui import exitcodes
from etcdtui.headless.output import Output

SAY = Output("recover")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "recover", help="quorum lost: restore etcd from a snapshot, re-join the other nodes (guided)",
        description="Restore the etcd ring from a snapshot after it lost quorum (etcd's disaster recovery and "
                    "KubeOne's manual cluster recovery). Refuses while quorum is intact.",
        epilog="exit codes: 0 recovered (--dry-run: may run); 2 refused or a step failed; 3 could not evaluate",
    )
    p.add_argument("--snapshot", required=True, type=Path, metavar="FILE", help="the etcd snapshot to restore")
    p.add_argument("--dry-run", action="store_true", help="verify, print the plan and what will be lost; change nothing")
    p.add_argument("--confirm", metavar="CONTEXT", help="run without prompts; must equal the current context name")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--kubeone-manifest", metavar="M", help="kubeone.yaml (default: the context's settings)")
    p.add_argument("--kubeone-tf", metavar="T", help="tf.json (terraform output -json)")
    p.add_argument("--kubeone", metavar="PATH", help="the kubeone binary (default: the context's, then PATH)")
    p.add_argument("--known-hosts", metavar="FILE", help="known_hosts (default: the context's, else ~/.ssh/known_hosts)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the ring's state (default 30)")
    p.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.dry_run and args.confirm is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        return SAY.fail("no terminal to confirm in: pass --confirm CONTEXT (or --dry-run)", exitcodes.CRITICAL)
    from etcdtui.cluster.kube import ClusterError

    try:
        return asyncio.run(_recover(args))
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)


async def _recover(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.recover import RecoverProcedure
    from etcdtui.engine.recover_plan import Refused, verify_snapshot
    from etcdtui.engine.replace_journal import JournalError
    from etcdtui.engine.ring_engine import RingEngine
    from etcdtui.engine.step_journal import StepFailed

    try:
        facts = await verify_snapshot(args.snapshot.expanduser().absolute())
    except Refused as exc:
        return SAY.fail(str(exc), exitcodes.CRITICAL)
    conn = await ClusterConnection.open(args.kubeconfig, args.context)
    if args.confirm is not None and args.confirm != conn.context:
        await conn.close()
        return SAY.wrong_context(args.confirm, conn.context, exitcodes.CRITICAL)

    async def confirm(what: str, node: str) -> bool:
        if args.confirm is not None:
            SAY.out(f"   confirmed by --confirm {args.confirm}: {what} [context {conn.context}]")
            return True
        answer = await asyncio.to_thread(input, f"   {what} [context {conn.context}]\n   type {node} to confirm: ")
        return answer.strip() == node

    from etcdtui.engine.context_settings import SettingsError
    from etcdtui.headless.context_flags import resolved

    try:
        settings, ssh, flavour = resolved(args, conn.context)
    except SettingsError as exc:
        await conn.close()
        return SAY.fail(str(exc), exitcodes.UNKNOWN)
    proc = RecoverProcedure(conn, settings, ssh=ssh, emit=SAY.out, confirm=confirm,
                            state=args.state_dir, flavour=flavour)
    try:
        if not args.dry_run:
            await asyncio.to_thread(proc.lock.acquire)
        plan = proc.resume_plan()
        if plan is not None:
            if plan.snapshot.sha256 != facts.sha256:
                return SAY.fail(f"an unfinished recovery from another snapshot ({plan.snapshot.path}) exists: "
                                f"finish it first ({proc.journal.path})", exitcodes.CRITICAL)
            SAY.out(f"Resuming the recovery of context {conn.context} from {proc.journal.path} "
                    f"(done: {', '.join(sorted(proc.done)) or 'nothing yet'})")
            _print_plan(plan, args)
        else:
            engine = RingEngine(conn, poll_interval=max(args.timeout, 15.0))
            async with engine:
                snap = await engine.wait_complete(args.timeout)
            plan = await proc.make_plan(snap, facts)
            _print_plan(plan, args)
        if args.dry_run:
            SAY.out("\nDry run: nothing changed. Run again with --confirm " + conn.context + " (or in a terminal).")
            return exitcodes.OK
        await proc.run(plan)
    except Refused as exc:
        return SAY.fail(f"refused: {exc}", exitcodes.CRITICAL)
    except StepFailed as exc:
        return SAY.fail(f"stopped: {exc} (run the same command again to retry from this step)", exitcodes.CRITICAL)
    except JournalError as exc:
        return SAY.fail(str(exc), exitcodes.CRITICAL)
    finally:
        await proc.close()
        proc.lock.release()
        await conn.close()
    SAY.out(f"\nRecovered: context {conn.context} runs {len(plan.nodes)} members from snapshot revision "
            f"{plan.snapshot.revision}.")
    return exitcodes.OK


def _print_plan(plan: Any, args: argparse.Namespace) -> None:
    s = plan.snapshot
    SAY.out(f"Recover context {plan.context} ({plan.server}) from a snapshot — quorum is lost")
    SAY.out(f"  snapshot {s.path}: revision {s.revision}, {s.total_keys} keys, {s.size} bytes, sha256 {s.sha256}, "
            f"age {_age(s.age_s)}")
    if plan.survivor_revision is not None:
        gap = plan.survivor_revision - s.revision
        SAY.out(f"  WILL BE LOST: {max(gap, 0)} revisions (a surviving member is at revision {plan.survivor_revision}); "
                f"{plan.lost_keys_total} keys written or changed after the snapshot:")
        for key in plan.lost_keys:
            SAY.out(f"    {key}")
        if plan.lost_keys_total > len(plan.lost_keys):
            SAY.out(f"    … and {plan.lost_keys_total - len(plan.lost_keys)} more")
    for note in plan.notes:
        SAY.out(f"  note: {note}")
    SAY.out(f"  restore on {plan.restore_node}; re-join {', '.join(plan.others) or 'nothing'}")
    SAY.out("  steps: " + ", ".join(plan.steps()))


def _age(seconds: float) -> str:
    from etcdtui.engine.backup_age import format_age

    return format_age(seconds)
