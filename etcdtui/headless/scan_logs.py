"""`etcdtui scan-logs`: find corruption evidence and trouble in saved etcd logs (e.g. `kubectl logs` output).

The I/O half of `etcdtui.core.scan`: reads each file in large binary chunks, splits lines (an over-long
line is cut at `MAX_LINE` bytes and counted), feeds the pure scanner, keeps a bounded number of findings
per kind, runs the cross-member compaction-hash check over all files, and prints either a report for an
operator or one JSON object.

Big regular files (≥ `PARALLEL_MIN`) are cut into stripes of `STRIPE` bytes, each digested
(`core.scan.digest_block`: the stateless part, i.e. finding and classifying the lines that are not
routine) by worker processes that read their own byte range; this process feeds the digests to the
scanner in file order (the stateful part: startup context, leader losses, line numbers). At most
`2 × jobs` stripes are in flight, so memory stays bounded. stdin and small files are read sequentially.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import sys
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from concurrent.futures import Future

from etcdtui import exitcodes
from etcdtui.core.classify import RULES
from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.scan import Digest, LogScanner, ScanHit, ScanSummary, digest_block

CHUNK = 4 << 20  # bytes per read
MAX_LINE = 1 << 20  # longer lines are cut (binary garbage without newlines must not fill memory)
PARALLEL_MIN = 64 << 20  # smaller files are not worth starting workers for
STRIPE = 8 << 20  # bytes of a file per worker task
SAMPLE = 8 << 20  # bytes read here first, to see whether the log is mostly findings
HEAVY_PER_MB = 200  # findings per MB: a long-running log gives ~20, an incident-only log ~450 (_scan_parallel)
PER_KIND = 200  # findings kept per kind; the rest are counted
SHOWN_PER_KIND = 5  # occurrences printed per kind without --all

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


class InputError(Exception):
    """A file that cannot be scanned: one line for the operator, exit code 3."""


class WorkerDied(Exception):
    """A worker process ended without a result (killed, e.g. by the OOM killer)."""


# --- reading -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Source:
    label: str  # what the report calls it: the path as given, or "stdin"
    member: str
    path: str | None  # None = stdin


def sources_for(files: list[str], member: str | None) -> list[Source]:
    if files.count("-") > 1:
        raise InputError("'-' (stdin) can be given only once")
    result = []
    for name in files:
        if name == "-":
            result.append(Source("stdin", member or "stdin", None))
            continue
        _check_readable(name)
        result.append(Source(name, member or Path(name).stem, name))
    return result


def _check_readable(name: str) -> None:
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{name}: is a directory, expected a log file")
    if not path.exists():
        raise InputError(f"{name}: no such file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


def read_blocks(stream: _Readable) -> Iterator[tuple[bytes | None, int, int]]:
    """Yield (complete lines joined by newlines or None if there is none yet, bytes read, lines cut):
    `read_regions` with each region copied out of the reused buffer."""
    for data, end, nbytes, cut in read_regions(stream):
        yield (None if data is None else bytes(data[:end])), nbytes, cut


def read_regions(stream: _Readable) -> Iterator[tuple[bytes | bytearray | None, int, int, int]]:
    """Yield (data or None if no line is complete yet, end, bytes read, lines cut): `data[:end]` holds
    complete lines joined by newlines, valid until the next step (one buffer is reused: no new memory
    per read).

    Memory stays near CHUNK + MAX_LINE: a line longer than MAX_LINE bytes is cut there (its head is kept,
    the rest dropped and the cut counted), e.g. binary garbage without newlines. Where the reads fall
    does not change what is cut, so a file read in stripes gives the same lines as read whole.
    """
    buffer = bytearray(CHUNK + MAX_LINE + 1)
    view = memoryview(buffer)
    held = 0  # bytes of an unfinished line kept at the front of the buffer
    skipping = False  # inside an over-long line whose head was already emitted
    try:
        while True:
            nbytes = stream.readinto(view[held : held + CHUNK]) or 0
            if not nbytes:
                break
            total = held + nbytes
            if skipping:  # held is 0
                newline = buffer.find(b"\n", 0, total)
                if newline < 0:
                    yield None, 0, nbytes, 0
                    continue
                total -= newline + 1
                buffer[:total] = bytes(view[newline + 1 : newline + 1 + total])  # (no overlapping copy)
                skipping = False
            end = buffer.rfind(b"\n", 0, total)
            data, region_end, cut = _cut_long_lines(buffer, end) if end > MAX_LINE else (buffer, end, 0)
            if total - end - 1 > MAX_LINE:  # the unfinished line is already too long: emit its head
                head = view[end + 1 : end + 1 + MAX_LINE]
                if data is buffer:  # the head follows the lines in the buffer
                    region_end = end + 1 + MAX_LINE
                else:
                    data = bytes(data[:region_end]) + b"\n" + bytes(head)
                    region_end = len(data)
                held, skipping = 0, True
                yield data, region_end, nbytes, cut + 1
                continue
            if end < 0:
                held = total
                yield None, 0, nbytes, 0
                continue
            yield data, region_end, nbytes, cut
            held = total - end - 1
            buffer[:held] = bytes(view[end + 1 : total])  # the unfinished line (short) to the front
        if held:
            yield buffer, held, 0, 0
    finally:
        view.release()


def _cut_long_lines(data: bytes | bytearray, end: int) -> tuple[bytes | bytearray, int, int]:
    """Cut the lines of `data[:end]` that are longer than MAX_LINE: (data, end, lines cut). The common
    case (no such line) is checked with a few C-speed rfinds and returns `data` as it is."""
    pos = kept_from = 0
    parts: list[bytes] = []
    while end - pos > MAX_LINE:
        newline = data.rfind(b"\n", pos, pos + MAX_LINE + 1)
        if newline >= 0:  # every line that starts before it is short enough
            pos = newline + 1
            continue
        parts.append(bytes(data[kept_from : pos + MAX_LINE]))
        newline = data.find(b"\n", pos + MAX_LINE, end)
        kept_from = pos = end if newline < 0 else newline  # from its newline on
    if not parts:
        return data, end, 0
    parts.append(bytes(data[kept_from:end]))
    joined = b"".join(parts)
    return joined, len(joined), len(parts) - 1


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class _Stripe:
    """A byte range of an open file, read with pread (each worker keeps its own offset)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def readinto(self, buffer: memoryview, /) -> int:
        size = min(len(buffer), self.end - self.pos)
        if size <= 0:
            return 0
        read = os.preadv(self.fd, [buffer[:size]], self.pos)
        self.pos += read
        return read


