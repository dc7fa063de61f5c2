"""Which log lines the logs screen shows: a pattern (regex or literal, case, invert), a minimum level, members."""

from __future__ import annotations

import re
from dataclasses import dataclass

from etcdtui.core.log_lines import LEVELS, MARKER, NO_LEVEL


class FilterError(ValueError):
    """A filter or find pattern that does not compile (the message is fit for a status line)."""


@dataclass(frozen=True, slots=True)
class LogFilter:
    pattern: str = ""
    regex: bool = False
    case: bool = False  # case-sensitive
    invert: bool = False
    min_level: int = NO_LEVEL
    members: frozenset[str] = frozenset()  # empty = all members

    @property
    def is_empty(self) -> bool:
        return not self.pattern and self.min_level <= NO_LEVEL and not self.members

    def describe(self) -> str:
        if self.is_empty:
            return "none"
        parts = []
        if self.pattern:
            kind = "regex" if self.regex else "text"
            parts.append(f"{'not ' if self.invert else ''}{kind} {self.pattern!r}{' (case)' if self.case else ''}")
        if self.min_level > NO_LEVEL:
            parts.append(f"level >= {LEVELS[self.min_level]}")
        if self.members:
            parts.append("members " + ",".join(sorted(self.members)))
        return "; ".join(parts)


def compile_pattern(pattern: str, *, regex: bool, case: bool) -> re.Pattern[str]:
    flags = 0 if case else re.IGNORECASE
    try:
        return re.compile(pattern if regex else re.escape(pattern), flags)
    except re.error as exc:
        raise FilterError(f"bad regex {pattern!r}: {exc}") from None


class LinePredicate:
    """The filter compiled once: called per line with (member, level, text)."""

    def __init__(self, flt: LogFilter) -> None:
        self.flt = flt
        self.search = compile_pattern(flt.pattern, regex=flt.regex, case=flt.case).search if flt.pattern else None

    def __call__(self, member: str, level: int, text: str) -> bool:
        flt = self.flt
        if flt.members and member not in flt.members:
            return False
        if level == MARKER:
            return True  # markers (restart, gap) always stay visible: they explain what is around them
        if flt.min_level > NO_LEVEL and level < flt.min_level:
            return False
        if self.search is not None:
            return (self.search(text) is None) if flt.invert else (self.search(text) is not None)
        return True
