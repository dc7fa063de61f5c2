"""Log lines as people paste them: syslog/journald prefixes, `journalctl -o short-iso` and `-o json`, Docker's
json-file lines, zap's console encoder. The parser unwraps them, and `scan-logs` (fast path on) finds the
storage-damage line inside each envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from etcdtui.core.logline import RAW, ZAP, parse_line
from etcdtui.core.scan import LogScanner

pytestmark = pytest.mark.unit

TOCOMMIT = "tocommit(5588980) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?"
ZAP_PANIC = json.dumps({"level": "panic", "ts": "2024-06-13T01:31:30.123Z", "logger": "raft",
                        "caller": "etcdserver/zap_raft.go:101", "msg": TOCOMMIT}, separators=(",", ":"))
T0 = datetime(2024, 6, 13, 1, 31, 30, 123000, tzinfo=UTC).timestamp()

WRAPPED = {
    "syslog": f"Jun 13 01:31:30 cp-1 etcd[16743]: {ZAP_PANIC}",
    "syslog-no-pid": f"Jun  3 01:31:30 cp-1 etcd: {ZAP_PANIC}",
    "journal-short-iso": f"2024-06-13T01:31:30+0000 cp-1 etcd[16743]: {ZAP_PANIC}",
    "journal-json": json.dumps({"__REALTIME_TIMESTAMP": "1718242290123456", "_HOSTNAME": "cp-1",
                                "SYSLOG_IDENTIFIER": "etcd", "_PID": "16743", "MESSAGE": ZAP_PANIC}),
    "docker-json-file": json.dumps({"log": ZAP_PANIC + "\n", "stream": "stderr",
                                    "time": "2024-06-13T01:31:30.123456789Z"}),
    "zap-console": "2024-06-13T01:31:30.123Z\tPANIC\traft\tetcdserver/zap_raft.go:101\t" + TOCOMMIT
                   + '\t{"local-member-id": "8e9e05c52164694d"}',
}


@pytest.mark.parametrize("shape", sorted(WRAPPED))
def test_the_etcd_line_inside_is_parsed(shape: str) -> None:
    record = parse_line(WRAPPED[shape])
    assert record.format == ZAP
    assert record.level == "panic" and record.msg == TOCOMMIT
    assert record.ts == pytest.approx(T0)
    assert record.raw == WRAPPED[shape]  # what the operator pasted is what is shown


def test_zap_console_fields_caller_and_logger() -> None:
    record = parse_line(WRAPPED["zap-console"])
    assert record.caller == "etcdserver/zap_raft.go:101" and record.logger == "raft"
    assert record.fields == {"local-member-id": "8e9e05c52164694d"}
    go_test = parse_line('2024-01-24T15:12:26.133Z\tWARN\tmsg here\t{"k": "v"}')
    assert (go_test.level, go_test.msg, go_test.fields, go_test.caller) == ("warn", "msg here", {"k": "v"}, None)


def test_envelopes_carry_their_time_when_the_line_has_none() -> None:
    capnslog_in_docker = json.dumps({"log": "2026-11-24 09:28:56.285092 E | etcdserver: boom\n",
                                     "stream": "stderr", "time": "2026-11-24T09:28:56.3Z"})
    record = parse_line(capnslog_in_docker)
    assert record.level == "error" and record.msg == "boom" and record.package == "etcdserver"
    plain = parse_line(json.dumps({"MESSAGE": "hello", "__REALTIME_TIMESTAMP": "1718242290000000"}))
    assert plain.msg == "hello" and plain.ts == 1718242290.0 and plain.prefix_ts == 1718242290.0


def test_look_alikes_stay_what_they_are() -> None:
    assert parse_line("Jun 13 is a date, not a syslog line").format == RAW
    assert parse_line('{"log": "no stream key"}').format == RAW
    assert parse_line("2024-06-13T01:31:30Z some text without ident").format != ZAP
    capnslog = parse_line("2026-11-24 09:28:56.285092 W | etcdserver: slow")
    assert capnslog.level == "warn" and capnslog.package == "etcdserver"


@pytest.mark.parametrize("shape", sorted(WRAPPED))
def test_scan_logs_finds_storage_damage_inside_every_envelope(shape: str) -> None:
    routine = json.dumps({"level": "info", "ts": "2024-06-13T01:31:29.000Z", "caller": "x/y.go:1",
                          "msg": "applied snapshot"}, separators=(",", ":"))
    for fast in (True, False):
        scanner = LogScanner("pasted.log", "m1", fast=fast)
        hits = scanner.feed_text([routine, WRAPPED[shape], routine]) + scanner.finish()
        kinds = [h.finding.kind for h in hits]
        assert "storage.raft_log_out_of_range" in kinds, (shape, fast, kinds)