def _line_start(fd: int, pos: int, size: int) -> int:
    """The first line start at or after `pos`: a line belongs to the stripe its first byte is in."""
    if pos <= 0:
        return 0
    pos -= 1  # a line starts at pos if the byte before it is a newline
    while pos < size:
        piece = os.pread(fd, min(1 << 16, size - pos), pos)
        if not piece:
            break
        newline = piece.find(b"\n")
        if newline >= 0:
            return pos + newline + 1
        pos += len(piece)
    return size


def digest_stripe(path: str, start: int, end: int, size: int) -> tuple[list[Digest], int, int]:
    """Worker task: digest the lines that start in [start, end) of a file of `size` bytes.
    Returns (digests in order, bytes read, lines cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        low, high = _line_start(fd, start, size), _line_start(fd, end, size)
        digests, nbytes, cut = [], 0, 0
        for data, end, read, cut_here in read_regions(_Stripe(fd, low, high)):
            nbytes += read
            cut += cut_here
            if data is not None:
                digests.append(digest_block(data, end))
        return digests, nbytes, cut
    finally:
        os.close(fd)


def _jobs_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _parallel_jobs(path: str, jobs: int) -> int:
    """How many workers to use for this file: 0 means read it here (stdin-like, small, or one CPU)."""
    if jobs < 2 or not hasattr(os, "fork"):  # workers are forked: they start at once, nothing re-imported
        return 0
    try:
        info = os.stat(path)
    except OSError:
        return 0
    if not stat.S_ISREG(info.st_mode) or info.st_size < PARALLEL_MIN:
        return 0
    return min(jobs, -(-info.st_size // STRIPE))


# --- collecting ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Collected:
    hits: dict[str, list[ScanHit]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    dropped: int = 0

    def add(self, hit: ScanHit) -> None:
        kind = hit.finding.kind
        self.counts[kind] += 1
        kept = self.hits.setdefault(kind, [])
        if len(kept) < PER_KIND:
            kept.append(hit)
        else:
            self.dropped += 1


def scan_sources(sources: list[Source], stdin: _Readable, jobs: int | None = None
                 ) -> tuple[Collected, list[ScanSummary], CompactionHashBook]:
    book = CompactionHashBook()
    collected = Collected()
    summaries = []
    jobs = default_jobs() if jobs is None else jobs
    for source in sources:
        scanner = LogScanner(source.label, source.member, compactions=book)
        try:
            if source.path is None:
                scanner.summary.bytes = _scan_stream(scanner, stdin, collected)
            elif workers := _parallel_jobs(source.path, jobs):
                scanner.summary.bytes = _scan_parallel(scanner, source.path, workers, collected)
            else:
                with open(source.path, "rb", buffering=0) as stream:
                    scanner.summary.bytes = _scan_stream(scanner, stream, collected)
        except OSError as exc:
            raise InputError(f"{source.label}: read failed: {exc.strerror or exc}") from None
        except WorkerDied:
            raise InputError(f"{source.label}: a worker process died (out of memory?); try --jobs 1") from None
        for hit in scanner.finish():
            collected.add(hit)
        summaries.append(scanner.summary)
    for compaction_finding in book.findings():
        collected.add(_compaction_hit(compaction_finding))
    return collected, summaries, book


def _scan_stream(scanner: LogScanner, stream: _Readable, collected: Collected) -> int:
    """Scan a stream here; returns the bytes read (exact, unlike `feed`'s estimate)."""
    total = 0
    for data, end, nbytes, cut in read_regions(stream):
        total += nbytes
        scanner.summary.truncated_lines += cut
        if data is None:
            continue
        for hit in scanner.feed_block(data, end):
            collected.add(hit)
    return total


def _scan_parallel(scanner: LogScanner, path: str, jobs: int, collected: Collected) -> int:
    """Digest stripes of the file in `jobs` workers and feed them here in file order; returns bytes read.

    A log that is mostly findings (more than `HEAVY_PER_MB` findings or digest events per MB) is read
    here instead: shipping its findings from the workers costs more than digesting them. The first
    `SAMPLE` bytes are read here (while the workers start on the next stripes) to decide; a stripe that
    turns out heavy later makes the rest be read here too."""
    import multiprocessing  # here: only big files pay for importing these
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        done = _line_start(fd, SAMPLE, size)  # the sample ends on a line start
        stripes = iter(range(done, size, STRIPE))
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
        try:
            pending: deque[Future[tuple[list[Digest], int, int]]] = deque()
            for low in stripes:  # workers start now; at most 2 stripes per worker queued: bounded memory
                pending.append(pool.submit(digest_stripe, path, low, min(low + STRIPE, size), size))
                if len(pending) >= jobs:
                    break
            _scan_stream(scanner, _Stripe(fd, 0, done), collected)
            if sum(scanner.summary.by_kind.values()) <= HEAVY_PER_MB * done / 1e6:
                while pending:
                    while len(pending) < 2 * jobs and (low := next(stripes, -1)) >= 0:
                        pending.append(pool.submit(digest_stripe, path, low, min(low + STRIPE, size), size))
                    digests, nbytes, cut = pending.popleft().result()
                    done += nbytes
                    scanner.summary.truncated_lines += cut
                    events = 0
                    for digest in digests:
                        events += len(digest.events)
                        for hit in scanner.feed_digest(digest):
                            collected.add(hit)
                    if events > HEAVY_PER_MB * nbytes / 1e6:
                        break
            for future in pending:
                future.cancel()
            total = done + (_scan_stream(scanner, _Stripe(fd, done, os.fstat(fd).st_size), collected)
                            if done < size else 0)
        except BrokenProcessPool:
            raise WorkerDied() from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # on an error, each worker ends its stripe and exits
    finally:
        os.close(fd)
    return total


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the parent, which stops the pool


def _compaction_hit(item: Finding) -> ScanHit:
    where: dict[str, str] = item.fields.get("where", {})
    member = item.member or (item.fields.get("members") or ["?"])[0]
    location = where.get(member, "")
    label, _, line = location.rpartition(":")
    return ScanHit(int(line) if line.isdigit() else 0, item, None, "finished scheduled compaction",
                   label or "(several files)", member)


# --- reporting -----------------------------------------------------------------------------------


def overall_status(collected: Collected, summaries: list[ScanSummary]) -> Status:
    severities = {hit.finding.severity for hits in collected.hits.values() for hit in hits}
    if Severity.CRITICAL in severities:
        return Status.CRITICAL
    if any(s.etcd_lines == 0 for s in summaries):
        return Status.UNKNOWN
    if Severity.WARNING in severities:
        return Status.WARNING
    return Status.OK


def _sorted_hits(collected: Collected, sources: list[Source]) -> list[ScanHit]:
    # Most severe first; within a severity the strongest evidence first (RULES lists it in that order).
    rank = {source.label: i for i, source in enumerate(sources)}
    strength = {kind: i for i, kind in enumerate(RULES)}
    hits = [hit for kept in collected.hits.values() for hit in kept]
    hits.sort(key=lambda h: (-h.finding.severity, strength.get(h.finding.kind, len(strength)),
                             rank.get(h.source, len(rank)), h.line))
    return hits


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(status: Status, collected: Collected, summaries: list[ScanSummary], book: CompactionHashBook,
            sources: list[Source]) -> dict[str, Any]:
    findings = [
        {
            "file": hit.source,
            "line": hit.line,
            "member": hit.member,
            "ts": _iso(hit.ts),
            "severity": hit.finding.severity.label,
            "kind": hit.finding.kind,
            "msg": hit.etcd_msg,
            "message": hit.finding.message,
            "about_member_id": hit.finding.member,
            "fields": hit.finding.fields,
        }
        for hit in _sorted_hits(collected, sources)
    ]
    by_severity: Counter[str] = Counter()
    for kind, count in collected.counts.items():
        by_severity[_severity_label(collected, kind)] += count
    files = []
    for summary in summaries:
        entry = summary.to_dict()
        entry["first_ts"], entry["last_ts"] = _iso(summary.first_ts), _iso(summary.last_ts)
        files.append(entry)
    return {
        "status": status.name,
        "findings": findings,
        "summary": {
            "files": files,
            "lines": sum(s.lines for s in summaries),
            "bytes": sum(s.bytes for s in summaries),
            "unparsed_lines": sum(s.unparsed for s in summaries),
            "by_kind": dict(collected.counts),
            "by_severity": dict(by_severity),
            "findings_dropped": collected.dropped,
            "suspect_members": suspects(collected),
            "findings_kept_per_kind": PER_KIND,
            "compaction_revisions_compared": len(book),
            "compaction_revisions_dropped": book.dropped_revisions,
        },
    }


def _severity_label(collected: Collected, kind: str) -> str:
    kept = collected.hits.get(kind)
    return kept[0].finding.severity.label if kept else RULES[kind].severity.label


_HEADLINES = {
    Status.OK: "OK: no corruption evidence and no warnings in the etcd logs",
    Status.WARNING: "WARNING: no corruption evidence, but things to look at",
    Status.CRITICAL: "CRITICAL: corruption evidence in the etcd logs",
    Status.UNKNOWN: "UNKNOWN: could not check everything",
}


_SELF_EVIDENCE = ("corruption.initial_hash_mismatch", "corruption.initial_check_failed",
                  "corruption.data_inconsistency")


def suspects(collected: Collected) -> dict[str, str]:
    """Members whose own logs say their data differs (their initial check), or the minority of a passive
    compaction-hash comparison: member name → why."""
    result: dict[str, str] = {}
    for kind in _SELF_EVIDENCE:
        for hit in collected.hits.get(kind, []):
            member_id = f" (member ID {hit.finding.member})" if hit.finding.member else ""
            result.setdefault(hit.member, f"its own initial check found its data differs from its peers{member_id}")
    for hit in collected.hits.get("corruption.cross_member_hash_mismatch", []):
        for member in hit.finding.fields.get("minority", []):
            result.setdefault(member, "its compaction hash differs from the majority")
    return result


def render_text(status: Status, collected: Collected, summaries: list[ScanSummary], sources: list[Source],
                show_all: bool) -> str:
    out = [_HEADLINES[status]]
    named = suspects(collected)
    for member, why in named.items():
        out.append(f"Suspect member: {member}: {why}.")
    if status is Status.CRITICAL and not named:
        out.append("The logs do not say which member differs: compare `etcdctl endpoint hashkv --cluster -w json` "
                   "at one common --rev.")
    groups: dict[tuple[Severity, str], list[ScanHit]] = {}
    for hit in _sorted_hits(collected, sources):
        groups.setdefault((hit.finding.severity, hit.finding.kind), []).append(hit)
    passed: list[str] = []
    minor: list[str] = []
    for (severity, kind), hits in groups.items():
        if severity < Severity.WARNING and not show_all:
            (passed if severity is Severity.OK else minor).append(f"{kind} ×{_count(collected, kind, hits)}")
            continue
        rule = RULES.get(kind)
        title = rule.title if rule else kind
        out.append("")
        out.append(f"{severity.name:<8}  {title}  [{kind}] ×{_count(collected, kind, hits)}")
        if rule is not None and severity >= Severity.WARNING:
            out.append(f"          why: {rule.why}")
        shown = hits if show_all else hits[:SHOWN_PER_KIND]
        for hit in shown:
            stamp = _iso(hit.ts) or "-"
            out.append(f"  {hit.source}:{hit.line}  member {hit.member}  {stamp}")
            out.append(f"      {hit.finding.message}")
        hidden = _count(collected, kind, hits) - len(shown)
        if hidden > 0:
            out.append(f"  … and {hidden} more" + ("" if show_all else " (--all shows them)"))
    if passed or minor:
        out.append("")
    if passed:
        out.append("Checks that compared peers and passed: " + ", ".join(passed))
    if minor:
        out.append("Also seen (info; --all shows them): " + ", ".join(minor))
    out.append("")
    out.append(_totals(summaries))
    for summary in summaries:
        if summary.etcd_lines == 0:
            out.append(f"{summary.source}: no etcd log line found ({summary.lines} lines): not checked.")
    return "\n".join(out)


def _count(collected: Collected, kind: str, hits: list[ScanHit]) -> int:
    return max(collected.counts.get(kind, 0), len(hits))


def _totals(summaries: list[ScanSummary]) -> str:
    lines = sum(s.lines for s in summaries)
    size = sum(s.bytes for s in summaries)
    unparsed = sum(s.unparsed for s in summaries)
    cut = sum(s.truncated_lines for s in summaries)
    text = f"Scanned {len(summaries)} file(s), {lines} lines, {size / 1e6:.1f} MB; {unparsed} unparsed line(s)"
    if cut:
        text += f", {cut} over-long line(s) cut at {MAX_LINE} bytes"
    spans = [(s.first_ts, s.last_ts) for s in summaries if s.first_ts is not None]
    if spans:
        first = min(a for a, _ in spans)
        last = max(b or a for a, b in spans)
        text += f"; from {_iso(first)} to {_iso(last)}"
    return text + "."


# --- entry point ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        sources = sources_for(list(args.files), args.member)
        stdin = cast(_Readable, sys.stdin.buffer)  # a BufferedReader: it has readinto
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

