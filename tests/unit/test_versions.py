"""etcd version parsing and the risk tiers of etcd-facts §3."""

from __future__ import annotations

import pytest

from etcdtui.core.findings import Severity
from etcdtui.core.versions import (
    NEWEST,
    EtcdVersion,
    RiskTier,
    assess_version,
    parse_version,
    upgrade_advice,
    version_findings,
    version_from_image,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("registry.k8s.io/etcd:3.5.1-0", EtcdVersion(3, 5, 1)),
        ("quay.io/coreos/etcd:v3.5.9", EtcdVersion(3, 5, 9)),
        ("quay.io/coreos/etcd:v3.5.9@sha256:" + "a" * 64, EtcdVersion(3, 5, 9)),
        ("gcr.io/etcd-development/etcd:v3.6.5-arm64", EtcdVersion(3, 6, 5)),
        ("myregistry:5000/etcd:3.4.13-0", EtcdVersion(3, 4, 13)),
        ("myregistry:5000/etcd", None),  # the registry port is not a tag
        ("registry.k8s.io/etcd@sha256:" + "b" * 64, None),  # pinned by digest only
        ("registry.k8s.io/etcd:latest", None),
        ("", None),
        (None, None),
    ],
)
def test_version_from_image(image: str | None, expected: EtcdVersion | None) -> None:
    assert version_from_image(image) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5.1", EtcdVersion(3, 5, 1)),
        ("v3.4.23", EtcdVersion(3, 4, 23)),
        ("etcdctl version: 3.5.1\nAPI version: 3.5\n", EtcdVersion(3, 5, 1)),
        ("etcd Version: 3.5.1\nGit SHA: e8732fb5f\nGo Version: go1.16.3\n", EtcdVersion(3, 5, 1)),
        ("garbage", None),
        ("", None),
    ],
)
def test_parse_version(text: str, expected: EtcdVersion | None) -> None:
    assert parse_version(text) == expected


def test_versions_order_numerically() -> None:
    assert EtcdVersion(3, 5, 10) > EtcdVersion(3, 5, 9)


def _kinds(v: str) -> set[str]:
    version = parse_version(v)
    assert version is not None
    return {i.kind for i in assess_version(version).issues}


@pytest.mark.parametrize(
    ("version", "tier"),
    [
        ("3.5.0", RiskTier.CRITICAL),
        ("3.5.1", RiskTier.CRITICAL),
        ("3.5.2", RiskTier.CRITICAL),
        ("3.5.3", RiskTier.HIGH),
        ("3.5.4", RiskTier.HIGH),
        ("3.5.5", RiskTier.HIGH),
        ("3.5.6", RiskTier.HIGH),  # WAL power-loss start failure until 3.5.7
        ("3.5.16", RiskTier.HIGH),  # partial write txn until 3.5.17
        ("3.5.17", RiskTier.ADVISORY),
        ("3.5.33", RiskTier.ADVISORY),  # #18667 is fixed only in 3.7.0
        ("3.4.7", RiskTier.HIGH),
        ("3.4.20", RiskTier.HIGH),
        ("3.4.21", RiskTier.HIGH),
        ("3.4.13", RiskTier.HIGH),  # kubeadm's image for k8s 1.19-1.21
        ("3.4.45", RiskTier.HIGH),  # the last 3.4: end of life
        ("3.6.0", RiskTier.HIGH),
        ("3.6.3", RiskTier.HIGH),
        ("3.6.4", RiskTier.ADVISORY),
        ("3.6.14", RiskTier.ADVISORY),
        ("3.7.0", RiskTier.NONE),
        ("3.7.1", RiskTier.NONE),
        ("3.3.25", RiskTier.HIGH),
    ],
)
def test_risk_tiers(version: str, tier: RiskTier) -> None:
    parsed = parse_version(version)
    assert assess_version(parsed).tier is tier


