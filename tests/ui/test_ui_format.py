"""Cell and panel text of the ring view (`etcdtui.ui.format`): pure functions, no Textual."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import fixed_ring as fixtures
import pytest

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import CorruptionChecks
from etcdtui.ui import format as fmt

pytestmark = pytest.mark.ui
NOW = fixtures.NOW


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=5), "5s"),
        (timedelta(minutes=5, seconds=12), "5m12s"),
        (timedelta(minutes=45, seconds=12), "45m"),
        (timedelta(hours=3, minutes=4), "3h4m"),
        (timedelta(hours=13, minutes=4), "13h"),
        (timedelta(days=2, hours=5), "2d5h"),
        (timedelta(days=41, hours=5), "41d"),
        (timedelta(seconds=-3), "0s"),  # clock skew between us and the API server
    ],
)
def test_age_like_kubectl(delta: timedelta, text: str) -> None:
    assert fmt.age(NOW - delta, NOW) == text


def test_age_unknown() -> None:
    assert fmt.age(None, NOW) == "-"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (512, "512 B"), (20_480, "20.5 kB"), (25_600_000, "25.6 MB"), (150_000_000, "150 MB"),
     (8_000_000_000, "8.0 GB")],
)
def test_size(value: int | None, text: str) -> None:
    assert fmt.size(value) == text


@pytest.mark.parametrize(
    ("checks", "text"),
    [
        (None, "?/?/?"),
        (CorruptionChecks(initial=True, periodic="4h0m0s", compaction=True), "on/4h/on"),
        (CorruptionChecks(initial=True, periodic="30m0s", compaction=False), "on/30m/off"),
        (CorruptionChecks(initial=False, periodic=None, compaction=False), "off/off/off"),
        (CorruptionChecks(initial=None, periodic=None, compaction=None), "?/?/?"),
        (CorruptionChecks(initial=True, periodic="10s", compaction=True), "on/10s/on"),
    ],
)
def test_checks(checks: CorruptionChecks | None, text: str) -> None:
    assert fmt.checks(checks) == text


def test_checks_colour_follows_the_audit() -> None:
    assert fmt.checks_severity(CorruptionChecks(True, "4h", True)) is Severity.OK
    assert fmt.checks_severity(CorruptionChecks(False, None, False)) is Severity.WARNING
    assert fmt.checks_severity(CorruptionChecks(True, "4h", True, problems=("both spellings",))) is Severity.WARNING


def test_hash_agreement_never_says_corrupt_when_inconclusive() -> None:
    row = fixtures.healthy_ring().rows[0]
    assert fmt.hash_agreement(row) == "✓ equal"
    assert fmt.hash_agreement(replace(row, hash_agrees=False)) == "✗ DIFFERS"
    assert fmt.hash_agreement(replace(row, hash_agrees=None)) == "? inconclusive"
    assert fmt.hash_agreement(replace(row, hash_agrees=None, hash=None)) == "-"
    assert fmt.hash_severity(replace(row, hash_agrees=None)) is Severity.INFO


def test_pod_status_colour() -> None:
    row = fixtures.healthy_ring().rows[0]
    assert row.pod is not None
    assert fmt.pod_severity(row) is Severity.OK
    assert fmt.pod_severity(replace(row, pod=replace(row.pod, ready=False))) is Severity.CRITICAL
    assert fmt.pod_severity(replace(row, pod=replace(row.pod, phase="Pending", ready=False))) is Severity.WARNING
    assert fmt.pod_severity(replace(row, pod=None)) is Severity.CRITICAL
    assert fmt.status(replace(row, pod=None)) == "no pod"


def test_version_marks_risk_from_the_core() -> None:
    row = fixtures.healthy_ring().rows[0]
    assert fmt.version(row) == "3.5.1 ⚠"
    assert fmt.version(replace(row, version_risk=None)) == "3.5.1"
    assert fmt.version(replace(row, version=None, version_risk=None)) == "3.5.1"  # the image tag until etcdctl answers


def test_findings_counts_and_evidence_are_bounded() -> None:
    crit = Finding("corruption.x", Severity.CRITICAL, "m")
    warn = Finding("checks.off", Severity.WARNING, "m")
    good = Finding("check.passed", Severity.OK, "m")
    assert fmt.findings_counts((crit, warn, warn)) == "✗1 ⚠2"
    assert fmt.findings_counts((good,)) == "✓"
    assert fmt.findings_counts(()) == "-"
    noisy = Finding("k", Severity.INFO, "m", fields={f"f{i}": "x" * 200 for i in range(10)} | {
        "issues": [{"a": 1}, {"b": 2}]})
    lines = fmt.evidence(noisy)
    assert len(lines) == 7 and lines[-1] == "… 5 more fields"
    assert all(len(line) <= 72 for line in lines)
    assert fmt.evidence(Finding("k", Severity.INFO, "m", fields={"issues": [{"a": 1}]})) == ["issues: 1 items"]


def test_last_check_column_shows_the_log_engines_latest_check_and_its_age() -> None:
    row = fixtures.healthy_ring().rows[0]
    assert fmt.last_check(row, NOW) == ("-", None)  # no log evidence yet
    ts = (NOW - timedelta(minutes=3)).timestamp()
    passed = Finding("check.periodic_passed", Severity.OK, "passed", row.pod_name,
                     {"log-last-check": "passed", "log-ts": ts})
    failed = Finding("corruption.initial_hash_mismatch", Severity.CRITICAL, "mismatch", row.pod_name,
                     {"log-last-check": "failed", "log-ts": ts})
    assert fmt.last_check(replace(row, findings=(passed,)), NOW) == ("passed 3m ago", Severity.OK)
    assert fmt.last_check(replace(row, findings=(passed, failed)), NOW) == ("failed 3m ago", Severity.CRITICAL)
