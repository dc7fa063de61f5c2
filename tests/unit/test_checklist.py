"""The replace checklist: state machine, resume rules, gates and KubeOne's plan check (pure core)."""

from __future__ import annotations

import pytest

from etcdtui.core.checklist import (
    CORRUPT_ALARM_NOTE,
    OUTPUT_TAIL_LINES,
    Checklist,
    ChecklistError,
    MemberFacts,
    StepId,
    StepStatus,
    alarm_note,
    check_join_plan,
    evidence_gate,
    quorum_gate,
    replay,
)

pytestmark = pytest.mark.unit


def _journal(checklist: Checklist) -> list[dict[str, object]]:
    return [checklist.begin_record(1.0)]


def test_steps_run_in_order_and_only_one_at_a_time() -> None:
    c = Checklist("lab-cp-2", "ctx")
    assert c.next_step() is StepId.CONTEXT
    with pytest.raises(ChecklistError, match="step 0"):
        c.start(StepId.EVIDENCE, [], 1.0)
    c.start(StepId.CONTEXT, ["kubeone version"], 1.0)
    with pytest.raises(ChecklistError, match="still running"):
        c.start(StepId.CONTEXT, [], 1.0)
    c.finish(StepId.CONTEXT, 3.5)
    assert c.step(StepId.CONTEXT).duration(99.0) == 2.5
    assert c.next_step() is StepId.EVIDENCE
    with pytest.raises(ChecklistError, match="already done"):
        c.start(StepId.CONTEXT, [], 4.0)


def test_only_the_backup_may_be_skipped_and_only_with_a_reason() -> None:
    c = Checklist("n1", "ctx")
    for step in (StepId.CONTEXT, StepId.EVIDENCE, StepId.QUORUM):
        c.start(step, [], 1.0)
        c.finish(step, 2.0)
    with pytest.raises(ChecklistError, match="reason"):
        c.skip(StepId.BACKUP, "  ", 3.0)
    with pytest.raises(ChecklistError, match="cannot be skipped"):
        c.skip(StepId.DRAIN, "because", 3.0)
    c.skip(StepId.BACKUP, "restic ran 10 min ago", 3.0)
    assert c.step(StepId.BACKUP).status is StepStatus.SKIPPED
    assert c.next_step() is StepId.DRAIN


def test_a_failed_step_is_next_again() -> None:
    c = Checklist("n1", "ctx")
    c.start(StepId.CONTEXT, [], 1.0)
    c.fail(StepId.CONTEXT, "kubeone not found", 2.0)
    assert c.next_step() is StepId.CONTEXT
    assert c.step(StepId.CONTEXT).reason == "kubeone not found"


def test_replay_resumes_a_step_that_was_running_and_keeps_facts_and_confirmations() -> None:
    c = Checklist("lab-cp-2", "ctx", "https://x")
    records = [c.begin_record(1.0)]
    for step in (StepId.CONTEXT, StepId.EVIDENCE, StepId.QUORUM):
        records.append(c.start(step, [f"cmd {int(step)}"], 1.0))
        records.append(c.finish(step, 2.0))
    records.append(c.note("members", 3, 2.0))
    records.append(c.skip(StepId.BACKUP, "no data", 2.0))
    records.append(c.start(StepId.DRAIN, ["drain"], 3.0, confirmation="typed lab-cp-2"))
    records.append(c.finish(StepId.DRAIN, 4.0))
    records.append(c.start(StepId.SSH, ["ssh"], 4.0))
    records.append(c.finish(StepId.SSH, 5.0))
    records.append(c.start(StepId.RESET, ["sudo kubeadm reset --force"], 5.0, confirmation="typed lab-cp-2"))
    c.step(StepId.RESET).add_output(["[reset] Reading configuration"])
    records.append(c.output_record(StepId.RESET, 5.5))
    # ... the process dies here
    resumed = replay(records)
    assert resumed.node == "lab-cp-2" and resumed.facts == {"members": 3}
    reset = resumed.step(StepId.RESET)
    assert reset.status is StepStatus.PENDING and reset.interrupted
    assert reset.output == ["[reset] Reading configuration"] and reset.confirmation == "typed lab-cp-2"
    assert resumed.next_step() is StepId.RESET
    assert resumed.step(StepId.BACKUP).status is StepStatus.SKIPPED
    assert resumed.step(StepId.DRAIN).confirmation == "typed lab-cp-2"
    resumed.start(StepId.RESET, ["again"], 9.0)
    assert resumed.step(StepId.RESET).attempts == 2