# (kind, last affected, first fixed) per line; each pair is a CHANGELOG-3.x.md entry of etcd-io/etcd (id = PR).
RANGES = [
    pytest.param("data_loss_13766", "3.5.2", "3.5.3", id="13766 PR#13908 CHANGELOG-3.5 v3.5.3"),
    pytest.param("single_member_durability", "3.4.20", "3.4.21", id="14370 PR#14423 CHANGELOG-3.4 v3.4.21"),
    pytest.param("single_member_durability", "3.5.4", "3.5.5", id="14370 PR#14424 CHANGELOG-3.5 v3.5.5"),
    pytest.param("startup_panic_auth", "3.5.3", "3.5.4", id="PR#13946 CHANGELOG-3.5 v3.5.4"),
    pytest.param("defrag_crash_inconsistency", "3.5.5", "3.5.6", id="PR#14733 CHANGELOG-3.5 v3.5.6"),
    pytest.param("wal_power_loss_start", "3.5.6", "3.5.7", id="PR#15069 CHANGELOG-3.5 v3.5.7"),
    pytest.param("auth_not_loaded", "3.4.20", "3.4.21", id="14355 PR#14410 CHANGELOG-3.4 v3.4.21"),
    pytest.param("auth_not_loaded", "3.5.4", "3.5.5", id="14355 PR#14409 CHANGELOG-3.5 v3.5.5"),
    pytest.param("auth_snapshot_recovery", "3.4.21", "3.4.22", id="14571 PR#14649 CHANGELOG-3.4 v3.4.22"),
    pytest.param("auth_snapshot_recovery", "3.5.5", "3.5.6", id="14571 PR#14648 CHANGELOG-3.5 v3.5.6"),
    pytest.param("auth_consistent_index", "3.4.7", "3.4.8", id="11651 CHANGELOG-3.4 v3.4.8"),
    pytest.param("partial_write_txn", "3.5.16", "3.5.17", id="PR#18799 CHANGELOG-3.5 v3.5.17"),
    pytest.param("learner_promotion_start", "3.6.3", "3.6.4", id="PR#20387 CHANGELOG-3.6 v3.6.4"),
    pytest.param("read_buffer_delete", "3.5.11", "3.5.12", id="PR#17230 CHANGELOG-3.5 v3.5.12"),
    pytest.param("compaction_panic_revision", "3.4.31", "3.4.32", id="PR#17864 CHANGELOG-3.4 v3.4.32"),
    pytest.param("compaction_panic_revision", "3.5.13", "3.5.14", id="PR#17865 CHANGELOG-3.5 v3.5.14"),
    pytest.param("false_corrupt_alarm_other_cluster", "3.4.27", "3.4.28", id="15548 CHANGELOG-3.4 v3.4.28"),
    pytest.param("false_corrupt_alarm_other_cluster", "3.5.9", "3.5.10",
                 id="15548 'cluster ID mismatch' server/etcdserver/corrupt.go v3.5.10"),
    pytest.param("snapshot_defrag_race", "3.4.37", "3.4.38", id="PR#20659 CHANGELOG-3.4 v3.4.38"),
    pytest.param("snapshot_defrag_race", "3.5.22", "3.5.23", id="PR#20653 CHANGELOG-3.5 v3.5.23"),
    pytest.param("snapshot_defrag_race", "3.6.4", "3.6.5", id="PR#20650 CHANGELOG-3.6 v3.6.5"),
    pytest.param("upgrade_to_3_6_blocked", "3.5.25", "3.5.26", id="PR#20995 CHANGELOG-3.5 v3.5.26"),
    pytest.param("stale_reads_pause", "3.4.41", "3.4.42", id="PR#21423 CHANGELOG-3.4 v3.4.42"),
    pytest.param("stale_reads_pause", "3.5.27", "3.5.28", id="PR#21421 CHANGELOG-3.5 v3.5.28"),
    pytest.param("stale_reads_pause", "3.6.8", "3.6.9", id="PR#21417 CHANGELOG-3.6 v3.6.9"),
    pytest.param("txn_range_revision_divergence", "3.6.14", "3.7.0", id="18667 PR#21432 CHANGELOG-3.7 v3.7.0-rc.0"),
    pytest.param("below_minimum", "3.5.5", "3.5.6", id="CHANGELOG/README.md minimum 3.5.6"),
    pytest.param("below_minimum", "3.4.21", "3.4.22", id="CHANGELOG/README.md minimum 3.4.22"),
]


@pytest.mark.parametrize(("kind", "affected", "fixed"), RANGES)
def test_each_known_issue_applies_to_its_range(kind: str, affected: str, fixed: str) -> None:
    assert kind in _kinds(affected)
    assert kind not in _kinds(fixed)


