"""Passive cross-member consistency check from `finished scheduled compaction` log lines (etcd-facts §1.4).

Since etcd 3.5.5 every member logs, for every compaction, `compact-revision` and `hash` (the hash of the
revisions between the previous and this compaction). Compactions are replicated through raft, so all
members compact at the same revisions: two members with the same `compact-revision` and different `hash`
hold different data. This costs no extra traffic and works on saved logs.

Caveat handled: when a member logs `previous compaction was interrupted, skip storing compaction hash
value` right after its `finished scheduled compaction`, that hash covers a different range and is not
compared. Memory is bounded: at most `max_revisions` revisions are kept (the oldest are dropped and
counted), each with at most `max_members` members.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import LogRecord

FINISHED = "finished scheduled compaction"
INTERRUPTED = "previous compaction was interrupted, skip storing compaction hash value"
KIND = "corruption.cross_member_hash_mismatch"


@dataclass(slots=True)
class CompactionHash:
    member: str
    compact_revision: int
    hash: int
    where: str | None = None  # "file:line", for the operator
    interrupted: bool = False


class CompactionHashBook:
    """Collects compaction hashes from several members and reports revisions where they disagree."""

    def __init__(self, max_revisions: int = 4096, max_members: int = 32) -> None:
        self.max_revisions = max_revisions
        self.max_members = max_members
        self._by_revision: dict[int, dict[str, CompactionHash]] = {}
        self._last_revision: dict[str, int] = {}
        self.dropped_revisions = 0
        self.dropped_entries = 0

    def __len__(self) -> int:
        return len(self._by_revision)

    def observe(self, member: str, record: LogRecord, where: str | None = None) -> None:
        """Feed any record; only the two compaction messages are used."""
        if record.msg == FINISHED:
            revision, value = record.fields.get("compact-revision"), record.fields.get("hash")
            if isinstance(revision, int) and isinstance(value, int):  # no `hash` before 3.5.5: nothing to compare
                self.add(member, int(revision), int(value), where)
        elif record.msg == INTERRUPTED:
            self.mark_interrupted(member)

    def add(self, member: str, compact_revision: int, hash_value: int, where: str | None = None) -> None:
        entries = self._by_revision.get(compact_revision)
        if entries is None:
            if len(self._by_revision) >= self.max_revisions:
                oldest = min(self._by_revision)
                if oldest > compact_revision:
                    self.dropped_revisions += 1
                    return  # older than everything kept: drop the newcomer instead
                del self._by_revision[oldest]
                self.dropped_revisions += 1
            entries = self._by_revision[compact_revision] = {}
        if member in entries:
            return  # same member seen twice (overlapping log files): keep the first
        if len(entries) >= self.max_members:
            self.dropped_entries += 1
            return
        entries[member] = CompactionHash(member, compact_revision, hash_value, where)
        self._last_revision[member] = compact_revision

    def mark_interrupted(self, member: str) -> None:
        """The member's latest compaction hash covers a different range: exclude it."""
        revision = self._last_revision.get(member)
        if revision is None:
            return
        entry = self._by_revision.get(revision, {}).get(member)
        if entry is not None:
            entry.interrupted = True

    def findings(self) -> list[Finding]:
        """One CRITICAL finding per compact revision at which members disagree, oldest first."""
        result = []
        for revision in sorted(self._by_revision):
            entries = [e for e in self._by_revision[revision].values() if not e.interrupted]
            by_hash: dict[int, list[CompactionHash]] = {}
            for entry in entries:
                by_hash.setdefault(entry.hash, []).append(entry)
            if len(by_hash) > 1:
                result.append(_mismatch(revision, entries, by_hash))
        return result


def _mismatch(revision: int, entries: list[CompactionHash], by_hash: dict[int, list[CompactionHash]]) -> Finding:
    groups = sorted(by_hash.values(), key=len, reverse=True)
    majority = groups[0] if len(groups[0]) * 2 > len(entries) else None
    minority = sorted(e.member for g in groups if g is not majority for e in g) if majority else []
    described = "; ".join(
        f"{', '.join(sorted(e.member for e in g))} hash {g[0].hash}" for g in groups
    )
    if majority is not None:
        verdict = f"{', '.join(minority)} differ(s) from the majority"
    else:
        verdict = "no majority hash: cannot tell which member is wrong"
    return Finding(
        kind=KIND,
        severity=Severity.CRITICAL,
        message=f"Compact revision {revision}: {described} — {verdict}.",
        member=minority[0] if len(minority) == 1 else None,
        fields={
            "compact-revision": revision,
            "hashes": {e.member: e.hash for e in entries},
            "minority": minority,
            "members": sorted(e.member for e in entries),
            "where": {e.member: e.where for e in entries if e.where},
        },
    )

