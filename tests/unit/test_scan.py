"""The streaming scanner's context: the initial-check verdict, repeated leader loss, panic dumps, counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Severity
from etcdtui.core.scan import LogScanner, ScanHit

pytestmark = pytest.mark.unit
LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "etcd-logs"


def scan_file(name: str) -> tuple[LogScanner, list[ScanHit]]:
    scanner = LogScanner(name, name.removesuffix(".log"))
    hits = scanner.feed_block((LOGS / name).read_bytes().rstrip(b"\n"))
    hits += scanner.finish()
    return scanner, hits


def kinds(hits: list[ScanHit], prefix: str) -> list[tuple[str, Severity]]:
    return [(h.finding.kind, h.finding.severity) for h in hits if h.finding.kind.startswith(prefix)]


def zap(msg: str, level: str = "info", ts: str = "2026-11-24T09:30:00.000Z", **fields: object) -> bytes:
    return json.dumps({"level": level, "ts": ts, "caller": "x.go:1", "msg": msg, **fields},
                      separators=(",", ":")).encode()  # zap writes compact JSON


def test_initial_pass_after_a_startup_with_peers_is_ok() -> None:
    _, hits = scan_file("3.5.1-healthy-victim-restart-initialcheck.log")
    (passed,) = [h for h in hits if h.finding.kind.startswith("check.initial")]
    assert (passed.finding.kind, passed.finding.severity) == ("check.initial_passed", Severity.OK)
    assert passed.finding.fields["peers-known"] == 2 and passed.finding.fields["peers-skipped"] == 0


def test_initial_pass_with_empty_member_list_is_vacuous() -> None:
    # etcd-facts §1.6: no raft snapshot on disk → empty member list → "passed" after comparing nothing.
    _, hits = scan_file("3.5.1-corrupt-bbolt-nosnapshot-victim-restart-initialcheck.log")
    assert kinds(hits, "check.initial") == [("check.initial_vacuous", Severity.WARNING)]
    (vacuous,) = [h for h in hits if h.finding.kind == "check.initial_vacuous"]
    assert vacuous.finding.fields["peers-known"] == 0


def test_initial_pass_with_every_peer_skipped_is_vacuous() -> None:
    _, hits = scan_file("3.5.1-corrupt-fork-ahead-victim-restart-initialcheck.log")
    (vacuous,) = [h for h in hits if h.finding.kind == "check.initial_vacuous"]
    assert vacuous.finding.fields["peers-skipped"] == 2 == vacuous.finding.fields["peers-known"]


def test_initial_pass_without_its_startup_stays_unverified() -> None:
    lines = (LOGS / "3.5.1-healthy-victim-restart-initialcheck.log").read_bytes().splitlines()
    passed_at = next(i for i, line in enumerate(lines) if b"initial corruption checking passed" in line)
    scanner = LogScanner("tail", "m")
    hits = scanner.feed(lines[passed_at - 1 :])  # the log starts after the startup lines
    (passed,) = [h for h in hits if h.finding.kind.startswith("check.initial")]
    assert (passed.finding.kind, passed.finding.severity) == ("check.initial_passed", Severity.INFO)
    assert passed.line == 2


def test_repeated_leader_loss_is_a_warning_once() -> None:
    lost = [zap(f"raft.node: 2b99 lost leader 5a6f at term {t}", ts=f"2026-11-24T09:30:{t:02d}.000Z")
            for t in range(10)]
    hits = LogScanner("s", "m").feed(lost)
    assert [h.line for h in hits if h.finding.kind == "raft.unstable"] == [5, 10]
    assert sum(h.finding.kind == "raft.leader_lost" for h in hits) == 8
    spread = [zap(f"raft.node: 2b99 lost leader 5a6f at term {t}", ts=f"2026-11-24T{t:02d}:00:00.000Z")
              for t in range(10)]
    assert not [h for h in LogScanner("s", "m").feed(spread) if h.finding.kind == "raft.unstable"]


def test_go_panic_dump_after_a_zap_panic_is_one_event() -> None:
    text = "tocommit(30) is out of range [lastIndex(5)]. Was the raft log corrupted, truncated, or lost?"
    lines = [zap(text, "panic", logger="raft"), f"panic: {text}".encode(), b"", b"goroutine 1 [running]:"]
    hits = LogScanner("s", "m").feed(lines)
    assert [(h.line, h.finding.kind) for h in hits] == [(1, "storage.raft_log_out_of_range")]
    alone = LogScanner("s", "m").feed([zap("ok"), b"panic: runtime error: index out of range"])
    assert [(h.line, h.finding.kind) for h in alone] == [(2, "fatal.panic")]


def test_line_numbers_and_summary_across_feeds() -> None:
    scanner = LogScanner("s", "m")
    first = scanner.feed([zap("kvstore restored", ts="2026-11-24T09:00:00.000Z"), b"", b"\xff\xfe garbage"])
    second = scanner.feed_block(b"\n".join([zap("opened backend db"), zap("slow fdatasync", "warn"),
                                            b"  ", zap("saved snapshot", ts="2026-11-24T10:00:00.000Z")]))
    scanner.finish()
    assert first == [] and [(h.line, h.finding.kind) for h in second] == [(5, "perf.slow_fdatasync")]
    summary = scanner.summary
    assert (summary.lines, summary.blank, summary.unparsed, summary.etcd_lines) == (7, 2, 1, 4)
    assert summary.fast_skipped == 2  # `opened backend db` and `saved snapshot`
    assert summary.first_ts is not None and summary.last_ts is not None
    assert summary.last_ts - summary.first_ts == pytest.approx(3600)
    assert summary.by_kind == {"perf.slow_fdatasync": 1} and summary.by_severity == {"warning": 1}


def test_compaction_lines_reach_the_shared_book() -> None:
    book = CompactionHashBook()
    for member, value in (("m1", 1), ("m2", 2)):
        LogScanner(f"{member}.log", member, compactions=book).feed(
            [zap("kvstore restored"), zap("finished scheduled compaction", **{"compact-revision": 10, "hash": value})])
    (found,) = book.findings()
    assert found.fields["where"] == {"m1": "m1.log:2", "m2": "m2.log:2"}
