"""`etcdtui check --all-contexts` / `--context A --context B`: every context checked concurrently, one table,
exit code the worst status (CRITICAL > UNKNOWN > WARNING > OK).

A context that refuses, hangs or rejects the credentials is UNKNOWN with its one-line reason; it costs at
most its own timeout and never delays the others (etcdtui.engine.fleet).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from etcdtui import exitcodes

if TYPE_CHECKING:
    from pathlib import Path

    from etcdtui.engine.fleet import ContextCheck
    from etcdtui.engine.fleet_summary import FleetRow

# Nagios exit codes ordered by how urgently they need a look: CRITICAL > UNKNOWN > WARNING > OK.
_URGENCY = {exitcodes.OK: 0, exitcodes.WARNING: 1, exitcodes.UNKNOWN: 2, exitcodes.CRITICAL: 3}


def worst_code(codes: list[int]) -> int:
    return max(codes, key=_URGENCY.__getitem__, default=exitcodes.UNKNOWN)


def resolve_contexts(args: argparse.Namespace) -> list[str]:
    """--context (repeated) as given; --all-contexts: the kubeconfig's contexts, narrowed by `fleet.contexts`."""
    from etcdtui.cluster.kube import kubeconfig_contexts
    from etcdtui.engine.fleet_config import select_contexts

    if not args.all_contexts:
        return list(dict.fromkeys(args.context))
    available = kubeconfig_contexts(args.kubeconfig)
    patterns = args.fleet_settings.contexts
    return select_contexts(available, patterns) if patterns else available


def run_fleet(args: argparse.Namespace) -> int:
    from etcdtui.cluster.kube import ClusterError
    from etcdtui.engine.fleet import check_contexts
    from etcdtui.engine.restart_logs import with_restart_logs

    try:
        contexts = resolve_contexts(args)
    except ClusterError as exc:
        sys.stderr.write(f"etcdtui check: {exc.message}\n")
        return exitcodes.UNKNOWN
    if not contexts:
        sys.stderr.write("etcdtui check: no context matches fleet.contexts in the config\n")
        return exitcodes.UNKNOWN
    settings = args.fleet_settings
    timeout = args.timeout if args.timeout is not None else (settings.timeout or 30.0)
    results = asyncio.run(check_contexts(
        args.kubeconfig, contexts, namespace=args.namespace, selector=args.selector, timeout=timeout,
        concurrency=settings.concurrency, finish=lambda conn, engine, snap: with_restart_logs(
            conn, engine, snap, args.namespace),
    ))
    return report(args, results)


def _code(result: ContextCheck) -> int:
    from etcdtui.headless.check_report import exit_code

    return exit_code(result.snapshot) if result.snapshot is not None else exitcodes.UNKNOWN


def context_json(result: ContextCheck) -> dict[str, Any]:
    """Today's per-context `check --json` object; a context never reached gets the same keys and its reason."""
    from etcdtui.headless.check_report import check_json

    if result.snapshot is not None:
        return check_json(result.snapshot)
    reason = result.error or "could not check"
    return {"status": "UNKNOWN", "verdict": "UNKNOWN", "context": result.context, "members": [],
            "findings": [{"kind": "check.unreachable", "severity": "warning", "message": reason, "member": None,
                          "fields": {}}]}


def report(args: argparse.Namespace, results: list[ContextCheck]) -> int:
    from etcdtui.core.findings import Status

    code = worst_code([_code(r) for r in results])
    if args.prometheus is not None:
        try:
            write_metrics(args.prometheus, results)
        except OSError as exc:
            sys.stderr.write(f"etcdtui check: --prometheus {args.prometheus}: {exc.strerror or exc}\n")
            return exitcodes.UNKNOWN
    elif args.json:
        doc = {"status": Status(code).name, "contexts": [context_json(r) for r in results]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(text_table(results) + "\n")
    return code


def fleet_rows(results: list[ContextCheck]) -> list[FleetRow]:
    from etcdtui.engine.fleet_summary import row_from_failure, row_from_snapshot, worst_first

    return worst_first(row_from_snapshot(r.snapshot) if r.snapshot is not None
                       else row_from_failure(r.context, r.error or "could not check") for r in results)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return "-"


def text_table(results: list[ContextCheck]) -> str:
    took = {r.context: r.seconds for r in results}
    header = ("CONTEXT", "VERDICT", "HEALTHY", "TOLERATES", "LEADER", "VERSIONS", "CHECKS", "HASHES", "LARGEST DB",
              "TOOK", "WORST")
    table = [header]
    for row in fleet_rows(results):
        versions = ",".join(f"{v}!" if risky else v for v, risky in row.versions) or "-"
        checks = "-" if row.checks_off is None else ("on" if row.checks_off == 0 else f"off on {row.checks_off}")
        table.append((
            row.context, row.verdict.value, f"{row.healthy}/{row.members}" if row.members else "-",
            "-" if row.fault_tolerance is None else str(row.fault_tolerance), row.leader or "-", versions, checks,
            row.hashes, _size(row.largest_db), f"{took.get(row.context, 0.0):.1f}s", row.worst or "-",
        ))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)), r[-1]]).rstrip() for r in table]
    return "\n".join(lines)


def write_metrics(path: Path, results: list[ContextCheck]) -> None:
    """Every context's series in one textfile: the one metric definition (ring_metrics), a `context` label each;
    a context never reached says ring_status 3 and check_success 0 with its reason."""
    from etcdtui.headless.ring_metrics import RingCollector, write_textfile

    collector = RingCollector()
    for r in results:
        if r.snapshot is not None:
            collector.update(r.snapshot)
        else:
            collector.fail(r.context, r.error or "could not check")
    write_textfile(path, collector)
