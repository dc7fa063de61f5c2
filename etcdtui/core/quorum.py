"""Quorum arithmetic and the replace gate (kubeone-procedure §9, step 2).

Only voting members count: learners neither vote nor count towards quorum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


def quorum(voting: int) -> int:
    """Q(N) = ⌊N/2⌋ + 1: the majority of N voting members."""
    if voting < 0:
        raise ValueError(f"member count must be >= 0, got {voting}")
    return voting // 2 + 1


def fault_tolerance(voting: int) -> int:
    """How many voting members can fail before quorum is lost (3 → 1, 5 → 2, 0 → 0)."""
    return max(voting - quorum(voting), 0)


class HasLearnerFlag(Protocol):
    @property
    def is_learner(self) -> bool: ...


def voting_members(members: Iterable[HasLearnerFlag]) -> int:
    return sum(1 for m in members if not m.is_learner)


def has_quorum(voting: int, healthy_voting: int) -> bool:
    return voting > 0 and healthy_voting >= quorum(voting)


@dataclass(frozen=True)
class ReplaceDecision:
    allowed: bool
    voting: int  # N
    healthy_others: int  # H: healthy voting members other than the target
    quorum_now: int  # Q(N)
    quorum_after: int  # Q(N-1)
    tolerance_during: int  # failures the ring survives while the target is gone
    reason: str


def replace_gate(voting: int, healthy_others: int, *, target_is_learner: bool = False) -> ReplaceDecision:
    """May the target member be removed and re-added? Proceed only if H ≥ Q(N) and H ≥ Q(N−1).

    `voting` and `healthy_others` count voting members only. A learner target does not vote, so removing it
    changes neither N nor the quorum; the voting members must still hold quorum.
    """
    if voting < 0 or healthy_others < 0:
        raise ValueError("member counts must be >= 0")
    if healthy_others > voting:
        raise ValueError(f"{healthy_others} healthy others cannot exceed {voting} voting members")
    others = "other" if healthy_others == 1 else "others"
    head = f"{voting} voting member{'s' if voting != 1 else ''}, {healthy_others} healthy {others}"
    if target_is_learner:
        q = quorum(voting) if voting else 1
        ok = voting > 0 and healthy_others >= q
        verdict = (
            "safe (the target is a learner and does not vote)"
            if ok
            else f"refused: the voting members have no quorum (need {q} healthy)"
        )
        return ReplaceDecision(
            ok,
            voting,
            healthy_others,
            q,
            q,
            max(healthy_others - q, 0) if ok else 0,
            f"{head}; quorum {q}: {verdict}",
        )
    q_now = quorum(voting)
    q_after = quorum(voting - 1) if voting >= 1 else 1
    head = f"{head}; quorum now {q_now}, after removal {q_after}"
    if voting <= 2:
        return ReplaceDecision(
            False,
            voting,
            healthy_others,
            q_now,
            q_after,
            0,
            f"{head}: refused, a ring of {voting} cannot replace a member without losing quorum; restore from a backup instead",
        )
    need = max(q_now, q_after)
    if healthy_others < need:
        return ReplaceDecision(
            False,
            voting,
            healthy_others,
            q_now,
            q_after,
            0,
            f"{head}: refused, removing this member would lose quorum (need {need} healthy others)",
        )
    tolerance = healthy_others - q_after
    return ReplaceDecision(
        True,
        voting,
        healthy_others,
        q_now,
        q_after,
        tolerance,
        f"{head}: safe (fault tolerance during the replacement: {tolerance})",
    )
