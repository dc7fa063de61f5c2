"""`parse_line`: every shape of etcd log line, real fixture lines first, and bad input that must not raise."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etcdtui.core.logline import (
    BLANK,
    CAPNSLOG,
    GO_PANIC,
    GRPC,
    RAW,
    ZAP,
    LogRecord,
    parse_line,
    parse_timestamp,
)

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture_line(name: str, contains: str) -> str:
    for line in (FIXTURES / "etcd-logs" / name).read_text().splitlines():
        if contains in line:
            return line
    raise AssertionError(f"{contains!r} not in {name}")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_zap_35_line_from_fixture() -> None:
    line = _fixture_line("3.5.1-corrupt-bbolt-victim-restart-initialcheck.log", "found different hash values")
    record = parse_line(line.encode())
    assert record.format == ZAP
    assert record.level == "warn"
    assert record.msg == "found different hash values from remote peer"
    assert record.caller == "etcdserver/corrupt.go:75"
    assert record.fields["local-member-id"] == "a9aab02626d71373"
    assert record.fields["remote-peer-endpoints"] == ["http://127.0.0.1:23901"]
    assert "msg" not in record.fields and "caller" not in record.fields and "level" not in record.fields
    assert record.ts == pytest.approx(_epoch("2026-11-24 09:26:30.188"))
    assert record.raw == line


def test_zap_raft_line_keeps_logger() -> None:
    line = _fixture_line("3.5.1-healthy-follower.log", "lost leader")
    record = parse_line(line)
    assert (record.format, record.logger, record.level) == (ZAP, "raft", "info")
    assert record.msg.startswith("raft.node: ") and " lost leader " in record.msg


def test_zap_34_line_without_logger() -> None:
    line = _fixture_line("3.4.23-corrupt-fork-victim-restart-initialcheck.log", "discovery failed")
    record = parse_line(line)
    assert (record.format, record.level, record.logger) == (ZAP, "fatal", None)
    assert "found data inconsistency with peers" in record.fields["error"]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-24T09:22:29.336Z", "2026-11-24 09:22:29.336"),  # 3.5.0-3.5.5: milliseconds
        ("2025-08-02T00:16:25.574541Z", "2025-08-02 00:16:25.574541"),  # 3.5.6+/3.6: microseconds
        ("2025-08-02T02:16:25.574541+0200", "2025-08-02 00:16:25.574541"),  # Go's Z0700 with an offset
    ],
)
def test_zap_ts_precisions(stamp: str, expected: str) -> None:
    record = parse_line(json.dumps({"level": "info", "ts": stamp, "caller": "x.go:1", "msg": "m"}))
    assert record.ts == pytest.approx(_epoch(expected), abs=1e-6)


def test_zap_epoch_ts_and_unknown_level() -> None:
    record = parse_line('{"level":"WARN","ts":1795513590.5,"msg":"x","k":1}')
    assert (record.ts, record.level, record.fields) == (1795513590.5, "warn", {"k": 1})
    assert parse_line('{"level":"loud","msg":"x"}').level is None
    assert parse_line('{"level":"dpanic","msg":"x"}').level == "panic"


@pytest.mark.parametrize(
    ("letter", "level"), [("D", "debug"), ("I", "info"), ("N", "info"), ("W", "warn"), ("E", "error"), ("C", "fatal")]
)
def test_capnslog_levels(letter: str, level: str) -> None:
    record = parse_line(f"2026-11-24 09:28:56.285092 {letter} | etcdserver: some text: with colon")
    assert (record.format, record.level, record.package) == (CAPNSLOG, level, "etcdserver")
    assert record.msg == "some text: with colon"
    assert record.ts == pytest.approx(_epoch("2026-11-24 09:28:56.285092"))


def test_capnslog_fixture_line_and_nested_package() -> None:
    line = _fixture_line("3.4.23-corrupt-fork-ahead-leader.log", "/health error due to")
    record = parse_line(line)
    assert (record.format, record.level, record.package) == (CAPNSLOG, "warn", "etcdserver/api/etcdhttp")
    assert record.msg.startswith("/health error due to alarm:CORRUPT")


def test_capnslog_raft_line() -> None:
    record = parse_line("raft2026/11/24 09:28:40 INFO: 2b994662ff979bd became leader at term 2")
    assert (record.format, record.level, record.package) == (CAPNSLOG, "info", "raft")
    assert record.msg == "2b994662ff979bd became leader at term 2"
    assert record.ts == pytest.approx(_epoch("2026-11-24 09:28:40"))


def test_grpc_warning_line_from_fixture() -> None:
    line = _fixture_line("3.5.1-healthy-follower.log", "WARNING: ")
    record = parse_line(line)
    assert (record.format, record.level, record.package) == (GRPC, "warn", "grpc")
    assert record.msg.startswith("[core] grpc: ")
    assert record.ts is not None


def test_kubectl_timestamps_prefix_prefers_etcd_ts() -> None:
    inner = '{"level":"info","ts":"2026-11-24T09:25:52.232Z","caller":"a.go:1","msg":"hello"}'
    record = parse_line(f"2026-11-24T09:25:53.000000001Z {inner}\n")
    assert (record.format, record.msg) == (ZAP, "hello")
    assert record.ts == pytest.approx(_epoch("2026-11-24 09:25:52.232"))
    assert record.prefix_ts == pytest.approx(_epoch("2026-11-24 09:25:53"))


def test_cri_prefix_and_prefix_ts_fallback() -> None:
    inner = '{"level":"warn","caller":"a.go:1","msg":"no ts here"}'
    record = parse_line(f"2026-11-24T09:25:53.5Z stderr F {inner}")
    assert (record.format, record.level, record.msg) == (ZAP, "warn", "no ts here")
    assert record.ts == pytest.approx(_epoch("2026-11-24 09:25:53.5"))
    capnslog = parse_line("2026-11-24T09:25:53Z 2026-11-24 09:28:56.285092 W | rafthttp: lost peer")
    assert (capnslog.format, capnslog.package, capnslog.msg) == (CAPNSLOG, "rafthttp", "lost peer")
    other = parse_line("2026-11-24T09:25:53Z something else entirely")
    assert (other.format, other.ts) == (RAW, pytest.approx(_epoch("2026-11-24 09:25:53")))


def test_go_panic_dump_lines() -> None:
    panic = parse_line("panic: tocommit(30) is out of range [lastIndex(5)]. Was the raft log corrupted, truncated, or lost?")
    assert (panic.format, panic.level) == (GO_PANIC, "panic")
    assert panic.msg.startswith("tocommit(30) is out of range")
    goroutine = parse_line("goroutine 163 [running]:")
    assert goroutine.format == GO_PANIC and goroutine.level is None
    assert parse_line("\tgo.etcd.io/etcd/raft/v3.(*raftLog).commitTo(...)").format == RAW


@pytest.mark.parametrize(
    ("raw", "fmt"),
    [
        (b"", BLANK),
        (b"   \t\r\n", BLANK),
        (b'{"level":"info","ts":"2026-11-24T09:2', RAW),  # truncated JSON
        (b"[1, 2, 3]", RAW),
        (b'{"no":"msg or level"}', RAW),
        (b"\x00\x01\x02\xff\xfe binary \x9c garbage", RAW),
        (b"{" * 50_000, RAW),  # deep nesting: json raises RecursionError
        (b"2026-11-24 09:28:56.285092 Q | etcdserver: unknown letter", RAW),
        (b"raft2026/11/24 09:28:40 LOUD: text", RAW),
        (b"WARNING: not a grpc line", RAW),
    ],
)
def test_bad_input_is_kept_as_raw(raw: bytes, fmt: str) -> None:
    record = parse_line(raw)
    assert isinstance(record, LogRecord)
    assert record.format == fmt


def test_non_utf8_bytes_are_replaced_not_fatal() -> None:
    record = parse_line(b'{"level":"warn","ts":"2026-11-24T09:22:29.336Z","msg":"caf\xe9 \xff"}')
    assert record.format == ZAP
    assert record.msg == "caf\ufffd \ufffd"


def test_random_bytes_never_raise() -> None:
    rng = random.Random(2)
    seeds = [b'{"level":"info","ts":"2026-11-24T09:22:29.336Z","msg":"x"}', b"2026-11-24 09:28:56.285092 E | a: b",
             b"raft2026/11/24 09:28:40 INFO: x", b"panic: x", b"2026-11-24T09:25:53Z stderr F {"]
    for _ in range(3000):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 6)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        parse_line(bytes(base[: rng.randint(0, len(base))]))


def test_parse_timestamp_rejects_garbage() -> None:
    assert parse_timestamp("not a time") is None
    assert parse_timestamp("2026-11-24T09:25:52.232123456Z") == pytest.approx(_epoch("2026-11-24 09:25:52.232123"))
