"""The fast path (routine lines skipped by a regex, unparsed) must give exactly the full path's findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etcdtui.core.scan import LogScanner, ScanHit

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ALL_LOGS = sorted([*FIXTURES.joinpath("etcd-logs").glob("*.log"), *FIXTURES.joinpath("etcd-13766").glob("*.log")])


def _key(hits: list[ScanHit]) -> list[tuple[object, ...]]:
    return [(h.line, h.finding.kind, h.finding.severity, h.finding.message, h.finding.member,
             json.dumps(h.finding.fields, sort_keys=True, default=str), h.ts) for h in hits]


def _three_ways(lines: list[bytes]) -> tuple[LogScanner, LogScanner, LogScanner, list[ScanHit], list[ScanHit], list[ScanHit]]:
    full, per_line, block = LogScanner("s", "m", fast=False), LogScanner("s", "m"), LogScanner("s", "m")
    hits_full = full.feed(lines) + full.finish()
    hits_line = per_line.feed(lines) + per_line.finish()
    hits_block = block.feed(lines[:2]) + block.feed_block(b"\n".join(lines[2:])) + block.finish()
    return full, per_line, block, hits_full, hits_line, hits_block


def _summary(scanner: LogScanner) -> dict[str, object]:
    data = scanner.summary.to_dict()
    data.pop("fast_skipped")
    data.pop("bytes")
    return data


PREFIXES = {"plain": b"", "kubectl": b"2026-11-24T09:25:53.123456789Z ", "cri": b"2026-11-24T09:25:53.1Z stderr F "}


@pytest.mark.parametrize("prefix", list(PREFIXES), ids=list(PREFIXES))
@pytest.mark.parametrize("path", ALL_LOGS, ids=[p.name for p in ALL_LOGS])
def test_fast_paths_equal_full_path(path: Path, prefix: str) -> None:
    lines = [PREFIXES[prefix] + line for line in path.read_bytes().splitlines()]
    full, per_line, block, hits_full, hits_line, hits_block = _three_ways(lines)
    assert _key(hits_full) == _key(hits_line) == _key(hits_block)
    assert _summary(full) == _summary(per_line) == _summary(block)
    assert full.summary.fast_skipped == 0
    # the fast path really skips most lines (otherwise this test would prove nothing)
    assert per_line.summary.fast_skipped == block.summary.fast_skipped > 0.5 * len(lines)


def test_lookalike_lines_take_the_full_path() -> None:
    def zap(msg: str, level: str = "info", **fields: object) -> bytes:
        return json.dumps({"level": level, "ts": "2026-11-24T09:30:00.000Z", "caller": "x.go:1", "msg": msg,
                           **fields}, separators=(",", ":")).encode()  # zap writes compact JSON

    lines = [
        zap("kvstore restored"),  # routine, but the first line is always parsed (first timestamp)
        zap("kvstore restored", "fatal"),  # routine text, fatal level: a finding
        zap("saved snapshot"),  # routine: skipped
        zap("kvstore restored", "error"),
        zap("kvstore restored and then slow fdatasync"),  # longer msg: not the routine one
        zap("saved snapshot\u0000"),  # escaped character inside the msg
        zap("2b99 became follower at term 3", "panic"),
        zap("lost TCP streaming connection with remote peer", "warn", error="x"),  # routine: skipped
        zap("kvstore restored", extra="\n"),  # escaped newline in a later field: still routine
        b'{"level":"info","ts":"2026-11-24T09:30:00.000Z","caller":"x.go:1","msg":"kvstore restored"',  # truncated
        b'{"ts":"2026-11-24T09:30:00.000Z","level":"fatal","msg":"kvstore restored"}',  # other key order
    ]
    full, per_line, block, hits_full, hits_line, hits_block = _three_ways(lines)
    assert _key(hits_full) == _key(hits_line) == _key(hits_block)
    assert [h.line for h in hits_full] == [2, 7, 11]  # an error-level line is parsed, but not evidence
    assert per_line.summary.fast_skipped == block.summary.fast_skipped == 3
    assert _summary(full) == _summary(per_line) == _summary(block)  # the truncated line counts as unparsed


@pytest.mark.parametrize("prefix", list(PREFIXES), ids=list(PREFIXES))
def test_upstream_rule_lines_are_never_skipped_by_the_fast_path(prefix: str) -> None:
    """Every line of the issue-15 rules (etcd's own messages at the tags in their ids) is evidence on every
    path: the fast path skips none of them, and all three paths report the same findings."""
    from tests.unit.test_classify import UPSTREAM_CASES

    routine = json.dumps({"level": "info", "ts": "2026-11-24T09:30:00.000Z", "caller": "x.go:1",
                          "msg": "saved snapshot"}, separators=(",", ":")).encode()
    lines = [routine]
    for _, line, _, _ in UPSTREAM_CASES:
        compact = json.dumps(json.loads(line), separators=(",", ":")) if line.startswith("{") else line
        lines += [PREFIXES[prefix] + compact.encode(), PREFIXES[prefix] + routine]
    full, per_line, block, hits_full, hits_line, hits_block = _three_ways(lines)
    assert _key(hits_full) == _key(hits_line) == _key(hits_block)
    assert {h.finding.kind for h in hits_full} == {kind for _, _, kind, _ in UPSTREAM_CASES}
    # only the routine lines between them are skipped (the first line is always parsed)
    assert per_line.summary.fast_skipped == block.summary.fast_skipped == len(UPSTREAM_CASES)
