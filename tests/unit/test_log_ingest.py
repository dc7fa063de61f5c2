"""Pure parts of the log path: kubelet timestamp prefix, level, classification on ingest, stern's de-dup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from etcdtui.cluster.log_resume import Resume
from etcdtui.cluster.log_stream_model import container_info
from etcdtui.core.log_lines import LEVEL_CODE, NO_LEVEL
from etcdtui.core.scan import LogScanner
from etcdtui.engine.log_ingest import prefix_ts, quick_level, to_entries

pytestmark = pytest.mark.unit

ZAP = (b'{"level":"warn","ts":"2026-11-24T09:26:30.188Z","caller":"etcdserver/corrupt.go:1",'
       b'"msg":"found different hash values from remote peer","local-member-id":"a9aab02626d71373",'
       b'"remote-peer-id":"eb15eab424be100e"}')


def test_prefix_timestamp_with_nanoseconds() -> None:
    ts, start = prefix_ts(b"2026-11-24T09:25:52.232123456Z " + ZAP)
    expected = datetime(2026, 11, 24, 9, 25, 52, tzinfo=UTC).timestamp() + 0.232123456
    assert ts == pytest.approx(expected, abs=1e-6)
    assert start == len(b"2026-11-24T09:25:52.232123456Z ")
    assert prefix_ts(ZAP) == (None, 0)


def test_level_from_zap_and_capnslog() -> None:
    assert quick_level(ZAP) == LEVEL_CODE["warn"]
    assert quick_level(b"2026-11-24 09:28:56.285092 E | etcdserver: boom") == LEVEL_CODE["error"]
    assert quick_level(b"goroutine 1 [running]:") == NO_LEVEL


def test_entries_are_classified_once_with_the_member() -> None:
    lines = [b"2026-11-24T09:26:30.100000000Z " + b'{"level":"info","ts":"2026-11-24T09:26:30.100Z",'
             b'"caller":"x","msg":"peer became active","peer-id":"1"}',
             b"2026-11-24T09:26:30.188000000Z " + ZAP]
    entries = to_entries("etcd-lab-cp-3", lines, LogScanner("t", "etcd-lab-cp-3"))
    assert [e.finding is None for e in entries] == [True, False]
    finding = entries[1].finding
    assert finding is not None and finding.kind == "corruption.initial_hash_mismatch"
    assert finding.member
    assert entries[1].text.startswith('{"level":"warn"')  # the prefix is stripped, the ts kept apart
    assert entries[0].ts is not None and entries[1].ts is not None and entries[0].ts < entries[1].ts


def test_resume_skips_older_lines_and_lines_already_seen_at_the_last_timestamp() -> None:
    resume = Resume()
    a = b"2026-11-24T09:00:01.500000000Z a"
    b1 = b"2026-11-24T09:00:02.000000000Z b1"
    b2 = b"2026-11-24T09:00:02.000000000Z b2"
    for line in (a, b1, b2):
        resume.seen(line)
    assert resume.since_time() == "2026-11-24T09:00:02Z"
    assert resume.is_duplicate(a)  # older than the last line
    assert resume.is_duplicate(b1) and resume.is_duplicate(b2)  # same timestamp, already seen
    assert not resume.is_duplicate(b"2026-11-24T09:00:02.000000000Z b3")  # same timestamp, new line
    assert not resume.is_duplicate(b"2026-11-24T09:00:02.1Z c")  # shorter fraction, later time
    assert resume.is_duplicate(b"2026-11-24T09:00:01.9Z old")


def test_container_info_reads_ids_and_the_last_termination() -> None:
    pod = {"status": {"containerStatuses": [{
        "name": "etcd", "containerID": "containerd://new", "state": {"running": {}},
        "lastState": {"terminated": {"containerID": "containerd://old", "reason": "Error", "exitCode": 137}},
    }]}}
    info = container_info(pod, None)
    assert (info.container_id, info.running, info.previous_id, info.exit_code) == (
        "containerd://new", True, "containerd://old", 137)
