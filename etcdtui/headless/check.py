"""`etcdtui check`: evaluate the etcd ring once with the UI's engine, print the verdict, exit like Nagios.

Heavy imports (kubernetes, aiohttp) happen inside the handler so `etcdtui --version` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from etcdtui import exitcodes
from etcdtui.headless.arguments import seconds

if TYPE_CHECKING:
    from etcdtui.engine.snapshot import RingSnapshot

EPILOG = """exit codes:
  0  OK        ring healthy: all members up, hashes equal, corruption checks on
  1  WARNING   warnings only (e.g. corruption checks off, a pod restarting, a risky etcd version)
  2  CRITICAL  corruption (hash mismatch, CORRUPT alarm) or quorum lost
  3  UNKNOWN   could not check: bad kubeconfig, unknown context, API unreachable, 401/403,
               no etcd pods, etcdctl not runnable in any etcd pod, timeout

examples:
  etcdtui check
  etcdtui check --json --context prod | jq '.members[] | {pod, hash_agrees}'
  etcdtui check --prometheus /var/lib/node_exporter/textfile/etcdtui.prom
  etcdtui check --all-contexts --json | jq '.contexts[] | {context, status}'
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="evaluate the etcd ring once and exit 0/1/2/3 (OK/WARNING/CRITICAL/UNKNOWN)",
        description="Evaluate the etcd ring once, with the same engine as the UI, and print the verdict, "
        "the members and the findings (most severe first).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    out.add_argument("--prometheus", metavar="FILE", type=Path,
                     help="write the result in the Prometheus textfile-collector format to FILE (atomically)")
    parser.add_argument("--kubeconfig", metavar="K", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    parser.add_argument("--context", metavar="C", action="append", default=[],
                        help="kubeconfig context (default: the current context); repeat it to check several "
                             "contexts at once (one table, exit code the worst)")
    parser.add_argument("--all-contexts", action="store_true",
                        help="check every context of the kubeconfig (or those matching fleet.contexts in "
                             "config.yaml) concurrently")
    parser.add_argument("--namespace", metavar="NS", default="kube-system", help="namespace of the etcd pods")
    parser.add_argument("--selector", metavar="S", default="component=etcd", help="label selector of the etcd pods")
    parser.add_argument("--timeout", metavar="S", type=seconds(0, 3600, low_allowed=False), default=None,
                        help="give up on a context after S seconds (default 30, or fleet.timeout in config.yaml "
                             "with several contexts)")
    parser.set_defaults(handler=run)



def _error(message: str) -> int:
    sys.stderr.write(f"etcdtui check: {message}\n")
    return exitcodes.UNKNOWN


def run(args: argparse.Namespace) -> int:
    # Library loggers (aiohttp, asyncio) must not print tracebacks over our one-line errors.
    logging.basicConfig(level=logging.CRITICAL)
    if args.prometheus is not None and not args.prometheus.parent.is_dir():
        return _error(f"--prometheus: directory {args.prometheus.parent} does not exist")
    if args.all_contexts or len(set(args.context)) > 1:
        return _run_fleet(args)
    args.context = args.context[0] if args.context else None
    if args.timeout is None:
        args.timeout = 30.0
    from etcdtui.cluster.kube import ClusterError

    try:
        snap = asyncio.run(_evaluate(args))
    except ClusterError as exc:
        if args.prometheus is not None:
            _write_failure_metrics(args.prometheus, args.context or "", exc.message)
        return _error(exc.message)
    return _report(args, snap)


async def _evaluate(args: argparse.Namespace) -> RingSnapshot:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.ring_engine import RingEngine

    conn = await ClusterConnection.open(args.kubeconfig, args.context)
    try:
        engine = RingEngine(
            conn, namespace=args.namespace, selector=args.selector,
            poll_interval=max(args.timeout, 15.0), exec_timeout=min(10.0, args.timeout),
        )
        async with engine:
            snap = await engine.wait_complete(args.timeout)
            from etcdtui.engine.restart_logs import with_restart_logs

            return await with_restart_logs(conn, engine, snap, args.namespace)
    finally:
        await conn.close()


def _report(args: argparse.Namespace, snap: RingSnapshot) -> int:
    from etcdtui.headless import check_report as report

    code = report.exit_code(snap)
    nothing_seen = not snap.rows and code == exitcodes.UNKNOWN
    if args.prometheus is not None:
        from etcdtui.headless.ring_metrics import RingCollector, write_textfile

        collector = RingCollector()
        collector.update(snap)
        try:
            write_textfile(args.prometheus, collector)
        except OSError as exc:
            return _error(f"--prometheus {args.prometheus}: {exc.strerror or exc}")
    elif args.json:
        sys.stdout.write(json.dumps(report.check_json(snap), indent=2) + "\n")
    elif not nothing_seen:  # with nothing to show, the one-line error below is the whole answer
        sys.stdout.write(report.text_report(snap) + "\n")
    if code == exitcodes.UNKNOWN and snap.incomplete_reason:
        sys.stderr.write(f"etcdtui check: could not check: {snap.incomplete_reason}\n")
    return code


def _run_fleet(args: argparse.Namespace) -> int:
    from etcdtui.engine.fleet_config import FleetConfigError, load_fleet_settings
    from etcdtui.headless.check_fleet import run_fleet

    try:
        args.fleet_settings = load_fleet_settings()
    except FleetConfigError as exc:
        return _error(str(exc))
    return run_fleet(args)


def _write_failure_metrics(path: Path, context: str, reason: str) -> None:
    """Even when the cluster cannot be reached, the textfile says so (check_success 0, status 3)."""
    from etcdtui.headless.ring_metrics import RingCollector, write_textfile

    collector = RingCollector()
    collector.fail(context, reason)
    try:
        write_textfile(path, collector)
    except OSError:
        pass  # the one-line error about the cluster is the more useful message
