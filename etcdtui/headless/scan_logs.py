"""`etcdtui scan-logs`: find corruption evidence and trouble in saved etcd logs (e.g. `kubectl logs` output).

The I/O half of `etcdtui.core.scan`: reads each file in large binary chunks, splits lines (an over-long
line is cut at `MAX_LINE` bytes and counted), feeds the pure scanner, keeps a bounded number of findings
per kind, runs the cross-member compaction-hash check over all files, and prints either a report for an
operator or one JSON object.

Big regular files (≥ `PARALLEL_MIN`) are cut into stripes of `STRIPE` bytes, each digested
(`core.scan_digest.digest_block`: the stateless part, i.e. finding and classifying the lines that are not
routine) by worker processes that read their own byte range; this process feeds the digests to the
scanner in file order (the stateful part: startup context, leader losses, line numbers). At most
`2 × jobs` stripes are in flight, so memory stays bounded. stdin and small files are read sequentially.

Here: the command line. Reading is `scan_reading`, feeding the scanner (and the workers) `scan_collect`,
the report and the JSON object `scan_report`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import cast

from etcdtui import exitcodes
from etcdtui.headless.scan_collect import scan_sources
from etcdtui.headless.scan_reading import InputError, Readable, sources_for
from etcdtui.headless.scan_report import overall_status, render_text, to_json

EPILOG = """exit codes:
  0  OK        no trouble found (healthy logs, passed checks)
  1  WARNING   warnings only (e.g. a corruption check that compared no peer, slow disk, NOSPACE)
  2  CRITICAL  corruption evidence (hash mismatch, data inconsistency, CORRUPT alarm)
  3  UNKNOWN   could not check: missing/unreadable file, a directory, no etcd log line in a file,
               bad arguments

examples:
  kubectl -n kube-system logs etcd-cp-1 --timestamps | etcdtui scan-logs --member etcd-cp-1 -
  etcdtui scan-logs etcd-cp-1.log etcd-cp-2.log etcd-cp-3.log     # also compares compaction hashes
  etcdtui scan-logs --json etcd-*.log | jq .status
"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scan-logs",
        help="scan saved etcd logs for corruption evidence and trouble",
        description="Scan etcd log files (zap JSON or 3.4 capnslog text, with or without `kubectl logs "
        "--timestamps` prefixes) and print the findings that matter, most severe first, with file:line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="log file to scan; '-' reads stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--member", metavar="NAME",
                        help="member name for all FILEs (default: each file's name without extension)")
    parser.add_argument("--all", action="store_true",
                        help="show every finding, including info and passed checks, and every occurrence kept")
    parser.add_argument("--jobs", type=_jobs_arg, metavar="N",
                        help="worker processes for big files (default: one per CPU; 1: no workers)")

    parser.set_defaults(handler=run)


# --- entry point ---------------------------------------------------------------------------------


def _jobs_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        sources = sources_for(list(args.files), args.member)
        stdin = cast(Readable, sys.stdin.buffer)  # a BufferedReader: it has readinto
        collected, summaries, book = scan_sources(sources, stdin, args.jobs)
    except InputError as exc:
        sys.stderr.write(f"etcdtui scan-logs: error: {exc}\n")
        return exitcodes.UNKNOWN
    status = overall_status(collected, summaries)
    if args.json:
        document = to_json(status, collected, summaries, book, sources)
        sys.stdout.write(json.dumps(document, default=str, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(status, collected, summaries, sources, args.all) + "\n")
    for summary in summaries:
        if summary.etcd_lines == 0:
            sys.stderr.write(f"etcdtui scan-logs: {summary.source}: no etcd log line found; not checked\n")
    sys.stdout.flush()
    return int(status)

