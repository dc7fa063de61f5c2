"""Past corruption evidence: settled once the live cross-check is clean."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.hash_findings import hash_agreement
from etcdtui.core.ring.observation import RingObservation


def live_cross_check_clean(obs: RingObservation) -> bool:
    """etcd's data is provably consistent right now: every voting member's hash was compared at one
    common revision and all are equal, and no alarm is raised."""
    members = obs.members
    if not members or obs.alarms:
        return False
    voting = [m for m in members if not m.is_learner]
    agreement = hash_agreement(members, obs.hash_revision)
    return (
        bool(voting)
        and agreement is not None
        and not agreement.disagreement
        and agreement.compared >= len(voting)
    )


def settle_log_findings(
    log_findings: Mapping[str, Sequence[Finding]], clean_since: datetime | None
) -> dict[str, tuple[Finding, ...]]:
    """Log corruption evidence logged before the live cross-check became clean is past evidence: reported
    (INFO, kind `history.corruption_evidence`) but no longer a verdict of CORRUPTION. Evidence without a
    timestamp (`fields["log-ts"]`, epoch seconds) or logged since then keeps counting."""
    if clean_since is None:
        return {k: tuple(v) for k, v in log_findings.items()}
    cutoff = clean_since.timestamp()

    def settle(f: Finding) -> Finding:
        ts = f.fields.get("log-ts")
        if not f.is_corruption or not isinstance(ts, int | float) or ts >= cutoff:
            return f
        logged = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        since = clean_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return Finding(
            "history.corruption_evidence",
            Severity.INFO,
            f"past evidence, logged {logged}: {f.message} (since {since} every member's hash agrees "
            "and no alarm is raised)",
            f.member,
            {**f.fields, "original_kind": f.kind},
        )

    return {k: tuple(settle(f) for f in v) for k, v in log_findings.items()}
