"""Hash agreement between members, computed the way etcd's own checker does, and the 13766 revision signal.

A KV hash covers the revisions (compact revision, R]; two members are comparable only when both hashed the
same revision R and have the same compact revision. Anything else is "inconclusive", never "corrupt".
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class HashVerdict(enum.StrEnum):
    AGREES = "agrees"
    DISAGREES = "disagrees"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class HashSample:
    """One member's `endpoint hashkv --rev=R` answer (or why there is none)."""

    member_id: str
    hash: int | None
    compact_revision: int | None
    hash_revision: int | None = None  # what the member says it hashed (etcd 3.6); None = trust the request
    error: str | None = None


@dataclass(frozen=True)
class MemberHash:
    member_id: str
    verdict: HashVerdict
    reason: str
    hash: int | None = None


@dataclass(frozen=True)
class HashAgreement:
    revision: int | None  # R
    members: tuple[MemberHash, ...]
    majority_hash: int | None
    minority: tuple[str, ...]  # members whose hash differs from the majority hash
    compared: int  # members with a comparable hash

    def for_member(self, member_id: str) -> MemberHash | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    @property
    def disagreement(self) -> bool:
        return any(m.verdict is HashVerdict.DISAGREES for m in self.members)


@dataclass(frozen=True)
class RevisionChoice:
    revision: int | None
    reason: str


def choose_common_revision(
    revisions: Mapping[str, int], compact_revisions: Mapping[str, int] | None = None
) -> RevisionChoice:
    """R = the lowest current revision among members; it must be above every compact revision.

    Every member can hash R (none is behind it) and none has compacted it away; otherwise no R exists
    and the comparison is inconclusive.
    """
    if len(revisions) < 2:
        return RevisionChoice(None, f"{len(revisions)} member(s) with a revision: nothing to compare")
    lowest = min(revisions.values())
    highest_compact = max((compact_revisions or {}).values(), default=0)
    if lowest <= highest_compact:
        return RevisionChoice(
            None,
            f"lowest revision {lowest} is not above the highest compact revision {highest_compact}: inconclusive",
        )
    if lowest <= 0:
        return RevisionChoice(None, "no member has a revision yet")
    return RevisionChoice(lowest, f"lowest current revision {lowest}")


def shared_current_revision(
    answers: Sequence[tuple[int, int, int | None]], members: int
) -> RevisionChoice:
    """Hashes taken without `--rev` (each member at its own current revision) are comparable as they are
    when every one of `members` members answered at the same current revision with the same compact
    revision: HashKV without a revision hashes (compact, current] and reports `current` in its header
    (3.4/3.5 mvcc `HashByRev`; 3.6 also says so in `hash_revision`). On a quiet ring that saves the second
    round at a chosen common revision; under writes the revisions differ and the caller hashes again.

    `answers` are (header revision, compact revision, hash_revision or None) per member.
    """
    if members < 2 or len(answers) != members:
        return RevisionChoice(None, f"{len(answers)} of {members} member(s) answered at their current revision")
    revisions = {rev for rev, _, _ in answers} | {hashed for _, _, hashed in answers if hashed is not None}
    compacts = {compact for _, compact, _ in answers}
    if len(revisions) != 1 or len(compacts) != 1:
        return RevisionChoice(None, "members answered at different revisions")
    revision = revisions.pop()
    if revision <= compacts.pop() or revision <= 0:
        return RevisionChoice(None, "nothing hashed above the compact revision")
    return RevisionChoice(revision, f"every member at revision {revision}")


