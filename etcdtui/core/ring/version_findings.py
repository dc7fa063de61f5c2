"""Findings across members' etcd versions."""

from __future__ import annotations

from collections.abc import Sequence

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import MemberAssessment


def mixed_version_findings(rows: Sequence[MemberAssessment]) -> list[Finding]:
    versions = sorted({r.version for r in rows if r.version})
    if len(versions) < 2:
        return []
    return [
        Finding(
            "version.mixed",
            Severity.INFO,
            f"members run different etcd versions: {', '.join(versions)}",
            None,
            {"versions": versions},
        )
    ]
