"""`etcdtui replace NODE [--dry-run]`: replace a corrupted etcd member (the checklist), or print its plan.

In a terminal the app opens at NODE: it diagnoses NODE first (corrupted member, or dead machine) and asks the
operator to confirm the variant (ui/replace_variant.py); `--confirm CONTEXT` runs the dead-machine variant headless.

`--dry-run` evaluates every gate and prints the plan (steps, exact commands and API calls, ssh target and
bastion, gate results) without changing anything: exit 0 when the procedure may run, 2 when a gate refuses,
3 when it could not evaluate. `--confirm CONTEXT` runs the chosen variant headless (headless/replace_dead.py,
headless/replace_live.py). Otherwise the app opens directly at the checklist.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etcdtui import exitcodes

if TYPE_CHECKING:
    from etcdtui.engine.context_settings import ClusterSettings
    from etcdtui.engine.replace import ReplaceSettings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replace",
        help="replace a corrupted etcd member (KubeOne's procedure as a checklist)",
        description="Replace the etcd member of NODE: drain, kubeadm reset, delete the Node, kubeone apply, "
                    "verify. Every destructive step asks for the node name; the quorum gate is re-checked before "
                    "each. When NODE's machine is gone (ssh unreachable, member unreachable or Node NotReady/gone) "
                    "the dead-machine variant runs instead (docs/recover.md): the app says what it found and asks "
                    "you to confirm the variant; --confirm CONTEXT runs that variant headless. --dry-run prints the "
                    "plan and the gate results and changes nothing.",
        epilog="exit codes (--dry-run): 0 the procedure may run, 2 a gate refuses, 3 could not evaluate",
    )
    p.add_argument("node", metavar="NODE", help="the Kubernetes Node whose etcd member is replaced")
    p.add_argument("--dry-run", action="store_true", help="print the plan and the gates; change nothing")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--kubeone-manifest", metavar="M", help="kubeone.yaml (default: the context's, docs/config.md)")
    p.add_argument("--kubeone-tf", metavar="T", help="tf.json (terraform output -json)")
    p.add_argument("--kubeone", metavar="PATH", help="the kubeone binary (default: the context's, then PATH)")
    p.add_argument("--known-hosts", metavar="FILE", help="known_hosts for the node and bastion host keys "
                   "(default: the context's, else ~/.ssh/known_hosts)")
    p.add_argument("--flavour", choices=("kubeone", "kubeadm"),
                   help="how the node re-joins: kubeone apply, or kubeadm join (default: the context's "
                        "flavour, else kubeone when a kubeone manifest is configured, docs/flavours.md)")
    p.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--readonly", action="store_true", help="read-only: the procedure is not available")
    from etcdtui.headless.replace_dead import add_arguments  # noqa: PLC0415 - issue #13: dead-machine variant

    add_arguments(p)
    p.set_defaults(handler=_main)


def _fail(message: str) -> None:
    sys.stderr.write(f"etcdtui replace: {message.rstrip()}\n")


def flags_from(args: Any) -> ClusterSettings:
    """The command line's share of the context's settings (it wins over config.yaml and the kubeconfig)."""
    from etcdtui.headless.context_flags import flags_of

    return flags_of(args)


def settings_from(args: Any, context: str) -> ReplaceSettings:
    """What the checklist uses, resolved for `context` exactly as the app resolves it."""
    from etcdtui.headless.context_flags import replace_settings

    return replace_settings(args, context)


def _main(args: argparse.Namespace) -> int:
    from etcdtui.core.names import InvalidNameError, validate_node_name

    try:
        validate_node_name(args.node)
    except InvalidNameError as exc:
        _fail(str(exc))
        return exitcodes.UNKNOWN
    if args.readonly:
        _fail("read-only mode: the replace procedure is not available")
        return exitcodes.CRITICAL
    if args.dry_run:
        return asyncio.run(_dry_run(args))
    if getattr(args, "confirm", None) is not None:
        from etcdtui.headless.replace_dead import run as run_headless

        return run_headless(args)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _fail("the checklist needs a terminal; use --dry-run in scripts")
        return exitcodes.UNKNOWN
    from etcdtui.ui.navigation import ReplaceView
    from etcdtui.ui.session import Connection, run_command

    return run_command(Connection(kubeconfig=args.kubeconfig, context=args.context), ReplaceView(args.node),
                       prog="etcdtui replace", flags=flags_from(args), replace_state_dir=getattr(args, "state_dir", None))


class _NoQuestions:
    async def ask(self, question: Any) -> str | None:
        return None  # a dry run answers no to everything (it never gets there: it runs no step)

    def changed(self, step: Any) -> None:
        pass


async def _dry_run(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterError
    from etcdtui.core.checklist import StepId, alarm_note
    from etcdtui.engine.connected import connected_engine
    from etcdtui.engine.context_settings import SettingsError
    from etcdtui.engine.replace import ReplaceProcedure, StepFailed

    try:
        async with connected_engine(kubeconfig=args.kubeconfig, context=args.context) as engine:
            proc = ReplaceProcedure(engine.conn, engine, settings_from(args, engine.conn.context), _NoQuestions())
            ctx, snap = await proc.evaluate()  # on a poll made now (a member down: incomplete, the gates judge)
            if not snap.rows or not snap.members_total:
                _fail(f"could not evaluate: {snap.incomplete_reason or snap.connection.text or 'no member list'}")
                return exitcodes.UNKNOWN
    except ClusterError as exc:
        _fail(exc.message)
        return exitcodes.UNKNOWN
    except StepFailed as exc:
        _fail(f"could not evaluate: {exc}")
        return exitcodes.UNKNOWN
    except SettingsError as exc:
        _fail(str(exc))
        return exitcodes.UNKNOWN
    out = sys.stdout.write
    out(f"Replace the etcd member of {args.node} on context {ctx.context} ({ctx.server}) — dry run, nothing "
        "changes\n\n")
    for line in ctx.lines:
        out(f"  {line}\n")
    for warning in ctx.warnings:
        out(f"  warning: {warning}\n")
    out("\nGates:\n")
    for gate in proc.gates.values():
        out(f"  [{'ok' if gate.passed else 'REFUSED'}] {gate.name}: {gate.detail}\n")
        for warning in gate.warnings:
            out(f"        warning: {warning}\n")
    note = alarm_note(snap.alarms)
    if note:
        out(f"  [note] alarm: {note}\n")
    for problem in ctx.problems:
        out(f"  [PROBLEM] context: {problem}\n")
    out("\nSteps:\n")
    for step in StepId:
        marker = " (destructive: type the node name; quorum re-checked first)" if step in (
            StepId.DRAIN, StepId.RESET, StepId.DELETE_NODE, StepId.APPLY) else ""
        out(f"  {int(step)}. {proc.checklist.step(step).title}{marker}\n")
        for command in proc.commands(step):
            out(f"       {command}\n")
    refused = [g for g in proc.gates.values() if not g.passed]
    if refused:
        out(f"\nREFUSED: {refused[0].detail}\n")
        _fail(f"refused: {refused[0].detail}")
        return exitcodes.CRITICAL
    if ctx.problems:
        _fail(f"could not evaluate: {ctx.problems[0]}")
        return exitcodes.UNKNOWN
    out("\nThe procedure may run: `etcdtui replace " + args.node + "` (without --dry-run).\n")
    return exitcodes.OK