def test_replay_of_an_ended_procedure_is_finished() -> None:
    c = Checklist("n1", "ctx")
    records = [c.begin_record(1.0), c.end("abandoned", 2.0)]
    assert replay(records).finished
    with pytest.raises(ChecklistError, match="begin"):
        replay([{"type": "step", "step": 0, "status": "done"}])
    with pytest.raises(ChecklistError, match="empty"):
        replay([])


def test_output_tail_is_bounded_and_counts_what_it_dropped() -> None:
    c = Checklist("n1", "ctx")
    c.start(StepId.CONTEXT, [], 1.0)
    c.step(StepId.CONTEXT).add_output(str(i) for i in range(OUTPUT_TAIL_LINES + 25))
    s = c.step(StepId.CONTEXT)
    assert len(s.output) == OUTPUT_TAIL_LINES and s.dropped_lines == 25 and s.output[0] == "25"


def _m(name: str, healthy: bool = True, evidence: tuple[str, ...] = (), learner: bool = False) -> MemberFacts:
    return MemberFacts(name, f"id-{name}", healthy, learner, evidence)


def test_quorum_gate_needs_both_others_healthy_on_three() -> None:
    ok, decision = quorum_gate([_m("a"), _m("b"), _m("c")], "b")
    assert ok.passed and decision.healthy_others == 2 and "tolerance during the replacement: 0" in ok.detail
    refused, _ = quorum_gate([_m("a"), _m("b"), _m("c", healthy=False)], "b")
    assert not refused.passed and "not healthy: c" in refused.detail
    five, _ = quorum_gate([_m("a"), _m("b"), _m("c"), _m("d", False), _m("e")], "b")
    assert five.passed  # N=5: 3 healthy others are enough


def test_quorum_gate_after_the_target_left_checks_the_rejoin() -> None:
    ok, _ = quorum_gate([_m("a"), _m("c")], "b")
    assert ok.passed and "no longer a member" in ok.detail
    refused, _ = quorum_gate([_m("a"), _m("c", healthy=False)], "b")
    assert not refused.passed


def test_evidence_gate_refuses_two_suspects_or_another_suspect() -> None:
    assert evidence_gate([_m("a"), _m("b", evidence=("hash differs",)), _m("c")], "b").passed
    two = evidence_gate([_m("a", evidence=("x",)), _m("b", evidence=("y",)), _m("c")], "b")
    assert not two.passed and "2 members are suspect" in two.detail
    other = evidence_gate([_m("a", evidence=("x",)), _m("b"), _m("c")], "b")
    assert not other.passed and "points at a" in other.detail
    none = evidence_gate([_m("a"), _m("b"), _m("c")], "b")
    assert none.passed and none.warnings
    assert not evidence_gate([_m("a"), _m("c")], "zz").passed


def test_alarm_note_explains_corrupt() -> None:
    assert alarm_note([]) is None
    assert alarm_note([("0", "CORRUPT")]) == CORRUPT_ALARM_NOTE
    assert "NOSPACE" in (alarm_note([("1", "NOSPACE")]) or "")


PLAN = [
    "INFO[12:00:00 UTC] Running cluster probes...",
    "The following actions will be taken: ",
    "Run with --verbose flag for more information.",
    '\t+ join control plane node "lab-cp-2" (127.0.1.2) using 1.32.4',
    "\t+ apply embedded addons",
    "",
]


def test_join_plan_must_join_exactly_the_target() -> None:
    assert check_join_plan(PLAN, "lab-cp-2").ok
    assert not check_join_plan(PLAN, "lab-cp-3").ok
    init = [*PLAN[:3], '\t+ initialize control plane node "lab-cp-1" (127.0.1.1) using 1.32.4', *PLAN[3:]]
    bad = check_join_plan(init, "lab-cp-2")
    assert not bad.ok and "initializes" in bad.reason
    two = [*PLAN, '\t+ join control plane node "lab-cp-3" (127.0.1.3) using 1.32.4']
    assert not check_join_plan(two, "lab-cp-2").ok
    assert not check_join_plan(["Do you want"], "lab-cp-2").ok
