"""Log evidence of the corruption checks from real etcd 3.5.1 logs (tests/fixtures/etcd-logs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etcdtui.engine.checks_evidence import (
    INITIAL_FAILED,
    INITIAL_NONE,
    INITIAL_PASSED,
    INITIAL_UNVERIFIED,
    evidence_from_lines,
)

pytestmark = pytest.mark.unit

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "etcd-logs"


def _lines(name: str) -> list[bytes]:
    return (LOGS / name).read_bytes().splitlines()


def test_leader_shows_enabled_and_its_periodic_passes() -> None:
    ev = evidence_from_lines("m1", _lines("3.5.1-healthy-leader.log"))
    assert (ev.enabled, ev.enabled_interval, ev.initial) == (True, "10s", INITIAL_NONE)
    assert ev.periodic_passes == 2 and ev.periodic_last_peers == 2 and ev.periodic_vacuous == 0
    assert ev.periodic_last_ts is not None and ev.periodic_age(ev.periodic_last_ts + 90) == 90


def test_restart_with_initial_check_compares_peers() -> None:
    ev = evidence_from_lines("m2", _lines("3.5.1-healthy-victim-restart-initialcheck.log"))
    assert ev.initial == INITIAL_PASSED and "2 of 2 peer(s)" in ev.initial_detail


def test_failed_initial_check_of_a_corrupted_member() -> None:
    ev = evidence_from_lines("m2", _lines("3.5.1-corrupt-bbolt-victim-restart-initialcheck.log"))
    assert ev.initial == INITIAL_FAILED and "found data inconsistency with peers" in ev.initial_detail
    assert not ev.enabled


def test_vacuous_passes_are_flagged() -> None:
    zero = json.dumps({"level": "info", "ts": "2026-11-24T10:00:00.000Z", "caller": "etcdserver/corrupt.go:116",
                       "msg": "finished peer corruption check", "number-of-peers-checked": 0}).encode()
    ev = evidence_from_lines("m1", [zero])
    assert ev.periodic_vacuous == 1 and ev.periodic_last_peers == 0


def test_msg_decides_not_caller() -> None:
    # The same caller with another msg is no evidence; the msg with an unusual caller is.
    other = {"level": "info", "ts": "2026-11-24T10:00:00.000Z", "caller": "etcdserver/corrupt.go:116"}
    lines = [json.dumps({**other, "msg": "something else"}).encode()]
    assert not evidence_from_lines("m", lines).enabled
    lines = [json.dumps({**other, "caller": "x/y.go:1", "msg": "enabled corruption checking",
                         "interval": "4h0m0s"}).encode()]
    assert evidence_from_lines("m", lines).enabled_interval == "4h0m0s"


def test_passed_without_the_start_of_the_run_is_unverified() -> None:
    lines = [line for line in _lines("3.5.1-healthy-victim-restart-initialcheck.log")
             if b"initial corruption checking passed" in line]
    assert len(lines) == 1 and evidence_from_lines("m", lines).initial == INITIAL_UNVERIFIED
