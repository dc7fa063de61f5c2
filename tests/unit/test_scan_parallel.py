"""Block digests and the parallel reader must give exactly the full path's findings and summary, wherever a
file is cut: between blocks, inside a startup sequence, inside a line (stripes), with real worker processes."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from etcdtui.core.scan import LogScanner, ScanHit
from etcdtui.core.scan_digest import digest_block
from etcdtui.headless import scan_collect, scan_reading, scan_report

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "etcd-logs"
ALL_LOGS = sorted([*FIXTURES.glob("*.log"), *FIXTURES.parent.joinpath("etcd-13766").glob("*.log")])
PREFIXES = {"plain": b"", "kubectl": b"2026-11-24T09:25:53.123456789Z ", "cri": b"2026-11-24T09:25:53.1Z stderr F "}


def _key(hits: list[ScanHit]) -> list[tuple[object, ...]]:
    return [(h.line, h.finding.kind, h.finding.severity, h.finding.message, h.finding.member,
             json.dumps(h.finding.fields, sort_keys=True, default=str), h.ts) for h in hits]


def _summary(scanner: LogScanner) -> dict[str, object]:
    data = scanner.summary.to_dict()
    data.pop("fast_skipped")  # a speed counter
    data.pop("bytes")  # estimated by `feed`
    return data


def _full(lines: list[bytes]) -> tuple[LogScanner, list[ScanHit]]:
    """The reference: every line parsed and classified, no fast path."""
    scanner = LogScanner("s", "m", fast=False)
    return scanner, scanner.feed(lines) + scanner.finish()


def _in_blocks(lines: list[bytes], cuts: list[int], *, through_pickle: bool = False
               ) -> tuple[LogScanner, list[ScanHit]]:
    scanner = LogScanner("s", "m")
    hits: list[ScanHit] = []
    for low, high in zip([0, *cuts], [*cuts, len(lines)], strict=True):
        if low == high:
            continue
        digest = digest_block(b"\n".join(lines[low:high]))
        if through_pickle:  # what the parallel path ships from a worker
            digest = pickle.loads(pickle.dumps(digest))
        hits += scanner.feed_digest(digest)
    return scanner, hits + scanner.finish()


def _startup_cuts(lines: list[bytes]) -> list[int]:
    """Cut right after every startup line, so that startup sequences are split over many blocks."""
    keys = (b'"msg":"Running: "', b'"msg":"starting an etcd server"', b'"msg":"newRaft ', b'"msg":"added remote peer"',
            b'"msg":"starting initial corruption check"', b"etcd Version: ")
    return [i + 1 for i, line in enumerate(lines) if any(key in line for key in keys)]


@pytest.mark.parametrize("prefix", list(PREFIXES), ids=list(PREFIXES))
@pytest.mark.parametrize("path", ALL_LOGS, ids=[p.name for p in ALL_LOGS])
def test_digests_cut_anywhere_equal_full_path(path: Path, prefix: str) -> None:
    lines = [PREFIXES[prefix] + line for line in path.read_bytes().splitlines()]
    full, full_hits = _full(lines)
    startup = _startup_cuts(lines)
    assert startup, "every fixture has startup lines (else this test proves little)"
    for cuts in (startup, list(range(7, len(lines), 7)), [len(lines) // 2]):
        scanner, hits = _in_blocks(lines, cuts, through_pickle=cuts is startup)
        assert _key(hits) == _key(full_hits)
        assert _summary(scanner) == _summary(full)
        assert scanner.summary.fast_skipped > 0.5 * len(lines)


def test_digest_edges_take_timestamps_from_unparsed_lines() -> None:
    # First and last lines are routine or startup lines (not parsed): the block's first/last ts are theirs.
    lines = [b'{"level":"info","ts":"2026-11-24T09:00:00.000Z","caller":"a","msg":"Running: ","args":[]}',
             b"goroutine 1 [running]:",
             b'{"level":"info","ts":"2026-11-24T09:30:00.000Z","caller":"a","msg":"slow fdatasync"}',
             b"",
             b'{"level":"info","ts":"2026-11-24T10:00:00.000Z","caller":"a","msg":"saved snapshot"}',
             b"\tmain.go:12"]
    digest = digest_block(b"\n".join(lines))
    assert (digest.lines, digest.routine, digest.blank, digest.unparsed) == (6, 1, 1, 1)  # a Go frame
    assert digest.last_ts is not None and digest.first_ts is not None
    assert digest.last_ts - digest.first_ts == 3600
    full, full_hits = _full(lines)
    scanner, hits = _in_blocks(lines, [2, 3])
    assert _summary(scanner) == _summary(full) and _key(hits) == _key(full_hits)


def _zap(msg: str, **fields: object) -> bytes:
    return json.dumps({"level": "info", "ts": "2026-11-24T09:26:18.724Z", "caller": "x.go:1", "msg": msg, **fields},
                      separators=(",", ":")).encode()


@pytest.mark.parametrize(("peers", "added", "kind"), [
    ("", ["9e92b4c499372fc9"], "check.initial_passed"),  # peers only from `added remote peer`
    ("9e92b4c499372fc9,eb15eab424be100e", [], "check.initial_passed"),  # only from newRaft (itself excluded)
    ("eb15eab424be100e", [], "check.initial_vacuous"),
    ("", [], "check.initial_vacuous"),
])
def test_startup_context_read_by_regex_gives_the_full_paths_verdict(peers: str, added: list[str], kind: str) -> None:
    lines = [_zap("kvstore restored"), _zap("Running: ", args=["etcd"]), _zap("starting an etcd server"),
             _zap(f"newRaft eb15eab424be100e [peers: [{peers}], term: 0, commit: 0]"),
             *[_zap("added remote peer", **{"local-member-id": "eb15eab424be100e", "remote-peer-id": peer})
               for peer in added],
             _zap("starting initial corruption check", **{"local-member-id": "eb15eab424be100e"}),
             _zap("initial corruption checking passed; no corruption")]
    full, full_hits = _full(lines)
    assert [h.finding.kind for h in full_hits] == [kind]
    for cuts in ([], [3], list(range(1, len(lines)))):  # one block; cut inside; every line its own block
        scanner, hits = _in_blocks(lines, cuts)
        assert _key(hits) == _key(full_hits) and _summary(scanner) == _summary(full)
        assert scanner.summary.fast_skipped == 1  # the startup lines were read by regex, not parsed


@pytest.mark.parametrize(("data", "expected", "cut"), [
    (b"x" * 250 + b"\n" + b"a" * 700 + b"\nshort\n" + b"b" * 301 + b"\n" + b"c" * 300 + b"\nlast",
     [b"x" * 250, b"a" * 300, b"short", b"b" * 300, b"c" * 300, b"last"], 2),
    # a long line among complete ones and an unfinished long one in the same read
    (b"x\n" + b"a" * 700 + b"\n" + b"b" * 900, [b"x", b"a" * 300, b"b" * 300], 2),
    (b"\n\n" + b"a" * 5000, [b"", b"", b"a" * 300], 1),
])
def test_read_blocks_cuts_the_same_lines_whatever_the_chunk_size(
        monkeypatch: pytest.MonkeyPatch, data: bytes, expected: list[bytes], cut: int) -> None:
    monkeypatch.setattr(scan_reading, "MAX_LINE", 300)
    for chunk in (7, 100, 301, 1000, 2000, 1 << 20):
        monkeypatch.setattr(scan_reading, "CHUNK", chunk)
        blocks = list(scan_reading.read_blocks(io.BytesIO(data)))
        assert b"\n".join(b for b, _, _ in blocks if b is not None).split(b"\n") == expected, chunk
        assert sum(c for _, _, c in blocks) == cut, chunk
        assert sum(n for _, n, _ in blocks) == len(data), chunk


def _big_log(tmp_path: Path) -> Path:
    """Every fixture scenario, kubectl-prefixed and plain, plus a blank line, garbage and an over-long line."""
    parts = [path.read_bytes() for path in ALL_LOGS]
    prefixed = b"".join(PREFIXES["kubectl"] + line + b"\n" for line in parts[0].splitlines())
    log = tmp_path / "etcd-big.log"
    log.write_bytes(b"".join(parts) + prefixed + b"\n\xff\xfe garbage\n" + b"z" * 5000 + b"\n" + parts[1])
    return log


def _scan_json(log: Path, jobs: int) -> dict[str, object]:
    source = scan_reading.sources_for([str(log)], None)
    collected, summaries, book = scan_collect.scan_sources(source, io.BytesIO(), jobs)
    status = scan_report.overall_status(collected, summaries)
    document = scan_report.to_json(status, collected, summaries, book, source)
    for entry in document["summary"]["files"]:
        # a speed counter: a block that starts with a kubectl prefix is matched with the prefixed pattern
        assert entry.pop("fast_skipped") > entry["lines"] // 2
    return document


def test_parallel_workers_give_the_sequential_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real worker processes (fork) on stripes cut in the middle of lines and of startup sequences; and the
    switch to reading here when the log is mostly findings."""
    log = _big_log(tmp_path)
    monkeypatch.setattr(scan_reading, "MAX_LINE", 4096)
    sequential = _scan_json(log, 1)
    monkeypatch.setattr(scan_collect, "PARALLEL_MIN", 0)
    monkeypatch.setattr(scan_reading, "CHUNK", 50_000)
    size = log.stat().st_size
    # heavy 0: the rest is read here after the first stripe (sample 0), or right after the sample
    for sample, stripe, heavy in ((0, 37_001, 10_000), (100_001, 250_000, 10_000), (0, 37_001, 0),
                                  (size // 3, 50_000, 0)):
        monkeypatch.setattr(scan_collect, "SAMPLE", sample)
        monkeypatch.setattr(scan_collect, "STRIPE", stripe)
        monkeypatch.setattr(scan_collect, "HEAVY_PER_MB", heavy)
        assert scan_collect._parallel_jobs(str(log), 2) == 2
        parallel, expected = json.dumps(_scan_json(log, 2), sort_keys=True), json.dumps(sequential, sort_keys=True)
        differ = next((i for i, (x, y) in enumerate(zip(parallel, expected, strict=False)) if x != y), None)
        same = parallel == expected  # (not in the assert: pytest's diff of 350 kB of JSON takes minutes)
        assert same, f"stripe {stripe}: differs at {differ}: {parallel[max(0, (differ or 0) - 80):][:200]}"
    summary = sequential["summary"]
    assert isinstance(summary, dict)
    assert summary["files"][0]["truncated_lines"] == 1 and summary["files"][0]["bytes"] == log.stat().st_size
    assert sequential["status"] == "CRITICAL"


def test_small_files_stdin_and_one_cpu_are_read_here(tmp_path: Path) -> None:
    log = _big_log(tmp_path)
    assert scan_collect._parallel_jobs(str(log), 4) == 0  # smaller than PARALLEL_MIN
    assert scan_collect._parallel_jobs("/dev/stdin", 4) == 0
    assert scan_collect._parallel_jobs(str(log), 1) == 0


def _die(path: str, start: int, end: int, size: int) -> object:
    os._exit(7)  # a worker killed (e.g. by the OOM killer)


def test_a_dead_worker_is_a_one_line_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _big_log(tmp_path)
    monkeypatch.setattr(scan_collect, "PARALLEL_MIN", 0)
    monkeypatch.setattr(scan_collect, "STRIPE", 100_000)
    monkeypatch.setattr(scan_collect, "SAMPLE", 0)
    monkeypatch.setattr(scan_collect, "digest_stripe", _die)
    with pytest.raises(scan_reading.InputError, match="worker process died"):
        _scan_json(log, 2)


def scan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etcdtui", "scan-logs", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def test_jobs_must_be_a_positive_number(tmp_path: Path) -> None:
    for bad in ("0", "x"):
        done = scan("--jobs", bad, _big_log(tmp_path))
        assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1 and "--jobs" in done.stderr
    done = scan("--jobs", "2", FIXTURES / "3.5.1-corrupt-bbolt-leader.log")
    assert done.returncode in (1, 2) and "Traceback" not in done.stderr
