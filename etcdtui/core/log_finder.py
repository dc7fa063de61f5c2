"""Find within the logs screen's current view: next/previous match and a count, in bounded steps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from etcdtui.core.log_chunk import CHUNK, CHUNK_COST
from etcdtui.core.log_filter import compile_pattern
from etcdtui.core.logstore import LogStore


@dataclass
class Finder:
    """Find within the current view: next/previous match and a count, without changing the view."""

    store: LogStore
    pattern: str = ""
    regex: bool = False
    case: bool = False
    _search: re.Pattern[str] | None = field(default=None, repr=False)

    def set(self, pattern: str, *, regex: bool = False, case: bool = False) -> None:
        self._search = compile_pattern(pattern, regex=regex, case=case) if pattern else None
        self.pattern, self.regex, self.case = pattern, regex, case

    @property
    def active(self) -> bool:
        return self._search is not None

    def matches(self, text: str) -> bool:
        return self._search is not None and self._search.search(text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self._search is None:
            return []
        return [m.span() for m in self._search.finditer(text) if m.end() > m.start()]

    def next_row(self, from_row: int, *, backwards: bool = False) -> int | None:
        """The next view row after (before) `from_row` whose text matches (wraps around once), in one go."""
        result: int | None = None
        for result in self.next_row_steps(from_row, backwards=backwards, step=1 << 62):
            if result is not None:
                break
        return result if result is not None and result >= 0 else None

    def next_row_steps(self, from_row: int, *, backwards: bool = False, step: int = 2_000) -> Iterator[int | None]:
        """Search in bounded steps: yields None after every `step` rows, then the row, or -1 for no match."""
        if self._search is None:
            yield -1
            return
        store = self.store
        search = self._search.search
        direction = -1 if backwards else 1
        row = from_row
        checked = budget = 0
        last_chunk = -1
        while checked < len(store):
            total = len(store)
            row = (row + direction) % total
            seq = store.seq_at(row)
            if seq is not None:
                if seq // CHUNK != last_chunk:  # a sparse view crosses a packed chunk every few rows
                    last_chunk = seq // CHUNK
                    budget += CHUNK_COST
                if search(store._text(seq)[0]) is not None:
                    yield row
                    return
            checked += 1
            budget += 1
            if budget >= step:
                budget = 0
                yield None
        yield -1

    def count_steps(self, step: int = 2_000) -> Iterator[int | None]:
        """Count matches in the view in bounded steps: yields None while counting, then the count."""
        if self._search is None:
            yield 0
            return
        search = self._search.search
        store = self.store
        found = budget = 0
        last_chunk = -1
        row = 0
        while row < len(store):
            seq = store.seq_at(row)
            row += 1
            budget += 1
            if seq is None:
                continue
            if seq // CHUNK != last_chunk:  # unpacking a chunk costs about as much as CHUNK_COST lines
                last_chunk = seq // CHUNK
                budget += CHUNK_COST
            if search(store._text(seq)[0]) is not None:
                found += 1
            if budget >= step:
                budget = 0
                yield None
        yield found
