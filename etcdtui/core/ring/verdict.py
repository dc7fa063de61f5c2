"""The ring verdict and its rules: the verdict answers "is the ring healthy now", not the worst finding."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.ring.quorum_count import QuorumCount


class Verdict(enum.StrEnum):
    """The one ring verdict (core, engine snapshot, UI, `check`, exporter); `.status` is its Nagios status."""

    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    CORRUPTION = "CORRUPTION"
    QUORUM_LOST = "QUORUM-LOST"  # the word the header and `check --json` show
    UNKNOWN = "UNKNOWN"

    @property
    def status(self) -> Status:
        return _STATUS[self]


_STATUS = {
    Verdict.HEALTHY: Status.OK,
    Verdict.WARNING: Status.WARNING,
    Verdict.CORRUPTION: Status.CRITICAL,
    Verdict.QUORUM_LOST: Status.CRITICAL,
    Verdict.UNKNOWN: Status.UNKNOWN,
}


def decide_verdict(findings: Sequence[Finding], counts: QuorumCount, no_data: bool) -> Verdict:
    if no_data:
        return Verdict.UNKNOWN
    if any(f.is_corruption for f in findings):
        return Verdict.CORRUPTION
    if counts.lost:
        return Verdict.QUORUM_LOST
    if any(f.severity >= Severity.WARNING and not is_advisory(f) for f in findings):
        return Verdict.WARNING
    return Verdict.HEALTHY


def is_advisory(finding: Finding) -> bool:
    """Version risk is about the future, not the ring's state now: reported, but not part of the verdict."""
    return finding.kind.startswith("version.")
