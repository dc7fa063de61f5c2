"""Bounded per-member series since the engine started, for the detail panel's sparklines."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from etcdtui.engine.snapshot import MemberHistory, MemberRow


@dataclass
class _Series:
    times: deque[float]
    revision_rate: deque[float]
    db_size: deque[int]
    raft_index_lag: deque[int]
    last: tuple[float, int] | None = None  # (time, revision) of the previous sample


def _series(maxlen: int) -> _Series:
    return _Series(deque(maxlen=maxlen), deque(maxlen=maxlen), deque(maxlen=maxlen), deque(maxlen=maxlen))


@dataclass
class History:
    maxlen: int = 240  # 1 h at the default 15 s poll interval
    max_members: int = 64  # rows kept; more (a member churn storm) are counted and dropped
    _series: dict[str, _Series] = field(default_factory=dict)
    _leader: str | None = None
    _leader_changes: int = 0
    _leader_series: deque[tuple[float, int]] | None = None
    dropped: int = 0

    def record(self, at: float, rows: Sequence[MemberRow]) -> None:
        """One sample per member that etcdctl answered for in this poll."""
        if self._leader_series is None:
            self._leader_series = deque(maxlen=self.maxlen)
        for row in rows:
            if row.revision is None:
                continue
            series = self._series.get(row.key)
            if series is None:
                if len(self._series) >= self.max_members:
                    self.dropped += 1
                    continue
                series = self._series[row.key] = _series(self.maxlen)
            rate = 0.0
            if series.last is not None and at > series.last[0]:
                rate = max(0.0, (row.revision - series.last[1]) / (at - series.last[0]))
            series.last = (at, row.revision)
            series.times.append(at)
            series.revision_rate.append(rate)
            series.db_size.append(row.db_size or 0)
            series.raft_index_lag.append(max(0, row.raft_index_lag or 0))
        leader = next((r.member_id for r in rows if r.is_leader), None)
        if leader is not None:
            if self._leader is not None and leader != self._leader:
                self._leader_changes += 1
            self._leader = leader
        self._leader_series.append((at, self._leader_changes))

    @property
    def leader_changes(self) -> int:
        return self._leader_changes

    def per_member(self) -> dict[str, MemberHistory]:
        return {
            key: MemberHistory(
                times=tuple(s.times),
                revision_rate=tuple(s.revision_rate),
                db_size=tuple(s.db_size),
                raft_index_lag=tuple(s.raft_index_lag),
            )
            for key, s in self._series.items()
        }

    def leader_series(self) -> tuple[tuple[float, int], ...]:
        return tuple(self._leader_series or ())