def test_ranges_start_where_the_bug_came_in() -> None:
    # 3.5.5 brought the WAL entry size check (PR #14127) that made a torn record unrepairable; 3.5.4 repairs it
    assert "wal_power_loss_start" not in _kinds("3.5.4")
    # #14571 was a regression of the #14355 fix (3.4.21 / 3.5.5); #14355 itself (3.4.20) is another bug
    assert "auth_snapshot_recovery" not in _kinds("3.4.20") and "auth_not_loaded" in _kinds("3.4.20")
    assert "auth_snapshot_recovery" not in _kinds("3.5.4")


def test_every_34_is_end_of_life_and_advice_is_the_newest_35() -> None:
    """CHANGELOG-3.4.md v3.4.45: 'this release marks the end of support (EOL) for v3.4'."""
    for patch in (0, 23, 45):
        (finding,) = version_findings(EtcdVersion(3, 4, patch))
        assert "end_of_life" in {i["kind"] for i in finding.fields["issues"]}
        assert finding.severity is Severity.WARNING
        assert finding.fields["upgrade_to"] == "3.5.33"
    assert version_findings(EtcdVersion(3, 4, 45))[0].kind == "version.end_of_life"
    assert NEWEST[(3, 5)] == EtcdVersion(3, 5, 33)


def test_13766_finding_is_critical_and_names_fix() -> None:
    (finding,) = version_findings(EtcdVersion(3, 5, 1), member="lab-cp-1")
    assert finding.kind == "version.data_loss_13766"
    assert finding.severity is Severity.CRITICAL
    assert finding.member == "lab-cp-1"
    assert finding.fields["fixed_in"] == "3.5.3"
    # the newest fix inside 3.5 (stale reads, 3.5.28); #18667 is named separately, not a 3.5 target
    assert finding.fields["upgrade_to"] == "3.5.28"
    assert finding.fields["newest_in_line"] == "3.5.33"
    assert finding.fields["fixed_only_later"] == ["txn_range_revision_divergence (fixed in 3.7.0)"]
    assert "#13766" in finding.message and "upgrade to 3.5.28" in finding.message


@pytest.mark.parametrize(
    ("version", "target"),
    [("3.5.1", "3.5.28"), ("3.5.20", "3.5.28"), ("3.6.0", "3.6.9"), ("3.6.8", "3.6.9"), ("3.4.30", "3.5.33"),
     ("3.5.30", "3.7.0"), ("3.6.14", "3.7.0")],
)
def test_upgrade_advice_follows_the_table_per_line(version: str, target: str) -> None:
    parsed = parse_version(version)
    assert upgrade_advice(assess_version(parsed))[0] == target
    assert f"upgrade to {target}" in assess_version(parsed).summary or len(assess_version(parsed).issues) == 1


def test_below_production_minimum_is_a_warning_even_without_a_high_tier_bug() -> None:
    (finding,) = version_findings(EtcdVersion(3, 4, 13))
    assert finding.severity is Severity.WARNING
    assert any(i["kind"] == "below_minimum" for i in finding.fields["issues"])


def test_advisory_above_minimum_is_info() -> None:
    (finding,) = version_findings(EtcdVersion(3, 5, 21))
    assert finding.severity is Severity.INFO
    assert finding.fields["upgrade_to"] == "3.5.28"


def test_high_tier_is_warning_and_current_release_is_clean() -> None:
    (finding,) = version_findings(EtcdVersion(3, 4, 20))
    assert finding.severity is Severity.WARNING
    assert version_findings(EtcdVersion(3, 7, 1)) == []


def test_unknown_version_says_so() -> None:
    (finding,) = version_findings(None, source="image registry.k8s.io/etcd@sha256:abc")
    assert finding.kind == "version.unknown"
    assert finding.severity is Severity.INFO
    assert "sha256" in finding.message


def test_check_json_carries_the_new_risks_and_advice() -> None:
    """`check --json` writes each member's findings through `finding_json`: the version finding carries the
    risk, the per-line target and the later-line fixes."""
    from etcdtui.headless.check_report import finding_json

    (finding,) = version_findings(EtcdVersion(3, 5, 10), member="cp-1")
    data = finding_json(finding)
    assert data["kind"] == "version.partial_write_txn" and data["severity"] == Severity.WARNING.label
    assert data["fields"]["upgrade_to"] == "3.5.28" and data["fields"]["newest_in_line"] == "3.5.33"
    assert "compaction_panic_revision" in [issue["kind"] for issue in data["fields"]["issues"]]
    assert "txn_range_revision_divergence (fixed in 3.7.0)" in data["fields"]["fixed_only_later"]
    assert "upgrade to 3.5.28 or later (newest 3.5: 3.5.33)" in data["message"]
