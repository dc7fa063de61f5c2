"""The evidence gate's view of the members: what every member logs under a CORRUPT alarm is not evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from etcdtui.core.checklist import evidence_gate
from etcdtui.core.findings import Finding, Severity
from etcdtui.engine.replace_context import member_facts
from etcdtui.engine.snapshot import (
    ConnectionState,
    ExecState,
    ExecStatus,
    LinkState,
    MemberRow,
    RingSnapshot,
    Verdict,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def _row(n: int, *findings: Finding, agrees: bool = True) -> MemberRow:
    return MemberRow(key=f"etcd-cp-{n}", pod=None, node=None, member_id=f"a{n}", member_name=f"cp-{n}",
                     version="3.5.1", is_leader=n == 1, healthy=True, hash=n, hash_agrees=agrees, revision=10,
                     db_size=1, findings=findings)


def _snapshot(*rows: MemberRow) -> RingSnapshot:
    return RingSnapshot(seq=1, taken_at=NOW, context="c", server="https://x", namespace="kube-system",
                        selector="component=etcd", connection=ConnectionState(LinkState.LIVE),
                        exec=ExecState(ExecStatus.OK), rows=rows, verdict=Verdict.CORRUPTION, findings=(), nodes=(),
                        members_total=3, quorum=2, fault_tolerance=1, common_revision=10, last_poll_at=NOW,
                        complete=True, incomplete_reason=None)


def _f(kind: str) -> Finding:
    return Finding(kind, Severity.CRITICAL, kind)


def test_what_every_member_logs_under_the_alarm_is_not_evidence_against_it() -> None:
    alarm = (_f("corruption.alarm_active"), _f("corruption.corrupt_cluster_error"))
    snap = _snapshot(_row(1, *alarm, _f("corruption.periodic_hash_mismatch")),  # the leader reports a peer
                     _row(2, *alarm, agrees=False),
                     _row(3, *alarm))
    facts = {m.name: m.evidence for m in member_facts(snap)}
    assert facts["cp-1"] == () and facts["cp-3"] == ()
    assert facts["cp-2"]  # its hash differs
    assert evidence_gate(member_facts(snap), "cp-2").passed


def test_a_members_own_startup_check_is_evidence() -> None:
    snap = _snapshot(_row(1), replace(_row(2), findings=(_f("corruption.initial_hash_mismatch"),)), _row(3))
    facts = {m.name: m.evidence for m in member_facts(snap)}
    assert facts["cp-2"] == ("corruption.initial_hash_mismatch",) and not facts["cp-1"]
