"""`etcdtui check` output on fixed snapshots: exit codes and the JSON shape (metrics: test_ring_metrics.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import CorruptionChecks
from etcdtui.engine.snapshot import (
    ConnectionState,
    ExecState,
    ExecStatus,
    LinkState,
    MemberRow,
    RingSnapshot,
    Verdict,
)
from etcdtui.headless import check_report as report

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def row(n: int, **kw: object) -> MemberRow:
    base = MemberRow(
        key=f"etcd-cp-{n}", pod=None, node=None, member_id=f"a{n}", member_name=f"cp-{n}", version="3.5.21",
        is_leader=n == 1, healthy=True, hash=7, hash_agrees=True, revision=100, db_size=20480,
        checks=CorruptionChecks(initial=True, periodic="4h", compaction=True), version_risk=Severity.OK,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def snapshot(verdict: Verdict = Verdict.HEALTHY, complete: bool = True, **kw: object) -> RingSnapshot:
    base = RingSnapshot(
        seq=1, taken_at=NOW, context='ctx "a"\nb', server="https://x", namespace="kube-system",
        selector="component=etcd", connection=ConnectionState(LinkState.LIVE), exec=ExecState(ExecStatus.OK),
        verdict=verdict, findings=(), rows=(row(1), row(2), row(3)), nodes=(), members_total=3, quorum=2,
        fault_tolerance=1, common_revision=100, last_poll_at=NOW, complete=complete,
        incomplete_reason=None if complete else "etcdctl unavailable: 403",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdict", "complete", "code", "status"),
    [
        (Verdict.HEALTHY, True, 0, "HEALTHY"),
        (Verdict.WARNING, True, 1, "WARNING"),
        (Verdict.CORRUPTION, True, 2, "CORRUPTION"),
        (Verdict.QUORUM_LOST, True, 2, "QUORUM-LOST"),
        (Verdict.UNKNOWN, True, 3, "UNKNOWN"),
        (Verdict.WARNING, False, 3, "UNKNOWN"),  # could not finish: cannot vouch for the ring
        (Verdict.CORRUPTION, False, 2, "CORRUPTION"),  # critical evidence wins over incompleteness
    ],
)
def test_exit_code_and_status(verdict: Verdict, complete: bool, code: int, status: str) -> None:
    snap = snapshot(verdict, complete)
    assert report.exit_code(snap) == code
    assert report.check_json(snap)["verdict"] == status
    assert report.check_json(snap)["status"] == ["OK", "WARNING", "CRITICAL", "UNKNOWN"][code]


def test_json_splits_member_and_ring_findings() -> None:
    member_finding = Finding("corruption.hash_mismatch", Severity.CRITICAL, "cp-2 differs", "cp-2", {"hash": 1})
    ring_finding = Finding("ring.no_fault_tolerance", Severity.WARNING, "one more failure loses quorum")
    snap = snapshot(Verdict.CORRUPTION, rows=(row(1), row(2, hash_agrees=False, findings=(member_finding,)), row(3)),
                    findings=(member_finding, ring_finding))
    data = report.check_json(snap)
    assert [m["hash_agrees"] for m in data["members"]] == [True, False, True]
    assert data["members"][1]["findings"][0]["kind"] == "corruption.hash_mismatch"
    assert [f["kind"] for f in data["findings"]] == ["ring.no_fault_tolerance"]
    assert data["members"][0]["checks"] == {"initial": True, "periodic": "4h", "compaction": True}


def test_finding_fields_keep_lists_as_json_lists() -> None:
    """A version risk's `issues` (a tuple of issue ids) reaches --json consumers as a list, not as Python text."""
    f = Finding("version.risk", Severity.WARNING, "m", fields={"issues": ("#14370", "#18667"), "n": 2, "x": NOW})
    out = report.finding_json(f)
    assert out["fields"] == {"issues": ["#14370", "#18667"], "n": 2, "x": str(NOW)}
