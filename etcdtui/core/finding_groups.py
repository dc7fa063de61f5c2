"""Repeated findings grouped for the findings pane: one group per (kind, member) with its count and the
first and last time it was seen; the most severe groups first, then the newest. After `lab corrupt`, 78 of
80 pinned lines were one health-check refusal per member per second; grouped, the one line that matters
(`same compact revision then hashes must match`) stays on screen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from etcdtui.core.findings import Severity
from etcdtui.core.log_lines import Pinned


@dataclass(frozen=True, slots=True)
class FindingGroup:
    kind: str
    member: str
    entries: tuple[Pinned, ...]  # newest first

    @property
    def latest(self) -> Pinned:
        return self.entries[0]

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def severity(self) -> Severity:
        return max(e.finding.severity for e in self.entries)

    @property
    def first_ts(self) -> float:
        return min(e.ts for e in self.entries)

    @property
    def last_ts(self) -> float:
        return max(e.ts for e in self.entries)


def group_findings(pinned: Sequence[Pinned]) -> list[FindingGroup]:
    """Groups of `pinned` (oldest first, as the store keeps them): most severe, then newest, first."""
    by_key: dict[tuple[str, str], list[Pinned]] = {}
    for entry in reversed(pinned):
        by_key.setdefault((entry.finding.kind, entry.member), []).append(entry)
    groups = [FindingGroup(kind, member, tuple(entries)) for (kind, member), entries in by_key.items()]
    groups.sort(key=lambda g: (-int(g.severity), -g.last_ts, -g.latest.seq))
    return groups
