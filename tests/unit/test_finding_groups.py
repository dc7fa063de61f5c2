"""Repeated findings grouped by (kind, member), most severe then newest first."""

from __future__ import annotations

import pytest

from etcdtui.core.finding_groups import group_findings
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.log_lines import Pinned

pytestmark = pytest.mark.unit


def _pin(seq: int, member: str, kind: str, severity: Severity, ts: float) -> Pinned:
    return Pinned(seq, member, ts, Finding(kind, severity, f"{kind} on {member} at {ts}", member), "raw")


def test_a_flood_of_one_refusal_collapses_and_the_rare_critical_line_leads() -> None:
    pinned = [_pin(i, f"m{i % 3 + 1}", "corruption.alarm_active", Severity.WARNING, 100.0 + i) for i in range(78)]
    pinned.insert(40, _pin(1000, "m2", "corruption.compaction_hash_mismatch", Severity.CRITICAL, 140.5))
    pinned.append(_pin(2000, "m1", "check.periodic_passed", Severity.INFO, 500.0))
    groups = group_findings(pinned)
    assert [(g.kind, g.member, g.count) for g in groups] == [
        ("corruption.compaction_hash_mismatch", "m2", 1),
        ("corruption.alarm_active", "m3", 26),  # the newest refusal (ts 177) was m3's
        ("corruption.alarm_active", "m2", 26),
        ("corruption.alarm_active", "m1", 26),
        ("check.periodic_passed", "m1", 1),
    ]
    m1 = groups[3]
    assert (m1.first_ts, m1.last_ts) == (100.0, 175.0)
    assert m1.latest.seq == 75 and [e.seq for e in m1.entries][:3] == [75, 72, 69]  # newest first
    assert sum(g.count for g in groups) == len(pinned)


def test_severity_of_a_group_is_its_worst_line() -> None:
    groups = group_findings([_pin(1, "m1", "k", Severity.INFO, 1.0), _pin(2, "m1", "k", Severity.CRITICAL, 2.0),
                             _pin(3, "m2", "other", Severity.WARNING, 9.0)])
    assert [(g.kind, g.severity) for g in groups] == [("k", Severity.CRITICAL), ("other", Severity.WARNING)]
    assert group_findings([]) == []
