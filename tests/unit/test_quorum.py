"""Quorum arithmetic and the replace gate (kubeone-procedure §9 step 2)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from etcdtui.core.quorum import fault_tolerance, has_quorum, quorum, replace_gate, voting_members

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("n", "q", "ft"), [(0, 1, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)]
)
def test_quorum_and_fault_tolerance(n: int, q: int, ft: int) -> None:
    assert quorum(n) == q
    assert fault_tolerance(n) == ft


def test_negative_count_is_rejected() -> None:
    with pytest.raises(ValueError):
        quorum(-1)


@dataclass
class _M:
    is_learner: bool


def test_learners_do_not_vote() -> None:
    assert voting_members([_M(False), _M(False), _M(False), _M(True)]) == 3


def test_has_quorum() -> None:
    assert has_quorum(3, 2)
    assert not has_quorum(3, 1)
    assert not has_quorum(0, 0)


def test_three_members_two_healthy_others_is_safe() -> None:
    d = replace_gate(3, 2)
    assert d.allowed
    assert (d.quorum_now, d.quorum_after, d.tolerance_during) == (2, 2, 0)
    assert d.reason.startswith("3 voting members, 2 healthy others; quorum now 2, after removal 2: safe")


def test_three_members_one_healthy_other_is_refused() -> None:
    d = replace_gate(3, 1)
    assert not d.allowed
    assert "refused" in d.reason and "need 2 healthy others" in d.reason


@pytest.mark.parametrize(
    ("n", "h", "allowed"), [(5, 3, True), (5, 2, False), (4, 3, True), (4, 2, False), (5, 4, True)]
)
def test_gate_needs_both_current_and_future_quorum(n: int, h: int, allowed: bool) -> None:
    assert replace_gate(n, h).allowed is allowed


def test_four_members_gate_uses_current_quorum_not_only_future() -> None:
    # Q(4)=3 now, Q(3)=2 after removal: H=2 satisfies the future quorum only, so it must be refused.
    d = replace_gate(4, 2)
    assert not d.allowed and d.quorum_now == 3 and d.quorum_after == 2


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_rings_are_refused(n: int) -> None:
    d = replace_gate(n, n - 1)
    assert not d.allowed
    assert "backup" in d.reason


def test_five_members_tolerance_during_replacement() -> None:
    assert replace_gate(5, 4).tolerance_during == 1


def test_learner_target_does_not_change_quorum() -> None:
    d = replace_gate(3, 2, target_is_learner=True)
    assert d.allowed and "learner" in d.reason
    assert not replace_gate(3, 1, target_is_learner=True).allowed


def test_impossible_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        replace_gate(3, 4)
