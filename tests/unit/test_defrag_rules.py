"""The defragment planner: etcd-defrag's rule language, the order, the gate before each member, the journal."""

from __future__ import annotations

import pytest

from etcdtui.core.checklist import Checklist, ChecklistError, StepSpec, StepStatus, replay
from etcdtui.core.defrag_rules import (
    DEFAULT_QUOTA,
    DEFAULT_RULE,
    MemberDb,
    RuleError,
    fragmentation,
    healthiest_follower,
    parse_rule,
    pause_gate,
    plan,
    quota_from_command,
    quota_use,
)

MB = 1000 * 1000


@pytest.mark.parametrize(("rule", "size", "used", "quota", "want"), [
    ("dbSize > dbQuota*80/100 || dbSize - dbSizeInUse > 200*1024*1024", 90, 90, 100, True),
    ("dbSize > dbQuota*80/100 || dbSize - dbSizeInUse > 200*1024*1024", 80, 10, 100, False),
    ("dbSize > dbQuota*80/100 && dbSize - dbSizeInUse > 20", 90, 60, 100, True),
    ("!(dbSize < 5)", 5, 0, 1, True),
    ("7 / 2 == 3 && -7 / 2 == -3 && -7 % 2 == -1", 1, 1, 1, True),  # Go truncates toward zero
    ("1 + 2 * 3 == 7 && (1 + 2) * 3 == 9", 1, 1, 1, True),
    ("true || dbSize / 0 > 1", 1, 1, 1, True),  # evaluated on both sides: see the division case below
    (DEFAULT_RULE, 200 * MB, 100 * MB, DEFAULT_QUOTA, True),
    (DEFAULT_RULE, 200 * MB, 101 * MB, DEFAULT_QUOTA, False),
    (DEFAULT_RULE, 99 * MB, 1 * MB, DEFAULT_QUOTA, False),
])
def test_rules_evaluate_like_etcd_defrag(rule: str, size: int, used: int, quota: int, want: bool) -> None:
    if "/ 0" in rule:
        with pytest.raises(RuleError, match="division by zero"):
            parse_rule(rule).evaluate(size, used, quota)
        return
    assert parse_rule(rule).evaluate(size, used, quota) is want


@pytest.mark.parametrize(("rule", "message"), [
    ("", "empty"), ("dbSize >", "ends too early"), ("dbSize > 1)", "after the end"), ("dbsize > 1", "unknown variable"),
    ("dbSize + 1", "gives a number"), ("dbSize && true", "needs booleans"), ("(dbSize > 1", "missing"),
    ("dbSize > 1 $", "unexpected"), ("true == 1", "compares a number with a boolean"), ("!dbSize", "needs booleans"),
])
def test_bad_rules_are_one_line_errors(rule: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rule(rule)


def _m(name: str, size: int | None = 200 * MB, used: int | None = 20 * MB, *, leader: bool = False,
       healthy: bool | None = True, learner: bool = False, lag: int | None = 0) -> MemberDb:
    return MemberDb(name, f"id-{name}", size, used, DEFAULT_QUOTA, leader, healthy, learner, lag)


def test_plan_puts_followers_first_and_the_leader_last_with_the_rule_verdict() -> None:
    members = [_m("c", leader=True), _m("a", used=190 * MB), _m("b"), _m("d", size=None, used=None)]
    entries = plan(members, parse_rule(DEFAULT_RULE))
    assert [e.name for e in entries] == ["a", "b", "d", "c"]
    assert [e.selected for e in entries] == [False, True, False, True]
    assert entries[0].reason.startswith("rule false: 200.0 MB, in use 190.0 MB, 5% fragmented")
    assert entries[-1].was_leader and "no endpoint status" in entries[2].reason
    assert all(e.selected for e in plan(members, parse_rule(DEFAULT_RULE), force=True))  # NOSPACE: every member


def test_pause_gate_refuses_corrupt_sick_rings_and_lost_quorum() -> None:
    ring = [_m("a"), _m("b"), _m("c", leader=True)]
    assert pause_gate(ring, "a", []).passed
    nospace = pause_gate(ring, "a", ["NOSPACE"])
    assert nospace.passed and "NOSPACE is active" in nospace.detail
    corrupt = pause_gate(ring, "a", ["CORRUPT", "NOSPACE"])
    assert not corrupt.passed and "CORRUPT alarm is active" in corrupt.detail
    sick = pause_gate([_m("a"), _m("b", healthy=False), _m("c")], "a", [])
    assert not sick.passed and "b not healthy" in sick.detail
    assert not pause_gate(ring, "z", []).passed
    two = pause_gate([_m("a"), _m("b")], "a", [])  # 2 voting members: pausing one loses quorum
    assert not two.passed and "quorum needs 2" in two.detail
    with_learner = pause_gate([_m("a"), _m("b"), _m("c"), _m("l", learner=True)], "l", [])
    assert with_learner.passed


def test_leadership_goes_to_a_done_healthy_follower_else_the_least_lagging() -> None:
    ring = [_m("a", lag=5), _m("b", lag=1), _m("c", leader=True), _m("d", healthy=False), _m("l", learner=True)]
    assert healthiest_follower(ring, "c").name == "b"  # type: ignore[union-attr]
    assert healthiest_follower(ring, "c", prefer=["a"]).name == "a"  # type: ignore[union-attr]
    assert healthiest_follower([_m("c", leader=True)], "c") is None


def test_fragmentation_quota_and_the_quota_flag() -> None:
    assert fragmentation(100, 25) == 0.75 and fragmentation(None, 1) is None and fragmentation(0, 0) is None
    assert quota_use(50, 100) == 0.5 and quota_use(1, 0) is None
    assert quota_from_command(["etcd", "--quota-backend-bytes=16000000"]) == 16_000_000
    assert quota_from_command(["etcd", "--quota-backend-bytes", "8589934592"]) == 8 * 1024 ** 3
    assert quota_from_command(["etcd", "--quota-backend-bytes=0"]) == DEFAULT_QUOTA  # 0 is etcd's default
    assert quota_from_command(["etcd"]) == quota_from_command(["etcd", "--quota-backend-bytes=x"]) == DEFAULT_QUOTA


def test_a_checklist_of_planned_steps_replays_from_its_journal() -> None:
    specs = [StepSpec("Plan"), StepSpec("Defragment a", destructive=True, skippable=True), StepSpec("Verify")]
    c = Checklist.of_steps("defrag", "", "ctx", "https://x", specs)
    records = [c.begin_record(1.0), c.start(0, ["plan"], 2.0), c.finish(0, 3.0, "ok"),
               c.skip(1, "not needed", 4.0), c.start(2, ["verify"], 5.0)]
    back = replay(records)
    assert back.kind == "defrag" and [s.title for s in back.steps] == ["Plan", "Defragment a", "Verify"]
    assert back.step(1).destructive and back.step(1).skippable and not back.step(2).skippable
    assert back.step(2).status is StepStatus.PENDING and back.step(2).interrupted  # running when it died
    assert back.next_index() == 2
    with pytest.raises(ChecklistError, match="cannot be skipped"):
        back.skip(2, "why", 6.0)
    replace = replay([Checklist("n", "ctx").begin_record(1.0)])
    assert replace.kind == "replace" and len(replace.steps) == 10 and not replace.step(0).skippable
