"""Hash agreement and the etcd #13766 revision signal, on the real 13766 reproduction and hand-made edge cases."""

from __future__ import annotations

import pytest
from fixture_transcripts import ETCD_13766, find

from etcdtui.core.etcdctl import parse_endpoint_hashkv, parse_endpoint_status
from etcdtui.core.hashes import (
    HashSample,
    HashVerdict,
    RevisionPoint,
    choose_common_revision,
    compare_hashes,
    revision_divergence,
    shared_current_revision,
)

pytestmark = pytest.mark.unit

D0 = ETCD_13766 / "D0-evidence.txt"


def verdicts(agreement: object) -> dict[str, HashVerdict]:
    return {m.member_id: m.verdict for m in agreement.members}  # type: ignore[attr-defined]


def test_real_13766_victim_is_the_minority() -> None:
    statuses = parse_endpoint_status(find(D0, "status", "etcdctl endpoint status -w json").json_line)
    choice = choose_common_revision({s.member_id: s.revision for s in statuses})
    assert choice.revision == 4534  # the victim's revision: the lowest
    hashes = parse_endpoint_hashkv(find(D0, "hashkv at rev 4534", "etcdctl endpoint hashkv").json_line)
    agreement = compare_hashes(
        [HashSample(h.member_id, h.hash, h.compact_revision) for h in hashes], choice.revision
    )
    victim = format(4186590980527051537, "x")  # m2
    assert agreement.minority == (victim,)
    assert agreement.majority_hash == 2259545336
    assert verdicts(agreement)[victim] is HashVerdict.DISAGREES
    assert [v for k, v in verdicts(agreement).items() if k != victim] == [HashVerdict.AGREES] * 2
    assert agreement.disagreement


def test_real_13766_revision_signal() -> None:
    statuses = parse_endpoint_status(find(D0, "status", "etcdctl endpoint status -w json").json_line)
    points = [RevisionPoint(s.member_id, s.revision, s.raft_index, s.raft_applied_index) for s in statuses]
    first = revision_divergence(points)
    assert first is not None
    assert first.applied_index == 4543
    assert first.minority == (format(4186590980527051537, "x"),)
    assert not first.confirmed  # one poll could be a read racing an apply
    previous = {p.member_id: (p.revision, p.raft_applied_index) for p in points}
    again = revision_divergence(points, previous)
    assert again is not None and again.confirmed


def test_revision_signal_ignores_members_still_applying() -> None:
    # Under write load a member may report an applied index it has not finished applying: raftIndex > applied.
    points = [
        RevisionPoint("a", 100, 50, 50),
        RevisionPoint("b", 99, 51, 50),
        RevisionPoint("c", 100, 50, 50),
    ]
    assert revision_divergence(points) is None


def test_revision_signal_needs_the_same_applied_index() -> None:
    # Different applied indexes: different revisions are expected (the healthy ring under load).
    assert revision_divergence([RevisionPoint("a", 100, 50, 50), RevisionPoint("b", 101, 51, 51)]) is None
    assert revision_divergence([RevisionPoint("a", 100, 50, 50), RevisionPoint("b", 100, 50, 50)]) is None


def test_revision_signal_not_confirmed_when_the_ring_moved() -> None:
    points = [RevisionPoint("a", 10, 20, 20), RevisionPoint("b", 9, 20, 20), RevisionPoint("c", 10, 20, 20)]
    moved = {"a": (8, 18), "b": (7, 18), "c": (8, 18)}
    result = revision_divergence(points, moved)
    assert result is not None and not result.confirmed


def test_revision_signal_without_majority_names_those_below_the_highest() -> None:
    result = revision_divergence([RevisionPoint("a", 10, 20, 20), RevisionPoint("b", 9, 20, 20)])
    assert result is not None and result.minority == ("b",)


def test_revision_signal_names_a_member_ahead_of_the_majority() -> None:
    # The "fork-ahead" fixtures: one member has a write the others never committed.
    result = revision_divergence(
        [RevisionPoint("a", 22, 30, 30), RevisionPoint("b", 24, 30, 30), RevisionPoint("c", 22, 30, 30)]
    )
    assert result is not None and result.minority == ("b",)


def test_common_revision_must_be_above_every_compact_revision() -> None:
    assert choose_common_revision({"a": 100, "b": 120}, {"a": 50, "b": 90}).revision == 100
    choice = choose_common_revision({"a": 100, "b": 120}, {"a": 50, "b": 100})
    assert choice.revision is None and "inconclusive" in choice.reason
    assert choose_common_revision({"a": 100}).revision is None


def test_all_equal_agree() -> None:
    agreement = compare_hashes([HashSample(m, 7, 10) for m in "abc"], 50)
    assert set(verdicts(agreement).values()) == {HashVerdict.AGREES}
    assert not agreement.disagreement and agreement.compared == 3


