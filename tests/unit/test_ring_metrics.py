"""The metric families over fixed snapshots: values, labels, counters, the textfile writer, promtool's lint."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_check_report import NOW, row, snapshot

from etcdtui.cluster.objects import PodInfo
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.quota import DEFAULT_QUOTA_BYTES, quota_backend_bytes
from etcdtui.engine.snapshot import ConnectionState, ExecState, ExecStatus, LinkState, Verdict
from etcdtui.headless.ring_metrics import RingCollector, write_textfile

pytestmark = pytest.mark.unit

PROMTOOL = shutil.which("promtool")


def scrape(collector: RingCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def collected(*snaps: object, now: float | None = None, interval: float | None = None) -> dict[str, list]:  # type: ignore[type-arg]
    clock = [now or NOW.timestamp() + 5] * 10
    collector = RingCollector(clock=clock)
    for snap in snaps:
        collector.update(snap, interval)  # type: ignore[arg-type]
    return samples(scrape(collector))


def values(got: dict[str, list], name: str, key: str = "member_id") -> dict[str, float]:  # type: ignore[type-arg]
    return {labels.get(key, ""): v for labels, v in got[name]}


def test_every_series_carries_the_context_and_escapes_it() -> None:
    finding = Finding("pod.restarted", Severity.WARNING, "x", "cp-1")
    collector = RingCollector(clock=[NOW.timestamp()] * 3)
    collector.update(snapshot(Verdict.WARNING, findings=(finding, finding)))
    text = scrape(collector)
    assert 'context="ctx \\"a\\"\\nb"' in text
    got = samples(text)
    assert all(labels["context"] == 'ctx "a"\nb' for series in got.values() for labels, _ in series)
    assert got["etcdtui_findings"] == [({"context": 'ctx "a"\nb', "severity": "warning", "kind": "pod.restarted"}, 2)]
    assert len(got["etcdtui_member_corruption_checks"]) == 9
    assert values(got, "etcdtui_ring_status", "context") == {'ctx "a"\nb': 1}
    verdicts = values(got, "etcdtui_ring_verdict", "verdict")
    assert verdicts["WARNING"] == 1 and sum(verdicts.values()) == 1


def test_hash_inconclusive_is_minus_one_and_differs_is_zero() -> None:
    got = collected(snapshot(rows=(row(1, hash_agrees=None), row(2, hash_agrees=False), row(3))))
    assert values(got, "etcdtui_member_hash_agrees") == {"a1": -1, "a2": 0, "a3": 1}


def test_snapshot_age_and_check_success_follow_the_data_not_the_scrape() -> None:
    old = snapshot(last_poll_at=NOW - timedelta(seconds=40),
                   connection=ConnectionState(LinkState.STALE, since=NOW, reason="connection refused"))
    got = collected(old, now=NOW.timestamp() + 20, interval=5.0)
    assert values(got, "etcdtui_snapshot_age_seconds", "context") == {'ctx "a"\nb': 60.0}
    assert values(got, "etcdtui_check_success", "context") == {'ctx "a"\nb': 0}
    assert values(got, "etcdtui_api_live", "context") == {'ctx "a"\nb': 0}
    assert values(got, "etcdtui_poll_interval_seconds", "context") == {'ctx "a"\nb': 5.0}
    fresh = collected(snapshot(), now=NOW.timestamp() + 2)
    assert values(fresh, "etcdtui_check_success", "context") == {'ctx "a"\nb': 1}
    assert values(fresh, "etcdtui_snapshot_age_seconds", "context") == {'ctx "a"\nb': 2.0}


def test_alarms_name_their_member_and_the_quota_is_the_rows() -> None:
    # The row's quota is read from the pod's command line by engine.evaluate (core.quota); here it is given.
    pod = PodInfo(name="etcd-cp-2", namespace="kube-system", uid="u", node="cp-2", phase="Running", ready=True,
                  pod_ip=None, host_ip=None, created_at=None, deleting=False,
                  command=("etcd", "--quota-backend-bytes=8589934592"))
    snap = snapshot(rows=(row(1), row(2, pod=pod, pod_name=pod.name, db_size=7 << 30, db_size_in_use=6 << 30, quota_backend_bytes=8 << 30), row(3)),
                    alarms=(("a2", "NOSPACE"), ("0", "CORRUPT")))
    got = collected(snap)
    alarms = {(lb["member_id"], lb["alarm"], lb["pod"]) for lb, v in got["etcdtui_alarm_active"] if v == 1}
    assert alarms == {("a2", "NOSPACE", "etcd-cp-2"), ("0", "CORRUPT", "")}
    assert values(got, "etcdtui_member_db_quota_bytes") == {"a2": 8 << 30}  # the others have no quota known
    assert values(got, "etcdtui_member_db_size_in_use_bytes") == {"a2": 6 << 30}


@pytest.mark.parametrize(("argv", "quota"), [
    ((), None),
    (("etcd",), DEFAULT_QUOTA_BYTES),
    (("etcd", "--quota-backend-bytes", "0"), DEFAULT_QUOTA_BYTES),
    (("etcd", "--quota-backend-bytes=4294967296"), 4 << 30),
    (("etcd", "--quota-backend-bytes=-1"), None),  # etcd: a negative quota disables it
    (("etcd", "--quota-backend-bytes=lots"), None),
])
def test_quota_backend_bytes(argv: tuple[str, ...], quota: int | None) -> None:
    assert quota_backend_bytes(argv) == quota


def test_counters_count_etcdctl_failures_by_reason_and_new_evidence_once() -> None:
    mismatch = Finding("corruption.hash_mismatch", Severity.CRITICAL, "cp-2 differs", "cp-2")
    t = [NOW + timedelta(seconds=i) for i in range(5)]
    ok = snapshot(exec=ExecState(ExecStatus.OK, last_attempt_at=t[0]), polls=1)
    failed = snapshot(exec=ExecState(ExecStatus.UNAVAILABLE, "timed out", last_attempt_at=t[1], failure="timeout"))
    failed_again = replace(failed, exec=replace(failed.exec, last_attempt_at=t[2]))
    diverged_rows = (row(1), row(2, hash_agrees=False, findings=(mismatch,)), row(3))
    diverged = snapshot(Verdict.CORRUPTION, rows=diverged_rows, findings=(mismatch,), polls=2,
                        exec=ExecState(ExecStatus.OK, "alarm list: timed out", last_attempt_at=t[3]))
    got = collected(ok, failed, failed_again, failed_again, diverged, diverged)
    assert values(got, "etcdtui_etcdctl_errors_total", "reason") == {"timeout": 2, "partial": 1}
    assert got["etcdtui_detections_total"] == [({"context": 'ctx "a"\nb', "pod": "", "node": "", "member_id": "a2",
                                                 "kind": "corruption.hash_mismatch"}, 1)]
    assert values(got, "etcdtui_member_corruption_evidence") == {"a2": 1}
    assert values(got, "etcdtui_polls_total", "context") == {'ctx "a"\nb': 2}


def test_several_contexts_in_one_collector() -> None:
    got = collected(snapshot(context="prod-a"), snapshot(Verdict.CORRUPTION, context="prod-b"))
    assert values(got, "etcdtui_ring_status", "context") == {"prod-a": 0, "prod-b": 2}


def test_failure_without_a_snapshot_is_status_3_and_success_0(tmp_path: Path) -> None:
    collector = RingCollector(clock=[1700000000.0] * 2)
    collector.fail("prod", "kubeconfig has no contexts")
    target = tmp_path / "etcdtui.prom"
    write_textfile(target, collector)
    got = samples(target.read_text())
    assert got["etcdtui_ring_status"] == [({"context": "prod"}, 3)]
    assert got["etcdtui_check_success"] == [({"context": "prod"}, 0)]
    assert got["etcdtui_check_timestamp_seconds"] == [({"context": "prod"}, 1700000000.0)]


def test_textfile_is_renamed_over_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "etcdtui.prom"
    target.write_text("old\n")
    inode_before = target.stat().st_ino
    collector = RingCollector()
    collector.update(snapshot())
    write_textfile(target, collector)
    assert target.stat().st_ino != inode_before  # renamed over, not rewritten in place
    assert os.listdir(tmp_path) == ["etcdtui.prom"]
    assert "etcdtui_ring_status" in target.read_text()


def test_textfile_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub"
    target.mkdir()  # renaming a file over a directory fails
    with pytest.raises(OSError):
        write_textfile(target, RingCollector())
    assert sorted(os.listdir(tmp_path)) == ["sub"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) is not installed")
def test_promtool_check_metrics_is_clean_on_a_rich_snapshot() -> None:
    mismatch = Finding("corruption.hash_mismatch", Severity.CRITICAL, "cp-2 differs", "cp-2")
    snap = snapshot(Verdict.CORRUPTION, rows=(row(1), row(2, hash_agrees=False, findings=(mismatch,)), row(3)),
                    findings=(mismatch,), alarms=(("a2", "CORRUPT"),), poll_duration=0.2,
                    exec=ExecState(ExecStatus.UNAVAILABLE, "x", last_attempt_at=NOW, failure="timeout"))
    collector = RingCollector()
    collector.update(snap, 15.0)
    text = scrape(collector)
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_family_is_documented() -> None:
    collector = RingCollector()
    collector.update(snapshot(), 15.0)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "exporter.md").read_text()
    names = {f.name + ("_total" if f.type == "counter" else "") for f in collector.collect()}
    assert len(names) > 20
    assert sorted(n for n in names if f"`{n}`" not in docs) == []
