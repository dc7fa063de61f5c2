"""Feeding the scanner: one source after another, big files digested in stripes by worker processes, findings kept per kind."""

from __future__ import annotations

import os
import signal
import stat
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Finding
from etcdtui.core.scan import LogScanner, ScanHit, ScanSummary
from etcdtui.core.scan_digest import Digest
from etcdtui.headless.scan_reading import (
    InputError,
    Readable,
    Source,
    Stripe,
    WorkerDied,
    digest_stripe,
    line_start,
    read_regions,
)

PARALLEL_MIN = 64 << 20  # smaller files are not worth starting workers for
STRIPE = 8 << 20  # bytes of a file per worker task
SAMPLE = 8 << 20  # bytes read here first, to see whether the log is mostly findings
HEAVY_PER_MB = 200  # findings per MB: a long-running log gives ~20, an incident-only log ~450 (_scan_parallel)
PER_KIND = 200  # findings kept per kind; the rest are counted


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


def scan_sources(sources: list[Source], stdin: Readable, jobs: int | None = None
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


def _scan_stream(scanner: LogScanner, stream: Readable, collected: Collected) -> int:
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
        done = line_start(fd, SAMPLE, size)  # the sample ends on a line start
        stripes = iter(range(done, size, STRIPE))
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
        try:
            pending: deque[Future[tuple[list[Digest], int, int]]] = deque()
            for low in stripes:  # workers start now; at most 2 stripes per worker queued: bounded memory
                pending.append(pool.submit(digest_stripe, path, low, min(low + STRIPE, size), size))
                if len(pending) >= jobs:
                    break
            _scan_stream(scanner, Stripe(fd, 0, done), collected)
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
            total = done + (_scan_stream(scanner, Stripe(fd, done, os.fstat(fd).st_size), collected)
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