def test_different_compact_revision_is_inconclusive_not_corrupt() -> None:
    agreement = compare_hashes([HashSample("a", 7, 10), HashSample("b", 7, 10), HashSample("c", 999, 12)], 50)
    assert verdicts(agreement) == {
        "a": HashVerdict.AGREES,
        "b": HashVerdict.AGREES,
        "c": HashVerdict.INCONCLUSIVE,
    }
    assert agreement.minority == ()


def test_errors_and_missing_are_inconclusive() -> None:
    agreement = compare_hashes(
        [
            HashSample("a", 7, 10),
            HashSample("b", 7, 10),
            HashSample("c", None, None, error="mvcc: required revision is a future revision"),
            HashSample("d", None, None),
        ],
        50,
    )
    v = verdicts(agreement)
    assert v["c"] is HashVerdict.INCONCLUSIVE and v["d"] is HashVerdict.INCONCLUSIVE
    assert "future revision" in agreement.for_member("c").reason  # type: ignore[union-attr]


def test_hash_at_another_revision_is_inconclusive() -> None:
    agreement = compare_hashes([HashSample("a", 7, 10, 50), HashSample("b", 8, 10, 51)], 50)
    assert verdicts(agreement)["b"] is HashVerdict.INCONCLUSIVE
    assert verdicts(agreement)["a"] is HashVerdict.INCONCLUSIVE  # alone: nothing to compare with


def test_two_members_differ_without_majority() -> None:
    agreement = compare_hashes([HashSample("a", 7, 10), HashSample("b", 8, 10)], 50)
    assert set(verdicts(agreement).values()) == {HashVerdict.DISAGREES}
    assert agreement.minority == () and agreement.majority_hash is None
    assert "no majority" in agreement.members[0].reason


def test_no_common_revision_means_inconclusive() -> None:
    agreement = compare_hashes([HashSample("a", 7, 10), HashSample("b", 8, 10)], None)
    assert set(verdicts(agreement).values()) == {HashVerdict.INCONCLUSIVE}
    assert not agreement.disagreement


def test_five_members_two_minorities() -> None:
    agreement = compare_hashes(
        [
            HashSample("a", 1, 0),
            HashSample("b", 1, 0),
            HashSample("c", 1, 0),
            HashSample("d", 2, 0),
            HashSample("e", 3, 0),
        ],
        9,
    )
    assert agreement.minority == ("d", "e")


@pytest.mark.parametrize(
    ("evidence", "victim_endpoint"),
    [("D0-evidence.txt", "http://127.0.0.1:24102"), ("S-evidence.txt", "http://127.0.0.1:24101")],
)
def test_both_recorded_13766_incidents_name_the_victim(evidence: str, victim_endpoint: str) -> None:
    """Victim (from the repro notes): D0 lost a write on follower m2, S on follower m1."""
    path = ETCD_13766 / evidence
    statuses = parse_endpoint_status(find(path, "status", "etcdctl endpoint status -w json").json_line)
    endpoint_of = {s.member_id: s.endpoint for s in statuses}
    choice = choose_common_revision({s.member_id: s.revision for s in statuses})
    assert choice.revision is not None
    hashes = parse_endpoint_hashkv(
        find(path, f"hashkv at rev {choice.revision}", "etcdctl endpoint hashkv").json_line
    )
    agreement = compare_hashes(
        [HashSample(h.member_id, h.hash, h.compact_revision) for h in hashes], choice.revision
    )
    assert [endpoint_of[m] for m in agreement.minority] == [victim_endpoint]
    points = [RevisionPoint(s.member_id, s.revision, s.raft_index, s.raft_applied_index) for s in statuses]
    divergence = revision_divergence(points)
    assert divergence is not None and [endpoint_of[m] for m in divergence.minority] == [victim_endpoint]


def test_current_revision_hashes_are_not_compared_when_a_member_lost_writes() -> None:
    """The real 13766 victim answers `hashkv` (no --rev) one revision behind: no shortcut, hash again at R."""
    hashes = parse_endpoint_hashkv(find(D0, "hashkv latest", "etcdctl endpoint hashkv").json_line)
    choice = shared_current_revision([(h.header.revision, h.compact_revision, h.hash_revision) for h in hashes], 3)
    assert choice.revision is None and "different revisions" in choice.reason


@pytest.mark.parametrize(("answers", "members", "revision"), [
    ([(21, 10, None)] * 3, 3, 21),  # a quiet ring: comparable as they are
    ([(21, -1, 21)] * 3, 3, 21),  # 3.6 names the hashed revision; never compacted
    ([(21, 10, None), (21, 12, None), (21, 10, None)], 3, None),  # different compactions cover different ranges
    ([(21, 10, 20)] * 3, 3, None),  # 3.6 says it hashed another revision than its header's
    ([(21, 10, None)] * 2, 3, None),  # a member did not answer
    ([(21, 10, None)], 1, None),  # one member: nothing to compare
    ([(10, 10, None)] * 3, 3, None),  # nothing above the compaction
])
def test_current_revision_hashes_are_compared_only_at_one_revision(
    answers: list[tuple[int, int, int | None]], members: int, revision: int | None
) -> None:
    assert shared_current_revision(answers, members).revision == revision
