"""etcd versions: parse them from image tags or etcdctl output, and rate the known data-loss risks.

The tiers follow etcd-facts §3: 3.5.0–3.5.2 lose committed writes after a crash (etcd issue 13766) and are
critical; releases with other inconsistency or start-failure bugs, and the end-of-life 3.4 line, are high
risk; anything below the official production minimum (3.4.22 / 3.5.6) or missing later fixes is advisory.
Every entry of `KNOWN` is a CHANGELOG-3.x.md line of etcd-io/etcd (its PR number is the reference).
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
        target, _ = upgrade_advice(self)
        more = "" if len(self.issues) == 1 else f"; {len(self.issues) - 1} more, upgrade to {target}"
        return f"etcd {self.version}: {worst.title} (fixed in {worst.fixed_in}){more}"


# The version table (tags in etcd-io/etcd): the newest release of each line. 3.4 is end of life since v3.4.45
# ("this release marks the end of support (EOL) for v3.4", CHANGELOG-3.4.md); etcd upgrades one minor at a time,
# so a 3.4 member moves to the newest 3.5 first.
NEWEST: dict[tuple[int, int], EtcdVersion] = {
    (3, 4): EtcdVersion(3, 4, 45),
    (3, 5): EtcdVersion(3, 5, 33),
    (3, 6): EtcdVersion(3, 6, 14),
    (3, 7): EtcdVersion(3, 7, 1),
}
END_OF_LIFE = frozenset({(3, 4)})


@dataclass(frozen=True)
class _Known:
    """One known bug: the patch range it affects in each minor line (`fixed=None`: not fixed in that line)."""

    tier: RiskTier
    kind: str
    title: str
    reference: str
    lines: dict[tuple[int, int], tuple[int, int | None]]  # line → (first affected patch, first fixed patch)
    fixed_later: str = ""  # for lines without a fix: the release that has it


# Every entry: CHANGELOG-3.x.md at etcd main (c34dc7e, 2026-08) unless the reference says otherwise.
KNOWN: tuple[_Known, ...] = (
    _Known(RiskTier.CRITICAL, "data_loss_13766", "a crash can lose committed writes on a member (etcd #13766)",
           "issue #13766, PR #13908 (v3.5.3)", {(3, 5): (0, 3)}),
    _Known(RiskTier.HIGH, "single_member_durability",
           "a single-member cluster (one control plane) can lose acknowledged writes on a crash (etcd #14370)",
           "issue #14370, PRs #14423 (v3.4.21), #14424 (v3.5.5)", {(3, 4): (0, 21), (3, 5): (0, 5)}),
    _Known(RiskTier.HIGH, "startup_panic_auth", "startup panic with auth enabled", "PR #13946 (v3.5.4)",
           {(3, 5): (3, 4)}),
    _Known(RiskTier.HIGH, "defrag_crash_inconsistency",
           "a crash during defragmentation can make revisions inconsistent between members", "PR #14733 (v3.5.6)",
           {(3, 5): (0, 6)}),
    _Known(RiskTier.HIGH, "wal_power_loss_start",
           "after a power loss the member may refuse to start ('failed to read WAL, cannot be repaired'); "
           "3.5.7+ repairs the torn last record", "PR #15069 (v3.5.7)", {(3, 5): (5, 7)}),
    _Known(RiskTier.ADVISORY, "auth_not_loaded",
           "with auth enabled a restarted member loses users and permissions until the next auth change "
           "(etcd #14355)", "issue #14355, PRs #14410 (v3.4.21), #14409 (v3.5.5)",
           {(3, 4): (0, 21), (3, 5): (0, 5)}),
    _Known(RiskTier.HIGH, "auth_snapshot_recovery",
           "with auth enabled a member recovering from a snapshot applies entries differently (etcd #14571)",
           "issue #14571, PRs #14649 (v3.4.22), #14648 (v3.5.6)", {(3, 4): (21, 22), (3, 5): (5, 6)}),
    _Known(RiskTier.HIGH, "auth_consistent_index", "with auth enabled members can apply entries differently",
           "issue #11651 (v3.4.8)", {(3, 4): (0, 8)}),
    _Known(RiskTier.HIGH, "defrag_corruption", "corruption bug in defrag; checker fails with peer mTLS",
           "PRs #11613, #11621 (v3.4.4)", {(3, 4): (0, 4)}),
    _Known(RiskTier.HIGH, "partial_write_txn", "a write txn can be partly applied", "PR #18799 (v3.5.17)",
           {(3, 5): (0, 17)}),
    _Known(RiskTier.HIGH, "learner_promotion_start",
           "a member can fail to start when it replays a learner promotion", "PR #20387 (v3.6.4)",
           {(3, 6): (0, 4)}),
    _Known(RiskTier.ADVISORY, "read_buffer_delete", "delete inconsistencies in the read buffer",
           "PRs #17230, #17151 (v3.5.12)", {(3, 5): (0, 12)}),
    _Known(RiskTier.ADVISORY, "compaction_panic_revision", "revision can go backwards after a panic during compaction",
           "PRs #17864 (v3.4.32), #17865 (v3.5.14)", {(3, 4): (0, 32), (3, 5): (0, 14)}),
    _Known(RiskTier.ADVISORY, "false_corrupt_alarm_other_cluster",
           "a member of another cluster can raise a false CORRUPT alarm (no cluster ID check)",
           "issue #15548 (v3.4.28, v3.5.10: 'cluster ID mismatch' in corrupt.go)", {(3, 4): (0, 28), (3, 5): (0, 10)}),
    _Known(RiskTier.ADVISORY, "snapshot_defrag_race",
           "possible corruption when applySnapshot and defragment run concurrently",
           "PRs #20659 (v3.4.38), #20653 (v3.5.23), #20650 (v3.6.5)",
           {(3, 4): (0, 38), (3, 5): (0, 23), (3, 6): (0, 5)}),
    _Known(RiskTier.ADVISORY, "upgrade_to_3_6_blocked", "membership drift breaks the upgrade to 3.6 (zombie members)",
           "PR #20995 (v3.5.26)", {(3, 5): (0, 26)}),
    _Known(RiskTier.ADVISORY, "stale_reads_pause", "stale reads after a process pause",
           "PRs #21423 (v3.4.42), #21421 (v3.5.28), #21417 (v3.6.9)", {(3, 4): (0, 42), (3, 5): (0, 28), (3, 6): (0, 9)}),
    _Known(RiskTier.ADVISORY, "txn_range_revision_divergence",
           "a txn containing a range at a given revision can make members diverge (etcd #18667)",
           "issue #18667, PR #21432 (v3.7.0; no 3.4/3.5/3.6 backport)",
           {(3, 4): (0, None), (3, 5): (0, None), (3, 6): (0, None)}, fixed_later="3.7.0"),
    _Known(RiskTier.HIGH, "end_of_life", "the 3.4 line is end of life since 3.4.45 (no more fixes): move to 3.5",
           "CHANGELOG-3.4.md v3.4.45", {(3, 4): (0, None)}, fixed_later="3.5.33"),
)
_MINIMUM = {(3, 4): 22, (3, 5): 6}  # CHANGELOG/README.md: minimum production versions v3.4.22+ and v3.5.6+


def _issues_for(version: EtcdVersion) -> list[KnownIssue]:
    line = version.minor_line
    issues: list[KnownIssue] = []
    for known in KNOWN:
        affected = known.lines.get(line)
        if affected is None:
            continue
        first, fixed = affected
        if version.patch < first or (fixed is not None and version.patch >= fixed):
            continue
        fixed_in = f"{line[0]}.{line[1]}.{fixed}" if fixed is not None else known.fixed_later
        issues.append(KnownIssue(known.tier, known.kind, known.title, fixed_in, known.reference))
    minimum = _MINIMUM.get(line)
    if minimum is not None and version.patch < minimum:
        issues.append(KnownIssue(RiskTier.ADVISORY, "below_minimum",
                                 f"below the production minimum {line[0]}.{line[1]}.{minimum}",
                                 f"{line[0]}.{line[1]}.{minimum}", "etcd CHANGELOG/README.md"))
    return issues


def assess_version(version: EtcdVersion | None) -> VersionRisk:
    """The known data-consistency issues of one etcd version, worst first."""
    if version is None:
        return VersionRisk(None, RiskTier.NONE, ())
    issues: list[KnownIssue] = []
    if version < EtcdVersion(3, 4, 0):
        issues = [
            KnownIssue(
                RiskTier.HIGH,
                "unsupported",
                "etcd before 3.4 is out of support",
                str(NEWEST[(3, 5)]),
                "etcd CHANGELOG/README.md",
            )
        ]
    else:
        issues = _issues_for(version)
    issues.sort(key=lambda i: i.tier, reverse=True)
    tier = max((i.tier for i in issues), default=RiskTier.NONE)
    return VersionRisk(version, tier, tuple(issues))


_SEVERITY = {
    RiskTier.CRITICAL: Severity.CRITICAL,
    RiskTier.HIGH: Severity.WARNING,
    RiskTier.ADVISORY: Severity.INFO,
    RiskTier.NONE: Severity.OK,
}


def _key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def _line_of(text: str) -> tuple[int, int] | None:
    parsed = parse_version(text)
    return parsed.minor_line if parsed is not None else None


def upgrade_advice(risk: VersionRisk) -> tuple[str, tuple[str, ...]]:
    """(the release to upgrade to, issues that release does not fix) for a member's version.

    Within the member's own minor line: the newest `fixed_in` of its issues. An end-of-life line has no
    such release: the target is the newest release of the next line. Issues fixed only in a later line
    (e.g. #18667, 3.7.0) are named, not folded into the target: a minor upgrade is a procedure of its own.
    """
    version = risk.version
    if version is None or not risk.issues:
        return "", ()
    line = version.minor_line
    if line in END_OF_LIFE or version < EtcdVersion(3, 4, 0):
        target = str(NEWEST[(3, 5)] if version < EtcdVersion(3, 5, 0) else NEWEST[(line[0], line[1] + 1)])
    else:
        in_line = [i.fixed_in for i in risk.issues if _line_of(i.fixed_in) == line]
        target = max(in_line or [i.fixed_in for i in risk.issues], key=_key)
    reach = _line_of(target)
    later = tuple(dict.fromkeys(f"{i.kind} (fixed in {i.fixed_in})" for i in risk.issues
                                if (_line_of(i.fixed_in) or (0, 0)) > (reach or (0, 0))))
    return target, later


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
    target, later = upgrade_advice(risk)
    message = f"etcd {version}: {worst.title}; fixed in {worst.fixed_in}"
    if more:
        message += f"; {more} more known issue{'s' if more > 1 else ''}, upgrade to {target} or later"
    newest = NEWEST.get(version.minor_line)
    if newest is not None and version < newest and version.minor_line not in END_OF_LIFE:
        message += f" (newest {version.major}.{version.minor}: {newest})"
    if later:
        message += f"; fixed only in a later minor release: {', '.join(later)}"
    fields = {
        "version": str(version),
        "tier": risk.tier.name.lower(),
        "fixed_in": worst.fixed_in,
        "upgrade_to": target,
        "newest_in_line": str(newest) if newest is not None else None,
        "fixed_only_later": list(later),
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