def compare_hashes(samples: Sequence[HashSample], revision: int | None) -> HashAgreement:
    """Per member: agrees / disagrees (the minority named when a majority hash exists) / inconclusive."""
    results: dict[str, MemberHash] = {}
    usable: list[HashSample] = []
    for s in samples:
        if s.error:
            results[s.member_id] = MemberHash(
                s.member_id, HashVerdict.INCONCLUSIVE, f"hash request failed: {s.error}"
            )
        elif s.hash is None or s.compact_revision is None:
            results[s.member_id] = MemberHash(s.member_id, HashVerdict.INCONCLUSIVE, "no hash")
        elif revision is not None and s.hash_revision is not None and s.hash_revision != revision:
            results[s.member_id] = MemberHash(
                s.member_id,
                HashVerdict.INCONCLUSIVE,
                f"hashed revision {s.hash_revision}, not {revision}",
                s.hash,
            )
        else:
            usable.append(s)
    if revision is None:
        for s in usable:
            results[s.member_id] = MemberHash(
                s.member_id, HashVerdict.INCONCLUSIVE, "no common revision", s.hash
            )
        usable = []

    # Only members with the same compact revision hash the same range; compare within the largest group.
    compacts = Counter(s.compact_revision for s in usable)
    common_compact = compacts.most_common(1)[0][0] if compacts else None
    group = [s for s in usable if s.compact_revision == common_compact]
    for s in usable:
        if s.compact_revision != common_compact:
            results[s.member_id] = MemberHash(
                s.member_id,
                HashVerdict.INCONCLUSIVE,
                f"compact revision {s.compact_revision} differs from the peers' {common_compact}",
                s.hash,
            )

    majority_hash: int | None = None
    minority: tuple[str, ...] = ()
    if len(group) == 1:
        only = group[0]
        results[only.member_id] = MemberHash(
            only.member_id, HashVerdict.INCONCLUSIVE, "no comparable peer", only.hash
        )
    elif group:
        counts = Counter(s.hash for s in group)
        top_hash, top_count = counts.most_common(1)[0]
        if len(counts) == 1:
            for s in group:
                results[s.member_id] = MemberHash(
                    s.member_id,
                    HashVerdict.AGREES,
                    f"same hash as {len(group) - 1} peer(s) at revision {revision}",
                    s.hash,
                )
        elif top_count * 2 > len(group):
            majority_hash = top_hash
            minority = tuple(s.member_id for s in group if s.hash != top_hash)
            for s in group:
                if s.hash == top_hash:
                    results[s.member_id] = MemberHash(
                        s.member_id, HashVerdict.AGREES, f"majority hash at revision {revision}", s.hash
                    )
                else:
                    results[s.member_id] = MemberHash(
                        s.member_id,
                        HashVerdict.DISAGREES,
                        f"hash {s.hash} at revision {revision} differs from the majority hash {top_hash} "
                        f"({top_count} of {len(group)} members)",
                        s.hash,
                    )
        else:
            for s in group:
                results[s.member_id] = MemberHash(
                    s.member_id,
                    HashVerdict.DISAGREES,
                    f"hashes differ at revision {revision} and no majority hash exists: cannot tell which member is wrong",
                    s.hash,
                )
    ordered = tuple(results[s.member_id] for s in samples if s.member_id in results)
    return HashAgreement(revision, ordered, majority_hash, minority, len(group))


# --- the etcd #13766 signal ---------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionPoint:
    """One member's `endpoint status`: revision and raft indexes read in the same response."""

    member_id: str
    revision: int
    raft_index: int
    raft_applied_index: int


@dataclass(frozen=True)
class RevisionDivergence:
    applied_index: int
    revisions: Mapping[str, int]  # member → revision, for the members at that applied index
    minority: tuple[
        str, ...
    ]  # members off the majority revision (or below the highest when there is no majority)
    confirmed: bool  # the same picture on two consecutive polls: not a read racing an apply

    @property
    def summary(self) -> str:
        revs = ", ".join(f"{m}={r}" for m, r in sorted(self.revisions.items()))
        return f"same applied raft index {self.applied_index} but different revisions ({revs})"


def revision_divergence(
    points: Sequence[RevisionPoint], previous: Mapping[str, tuple[int, int]] | None = None
) -> RevisionDivergence | None:
    """Members that applied the same raft entries must be at the same revision; a difference is data loss.

    This is what issue 13766 leaves behind: the victim is one revision behind at an identical applied index.
    Only members that are caught up (raftIndex == raftAppliedIndex) count, because etcd reads the revision and
    the applied index at slightly different moments. `previous` maps member → (revision, applied index) from
    the last poll: when it shows the same values the signal is `confirmed` (the ring is idle and the
    divergence persists); under steady writes use the hash comparison instead.
    """
    by_index: dict[int, dict[str, int]] = {}
    for p in points:
        if p.raft_applied_index > 0 and p.raft_index == p.raft_applied_index:
            by_index.setdefault(p.raft_applied_index, {})[p.member_id] = p.revision
    for index in sorted(by_index, reverse=True):
        revisions = by_index[index]
        if len(revisions) < 2 or len(set(revisions.values())) < 2:
            continue
        counts = Counter(revisions.values())
        top_rev, top_count = counts.most_common(1)[0]
        if top_count * 2 > len(revisions):
            minority = tuple(sorted(m for m, r in revisions.items() if r != top_rev))
        else:  # no majority: the ones below the highest lost something
            highest = max(revisions.values())
            minority = tuple(sorted(m for m, r in revisions.items() if r < highest))
        confirmed = previous is not None and all(previous.get(m) == (r, index) for m, r in revisions.items())
        return RevisionDivergence(index, dict(revisions), minority, confirmed)
    return None
