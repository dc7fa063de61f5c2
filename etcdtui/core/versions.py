"""etcd versions: parse them from image tags or etcdctl output, and rate the known data-loss risks.

The tiers follow etcd-facts §3: 3.5.0–3.5.2 lose committed writes after a crash (etcd issue 13766) and are
critical; a few releases with other inconsistency bugs are high risk; anything below the official production
minimum (3.4.22 / 3.5.6) or missing later fixes is advisory.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from etcdtui.core.findings import Finding, Severity


@dataclass(frozen=True, order=True)
class EtcdVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def minor_line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def at_least(self, major: int, minor: int, patch: int) -> bool:
        return (self.major, self.minor, self.patch) >= (major, minor, patch)


_SEMVER = re.compile(r"(?<![\d.])v?(\d+)\.(\d+)\.(\d+)(?![\d])")
# `etcdctl version` prints "etcdctl version: 3.5.1\nAPI version: 3.5"; `etcd --version` "etcd Version: 3.5.1".
_LABELLED = re.compile(r"(?:etcd|etcdctl|server)\s+version:\s*v?(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)


def parse_version(text: str | None) -> EtcdVersion | None:
    """A version from `3.5.1`, `v3.5.9`, `3.5.1-0`, `etcdctl version` output or endpoint status `version`.

    Returns None when nothing version-like is present (e.g. an image pinned only by digest).
    """
    if not text:
        return None
    labelled = _LABELLED.search(text)
    match = labelled or _SEMVER.search(text)
    if match is None:
        return None
    return EtcdVersion(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def version_from_image(image: str | None) -> EtcdVersion | None:
    """The etcd version in an image reference: `registry.k8s.io/etcd:3.5.1-0`, `quay.io/coreos/etcd:v3.5.9@sha256:…`.

    Only the tag counts: a registry port (`host:5000/etcd`) or a digest must not be read as a version.
    """
    if not image:
        return None
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag = last.split(":", 1)[1]
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+._].*)?", tag)
    if match is None:
        return None
    return EtcdVersion(int(match.group(1)), int(match.group(2)), int(match.group(3)))


class RiskTier(enum.IntEnum):
    NONE = 0
    ADVISORY = 1
    HIGH = 2
    CRITICAL = 3


@dataclass(frozen=True)
class KnownIssue:
    tier: RiskTier
    kind: str  # finding kind suffix: `version.<kind>`
    title: str
    fixed_in: str
    reference: str


@dataclass(frozen=True)
class VersionRisk:
    version: EtcdVersion | None
    tier: RiskTier
    issues: tuple[KnownIssue, ...]

    @property
    def summary(self) -> str:
        if self.version is None:
            return "unknown etcd version"
        if not self.issues:
            return f"etcd {self.version}: no known data-consistency issue"
        worst = self.issues[0]
        return f"etcd {self.version}: {worst.title} (fixed in {worst.fixed_in})"


_ISSUE_13766 = KnownIssue(
    RiskTier.CRITICAL,
    "data_loss_13766",
    "a crash can lose committed writes on a member (etcd #13766)",
    "3.5.3",
    "https://github.com/etcd-io/etcd/issues/13766",
)


def _issues_35(patch: int) -> list[KnownIssue]:
    issues: list[KnownIssue] = []
    if patch <= 2:
        issues.append(_ISSUE_13766)
    if patch == 3:
        issues.append(
            KnownIssue(
                RiskTier.HIGH, "startup_panic_auth", "startup panic with auth enabled", "3.5.4", "PR #13946"
            )
        )
    if patch <= 5:
        issues.append(
            KnownIssue(
                RiskTier.HIGH,
                "defrag_crash_inconsistency",
                "a crash during defragmentation can make revisions inconsistent between members",
                "3.5.6",
                "PR #14733",
            )
        )
    if patch == 5:
        issues.append(
            KnownIssue(
                RiskTier.HIGH,
                "auth_new_member",
                "with auth enabled a new member applies entries differently",
                "3.5.6",
                "issue #14571",
            )
        )
    if patch < 6:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "below_minimum",
                "below the production minimum 3.5.6",
                "3.5.6",
                "etcd CHANGELOG/README.md",
            )
        )
    if patch < 12:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "read_buffer_delete",
                "delete inconsistencies in the read buffer",
                "3.5.12",
                "PRs #17230, #17151",
            )
        )
    if patch < 14:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "compaction_panic_revision",
                "revision can decrease after a panic during compaction",
                "3.5.14",
                "PR #17865",
            )
        )
    if patch < 23:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "snapshot_defrag_race",
                "possible corruption when applySnapshot and defragment run concurrently",
                "3.5.23",
                "PR #20653",
            )
        )
    if patch < 26:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "upgrade_to_3_6_blocked",
                "membership drift breaks the upgrade to 3.6 (zombie members)",
                "3.5.26",
                "PR #20995",
            )
        )
    return issues


def _issues_34(patch: int) -> list[KnownIssue]:
    issues: list[KnownIssue] = []
    if patch < 8:
        issues.append(
            KnownIssue(
                RiskTier.HIGH,
                "auth_consistent_index",
                "with auth enabled members can apply entries differently",
                "3.4.8",
                "issue #11651",
            )
        )
    if patch < 4:
        issues.append(
            KnownIssue(
                RiskTier.HIGH,
                "defrag_corruption",
                "corruption bug in defrag; checker fails with peer mTLS",
                "3.4.4",
                "PRs #11613, #11621",
            )
        )
    if patch in (20, 21):
        issues.append(
            KnownIssue(
                RiskTier.HIGH,
                "auth_new_member",
                "with auth enabled a new member applies entries differently",
                "3.4.22",
                "issue #14571",
            )
        )
    if patch < 22:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "below_minimum",
                "below the production minimum 3.4.22",
                "3.4.22",
                "etcd CHANGELOG/README.md",
            )
        )
    if patch < 38:
        issues.append(
            KnownIssue(
                RiskTier.ADVISORY,
                "snapshot_defrag_race",
                "possible corruption when applySnapshot and defragment run concurrently",
                "3.4.38",
                "PR #20659",
            )
        )
    return issues


def assess_version(version: EtcdVersion | None) -> VersionRisk:
    """The known data-consistency issues of one etcd version, worst first."""
    if version is None:
        return VersionRisk(None, RiskTier.NONE, ())
    issues: list[KnownIssue] = []
    if version.minor_line == (3, 5):
        issues = _issues_35(version.patch)
    elif version.minor_line == (3, 4):
        issues = _issues_34(version.patch)
    elif version.minor_line == (3, 6) and version.patch < 5:
        issues = [
            KnownIssue(
                RiskTier.ADVISORY,
                "snapshot_defrag_race",
                "possible corruption when applySnapshot and defragment run concurrently",
                "3.6.5",
                "PR #20650",
            )
        ]
    elif version < EtcdVersion(3, 4, 0):
        issues = [
            KnownIssue(
                RiskTier.HIGH,
                "unsupported",
                "etcd before 3.4 is out of support",
                "3.4.22",
                "etcd CHANGELOG/README.md",
            )
        ]
    issues.sort(key=lambda i: i.tier, reverse=True)
    tier = max((i.tier for i in issues), default=RiskTier.NONE)
    return VersionRisk(version, tier, tuple(issues))


_SEVERITY = {
    RiskTier.CRITICAL: Severity.CRITICAL,
    RiskTier.HIGH: Severity.WARNING,
    RiskTier.ADVISORY: Severity.INFO,
    RiskTier.NONE: Severity.OK,
}


def _upgrade_target(risk: VersionRisk) -> str:
    def key(text: str) -> tuple[int, ...]:
        return tuple(int(p) for p in text.split("."))

    return max((i.fixed_in for i in risk.issues), key=key)


def version_findings(
    version: EtcdVersion | None, *, member: str | None = None, source: str = ""
) -> list[Finding]:
    """One `version.*` finding per member: the worst known issue, the others listed in `fields["issues"]`.

    Critical tier → CRITICAL, high → WARNING, below the production minimum → WARNING, other advisories → INFO.
    """
    if version is None:
        where = f" ({source})" if source else ""
        return [
            Finding(
                "version.unknown",
                Severity.INFO,
                f"etcd version unknown{where}; version risks not checked",
                member,
            )
        ]
    risk = assess_version(version)
    if not risk.issues:
        return []
    worst = risk.issues[0]
    severity = _SEVERITY[worst.tier]
    if any(i.kind == "below_minimum" for i in risk.issues):
        severity = max(severity, Severity.WARNING)
    more = len(risk.issues) - 1
    target = _upgrade_target(risk)
    message = f"etcd {version}: {worst.title}; fixed in {worst.fixed_in}"
    if more:
        message += f"; {more} more known issue{'s' if more > 1 else ''}, upgrade to {target} or later"
    fields = {
        "version": str(version),
        "tier": risk.tier.name.lower(),
        "fixed_in": worst.fixed_in,
        "upgrade_to": target,
        "reference": worst.reference,
        "issues": [
            {
                "kind": i.kind,
                "tier": i.tier.name.lower(),
                "title": i.title,
                "fixed_in": i.fixed_in,
                "reference": i.reference,
            }
            for i in risk.issues
        ],
    }
    return [Finding(f"version.{worst.kind}", severity, message, member, fields)]
