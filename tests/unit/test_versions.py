"""etcd version parsing and the risk tiers of etcd-facts §3."""

from __future__ import annotations

import pytest

from etcdtui.core.findings import Severity
from etcdtui.core.versions import (
    EtcdVersion,
    RiskTier,
    assess_version,
    parse_version,
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
        ("3.5.6", RiskTier.ADVISORY),
        ("3.5.26", RiskTier.NONE),
        ("3.4.7", RiskTier.HIGH),
        ("3.4.20", RiskTier.HIGH),
        ("3.4.21", RiskTier.HIGH),
        ("3.4.13", RiskTier.ADVISORY),  # kubeadm's image for k8s 1.19-1.21: below minimum, no high-tier bug
        ("3.4.22", RiskTier.ADVISORY),
        ("3.4.38", RiskTier.NONE),
        ("3.6.4", RiskTier.ADVISORY),
        ("3.6.5", RiskTier.NONE),
        ("3.3.25", RiskTier.HIGH),
    ],
)
def test_risk_tiers(version: str, tier: RiskTier) -> None:
    parsed = parse_version(version)
    assert assess_version(parsed).tier is tier


def test_each_known_issue_applies_to_its_range() -> None:
    assert "data_loss_13766" in _kinds("3.5.2") and "data_loss_13766" not in _kinds("3.5.3")
    assert "startup_panic_auth" in _kinds("3.5.3") and "startup_panic_auth" not in _kinds("3.5.4")
    assert "defrag_crash_inconsistency" in _kinds("3.5.5") and "defrag_crash_inconsistency" not in _kinds(
        "3.5.6"
    )
    assert "auth_new_member" in _kinds("3.5.5") and "auth_new_member" not in _kinds("3.5.4")
    assert "auth_new_member" in _kinds("3.4.20") and "auth_new_member" not in _kinds("3.4.22")
    assert "auth_consistent_index" in _kinds("3.4.7") and "auth_consistent_index" not in _kinds("3.4.8")
    assert "below_minimum" in _kinds("3.5.5") and "below_minimum" not in _kinds("3.5.6")
    assert "below_minimum" in _kinds("3.4.21") and "below_minimum" not in _kinds("3.4.22")
    assert "read_buffer_delete" in _kinds("3.5.11") and "read_buffer_delete" not in _kinds("3.5.12")
    assert "compaction_panic_revision" in _kinds("3.5.13") and "compaction_panic_revision" not in _kinds(
        "3.5.14"
    )
    assert "snapshot_defrag_race" in _kinds("3.5.22") and "snapshot_defrag_race" not in _kinds("3.5.23")
    assert "snapshot_defrag_race" in _kinds("3.4.37") and "snapshot_defrag_race" not in _kinds("3.4.38")
    assert "upgrade_to_3_6_blocked" in _kinds("3.5.25") and "upgrade_to_3_6_blocked" not in _kinds("3.5.26")


def test_13766_finding_is_critical_and_names_fix() -> None:
    (finding,) = version_findings(EtcdVersion(3, 5, 1), member="lab-cp-1")
    assert finding.kind == "version.data_loss_13766"
    assert finding.severity is Severity.CRITICAL
    assert finding.member == "lab-cp-1"
    assert finding.fields["fixed_in"] == "3.5.3"
    assert finding.fields["upgrade_to"] == "3.5.26"
    assert "#13766" in finding.message


def test_below_production_minimum_is_a_warning_even_without_a_high_tier_bug() -> None:
    (finding,) = version_findings(EtcdVersion(3, 4, 13))
    assert finding.severity is Severity.WARNING
    assert any(i["kind"] == "below_minimum" for i in finding.fields["issues"])


def test_advisory_above_minimum_is_info() -> None:
    (finding,) = version_findings(EtcdVersion(3, 5, 21))
    assert finding.severity is Severity.INFO
    assert finding.fields["upgrade_to"] == "3.5.26"


def test_high_tier_is_warning_and_current_release_is_clean() -> None:
    (finding,) = version_findings(EtcdVersion(3, 4, 20))
    assert finding.severity is Severity.WARNING
    assert version_findings(EtcdVersion(3, 5, 26)) == []


def test_unknown_version_says_so() -> None:
    (finding,) = version_findings(None, source="image registry.k8s.io/etcd@sha256:abc")
    assert finding.kind == "version.unknown"
    assert finding.severity is Severity.INFO
    assert "sha256" in finding.message
