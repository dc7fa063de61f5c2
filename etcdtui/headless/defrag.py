"""`etcdtui defrag [--dry-run] [--confirm CONTEXT] [--rule EXPR]`: defragment the ring member by member, headless.

`--dry-run` prints the plan (the rule's verdict per member, the order, the gates) and changes nothing.
A run needs `--confirm CONTEXT` naming the kubeconfig context: a mismatch exits 2 before anything changes.
An interrupted run (killed, crashed) is resumed by running the command again: the journal remembers the plan.
Exit codes: 0 done (or the plan may run), 1 a step failed, 2 refused (a gate, the confirmation), 3 could not
evaluate (bad rule, unreachable cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from etcdtui import exitcodes
from etcdtui.headless.output import Output

SAY = Output("defrag")

EPILOG = """exit codes:
  0  done (with --dry-run: the plan may run)
  1  a step failed (run the command again to retry from there)
  2  refused: a gate (CORRUPT alarm, ring not healthy, quorum) or --confirm does not name the context
  3  could not evaluate: bad --rule, bad kubeconfig, cluster unreachable

rules (etcd-defrag's syntax; variables dbSize, dbSizeInUse, dbQuota in bytes):
  default  "(dbSize - dbSizeInUse) * 100 >= dbSize * 50 && dbSize >= 100 * 1000 * 1000"
  example  "dbSize > dbQuota*80/100 || dbSize - dbSizeInUse > 200*1024*1024"
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "defrag", help="defragment the etcd members one at a time (followers first, the leader last)",
        description="Defragment the members the rule selects, one at a time: followers first, the leader last "
                    "(leadership is moved first). Before each member the ring must be healthy, quorum kept with it "
                    "paused and no CORRUPT alarm set; after it, it must be healthy and caught up. With a NOSPACE "
                    "alarm the plan is the way out: compact, defragment every member, alarm disarm.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="print the plan and the gates; change nothing")
    p.add_argument("--confirm", metavar="CONTEXT", help="run without questions; must equal the context name")
    p.add_argument("--rule", metavar="EXPR", help="which members need it (etcd-defrag syntax, see below)")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--namespace", default="kube-system", help="namespace of the etcd pods")
    p.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


class _Printer:
    """Answers with the member name or context once --confirm matched; prints each change as it happens."""

    def __init__(self, confirmed: bool) -> None:
        self.confirmed = confirmed
        self.proc: Any = None
        self.printed: dict[int, tuple[str, int]] = {}

    async def ask(self, question: Any) -> str | None:
        if not self.confirmed:
            return None
        SAY.out(f"  confirmed by --confirm {question.context}: {question.title}")
        return str(question.expect)

    def changed(self, step: int | None) -> None:
        if self.proc is None or step is None:
            return
        s = self.proc.checklist.step(step)
        status, shown = self.printed.get(step, ("", 0))
        if status in ("", "pending") and s.status.value != "pending":
            SAY.out(f"[{step}] {s.title}")
        new = s.output[shown - s.dropped_lines:] if shown >= s.dropped_lines else s.output
        for line in new:
            SAY.out(f"    {line}")
        shown = s.dropped_lines + len(s.output)
        if s.status.value != status and s.status.value not in ("running", "pending"):
            SAY.out(f"    → {s.status.value}" + (f": {s.reason}" if s.reason else ""))
        self.printed[step] = (s.status.value, shown)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.CRITICAL)
    from etcdtui.core.defrag_rules import DEFAULT_RULE, RuleError, parse_rule

    try:
        parse_rule(args.rule or DEFAULT_RULE)
    except RuleError as exc:
        return SAY.fail(f"--rule: {exc}", exitcodes.UNKNOWN)
    if not args.dry_run and args.confirm is None:
        return SAY.fail("a run changes the cluster: pass --confirm CONTEXT (the kubeconfig context), or --dry-run",
                        exitcodes.UNKNOWN)
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterConnection, ClusterError
    from etcdtui.core.defrag_rules import DEFAULT_RULE
    from etcdtui.engine.defrag import DefragProcedure, DefragSettings
    from etcdtui.engine.replace import Outcome, StepFailed
    from etcdtui.engine.replace_journal import JournalError
    from etcdtui.engine.ring_engine import RingEngine

    try:
        conn = await ClusterConnection.open(args.kubeconfig, args.context)
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)
    try:
        if args.confirm is not None and not args.dry_run and args.confirm != conn.context:
            return SAY.fail(f"refused: --confirm {args.confirm!r} does not name the context {conn.context!r}; "
                            "nothing changed", exitcodes.CRITICAL)
        printer = _Printer(confirmed=not args.dry_run)
        settings = DefragSettings(rule=args.rule or DEFAULT_RULE, state_dir=args.state_dir, namespace=args.namespace)
        # Polls every 2 s: each gate and each wait reads a poll made after it asked (fresh_snapshot).
        async with RingEngine(conn, namespace=args.namespace, poll_interval=2.0) as engine:
            proc = DefragProcedure(conn, engine, settings, printer)
            printer.proc = proc
            if args.dry_run:
                return await _dry_run(proc)
            try:
                await proc.open()
            except JournalError as exc:
                return SAY.fail(str(exc), exitcodes.CRITICAL)
            SAY.out(f"Defragment the etcd ring of context {conn.context} ({conn.server})" +
                  (" — resuming the interrupted run" if proc.resumed else ""))
            try:
                outcome = await proc.run()
            finally:
                await proc.close()
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)
    except StepFailed as exc:
        return SAY.fail(f"could not evaluate: {exc}", exitcodes.UNKNOWN)
    finally:
        await conn.close()
    failed = next((s for s in proc.checklist.steps if s.status.value == "failed"), None)
    SAY.out(f"OUTCOME {outcome.value}" + (f": step {failed.id} {failed.reason}" if failed else ""))
    codes = {Outcome.DONE: exitcodes.OK, Outcome.REFUSED: exitcodes.CRITICAL, Outcome.PAUSED: exitcodes.CRITICAL}
    return codes.get(outcome, exitcodes.WARNING)


async def _dry_run(proc: Any) -> int:
    from etcdtui.engine.defrag import alarm_names, layout_for

    snap = await proc.evaluate()
    if not snap.rows or not snap.members_total:
        return SAY.fail(f"could not evaluate: {snap.incomplete_reason or snap.connection.text or 'no member list'}",
                        exitcodes.UNKNOWN)
    out = sys.stdout.write
    out(f"Defragment the etcd ring of context {proc.conn.context} ({proc.conn.server}) — dry run, nothing changes\n\n")
    for line in proc.plan_lines():
        out(f"  {line}\n")
    alarms = alarm_names(snap)
    if alarms:
        out(f"  alarms: {', '.join(alarms)}\n")
    ok, detail = proc.gate_now(snap)
    out(f"\nGate: [{'ok' if ok else 'REFUSED'}] {detail}\n\nSteps:\n")
    for i, (spec, _) in enumerate(layout_for(proc.entries, proc.nospace)):
        out(f"  {i}. {spec.title}{' (confirmation)' if spec.destructive else ''}\n")
    if not ok:
        return SAY.fail(detail, exitcodes.CRITICAL)
    out(f"\nThe procedure may run: `etcdtui defrag --confirm {proc.conn.context}`.\n")
    return exitcodes.OK
