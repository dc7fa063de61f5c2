"""`etcdtui check` output on fixed snapshots: exit codes, JSON shape, Prometheus text, the atomic write."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etcdtui.core.findings import Finding, Severity
from etcdtui.engine.snapshot import (
    ConnectionState,
    CorruptionChecks,
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


PROM_LINE = re.compile(r'^[a-z_]+\{(?:[a-z_]+="(?:[^"\\\n]|\\["\\n])*",?)*\} -?[0-9.e+]+$')


def test_prometheus_text_escapes_labels_and_declares_every_metric() -> None:
    finding = Finding("pod.restarted", Severity.WARNING, "x", "cp-1")
    text = report.prometheus_text(snapshot(Verdict.WARNING, findings=(finding, finding)), now=1700000000.0)
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif not line.startswith("# HELP "):
            assert PROM_LINE.match(line), line
            assert line.split("{")[0] in names
    assert 'context="ctx \\"a\\"\\nb"' in text
    assert 'etcdtui_findings{context="ctx \\"a\\"\\nb",severity="warning",kind="pod.restarted"} 2' in text
    assert "etcdtui_check_timestamp_seconds" in text and "1.7e+09" in text
    assert text.count("etcdtui_member_corruption_checks{") == 9


def test_prometheus_hash_inconclusive_is_minus_one() -> None:
    text = report.prometheus_text(snapshot(rows=(row(1, hash_agrees=None), row(2, hash_agrees=False))))
    values = re.findall(r'^etcdtui_member_hash_agrees\{.*member_id="(a\d)"\} (-?\d+)$', text, re.M)
    assert values == [("a1", "-1"), ("a2", "0")]


def test_write_textfile_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "etcdtui.prom"
    target.write_text("old\n")
    inode_before = target.stat().st_ino
    report.write_textfile(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_ino != inode_before  # renamed over, not rewritten in place
    assert os.listdir(tmp_path) == ["etcdtui.prom"]


def test_write_textfile_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub"
    target.mkdir()  # renaming a file over a directory fails
    with pytest.raises(OSError):
        report.write_textfile(target, "x\n")
    assert sorted(os.listdir(tmp_path)) == ["sub"]
