"""One line per context for the fleet: what `check --all-contexts` prints and the fleet screen shows.

Derived from a context's RingSnapshot (or its one-line failure) and nothing else, so every face of the
fleet agrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from etcdtui.core.findings import Severity
from etcdtui.engine.snapshot import RingSnapshot, Verdict

# Worst first: the order the operator must look at contexts in (CRITICAL > UNKNOWN > WARNING > OK).
_RANK = {Verdict.CORRUPTION: 0, Verdict.QUORUM_LOST: 1, Verdict.UNKNOWN: 2, Verdict.WARNING: 3, Verdict.HEALTHY: 4}


@dataclass(frozen=True)
class FleetRow:
    context: str
    server: str
    verdict: Verdict  # UNKNOWN when the check could not complete (unless critical evidence was seen)
    healthy: int
    members: int
    fault_tolerance: int | None
    leader: str | None
    versions: tuple[tuple[str, bool], ...]  # (version, risky) each distinct version once
    checks_off: int | None  # members with a corruption check off; None when unknown
    hashes: str  # "agree", "DIFFER", "-" (not compared)
    largest_db: int | None
    last_checked: datetime | None
    worst: str  # the worst finding's message, or the reason the context could not be checked

    @property
    def rank(self) -> int:
        return _RANK[self.verdict]


def row_from_snapshot(snap: RingSnapshot) -> FleetRow:
    rows = snap.rows
    critical = snap.verdict in (Verdict.CORRUPTION, Verdict.QUORUM_LOST)
    verdict = snap.verdict if critical or snap.complete else Verdict.UNKNOWN
    versions: dict[str, bool] = {}
    for r in rows:
        if r.version:
            versions[r.version] = versions.get(r.version, False) or (r.version_risk or 0) >= Severity.WARNING
    known = [r.checks for r in rows if r.checks is not None]
    checks_off = (sum(1 for c in known if not (c.initial and c.periodic and c.compaction)) if known else None)
    agreements = [r.hash_agrees for r in rows if r.hash_agrees is not None]
    hashes = "-" if not agreements else ("agree" if all(agreements) else "DIFFER")
    sizes = [r.db_size for r in rows if r.db_size is not None]
    leader = next((r.member_name or r.node_name or r.pod_name for r in rows if r.is_leader), None)
    findings = [f for f in snap.findings if f.severity >= Severity.WARNING]
    if verdict is Verdict.UNKNOWN and snap.incomplete_reason:
        worst = snap.incomplete_reason
    else:
        worst = findings[0].message if findings else ""
    return FleetRow(
        context=snap.context, server=snap.server, verdict=verdict,
        healthy=sum(1 for r in rows if r.healthy), members=snap.members_total or len(rows),
        fault_tolerance=snap.fault_tolerance, leader=leader, versions=tuple(sorted(versions.items())),
        checks_off=checks_off, hashes=hashes, largest_db=max(sizes) if sizes else None,
        last_checked=snap.last_poll_at or snap.taken_at, worst=worst,
    )


def row_from_failure(context: str, reason: str, server: str = "") -> FleetRow:
    return FleetRow(context=context, server=server, verdict=Verdict.UNKNOWN, healthy=0, members=0,
                    fault_tolerance=None, leader=None, versions=(), checks_off=None, hashes="-", largest_db=None,
                    last_checked=None, worst=reason)


def worst_first(rows: Iterable[FleetRow]) -> list[FleetRow]:
    return sorted(rows, key=lambda r: (r.rank, r.context))
