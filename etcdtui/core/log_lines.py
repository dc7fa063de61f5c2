"""One log line as the store takes it (Entry) and gives it back (Line, Pinned), and the level codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from etcdtui.core.findings import Finding

LEVELS = ("debug", "info", "warn", "error", "panic", "fatal")
LEVEL_CODE = {name: i for i, name in enumerate(LEVELS)}
NO_LEVEL = -1  # raw lines (stack frames, plain text): shown unless a minimum level above info is set
MARKER = -2  # engine markers (restart, gap, resume, history skipped)


def level_code(level: str | None) -> int:
    return LEVEL_CODE.get(level, NO_LEVEL) if level else NO_LEVEL


class Entry(NamedTuple):
    """One line handed to the store (the engine parses and classifies before).

    A tuple, not a dataclass: lines wait in the reordering window long enough to survive young garbage
    collections, and a tuple of str/float/int/None is untracked by the collector, so a flood of pending
    lines does not make every full collection slower.
    """

    member: str
    ts: float | None
    level: int  # LEVEL_CODE value, NO_LEVEL or MARKER
    text: str
    finding: Finding | None = None


@dataclass(frozen=True, slots=True)
class Line:
    seq: int
    member: str
    ts: float
    level: int
    text: str
    finding: Finding | None

    @property
    def is_marker(self) -> bool:
        return self.level == MARKER


@dataclass(frozen=True, slots=True)
class Pinned:
    seq: int
    member: str
    ts: float
    finding: Finding
    text: str
