"""The bounded, interleaved log store behind the logs screen (pure: no I/O, no Textual).

Lines of all members live in one sequence ordered by timestamp; every line gets a monotonically
increasing `seq`. Storage is columnar in chunks of `CHUNK` lines (text, ts, member, level), so the
oldest lines are dropped a whole chunk at a time when the store exceeds `max_lines` or `max_bytes`;
what is dropped is counted (`dropped_lines`, `dropped_bytes`, per member), never silent.

Live lines wait in a **reordering window** (`reorder_window` seconds of arrival time) and are released
sorted by timestamp, so lines of different members that arrive a little out of order still interleave;
a line later than the window is appended anyway and counted in `late_lines`. History is loaded in
**bulk** (`begin_bulk`/`end_bulk`): everything is held, then merged by timestamp in one sort.

The line model is in `log_lines`, the chunks in `log_chunk`.

Views: `LogFilter` (`log_filter`: regex or literal, case, invert, minimum level, members) selects the lines shown;
the filtered index (an `array` of seqs) is kept up to date incrementally on every release, and rebuilt
by `refilter_steps()` in bounded steps when the filter changes (the caller yields between steps).
`Finder` (`log_finder`: find next/previous, match count) is separate: it moves within the current view and never
changes it. Findings (from `classify`/`scan`) are indexed by seq for "next finding", and also kept in a
pinned, bounded list (`pinned`) that survives the eviction of their lines.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from etcdtui.core.classify_rules import RULES
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.log_chunk import CHUNK, Chunk
from etcdtui.core.log_filter import LinePredicate, LogFilter
from etcdtui.core.log_lines import MARKER, Entry, Line, Pinned

# Defaults keep about a day of a busy member (~10 lines/s) for three members: 3 × 864k lines.
DEFAULT_MAX_LINES = 2_500_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_REORDER_WINDOW = 0.5
DEFAULT_PINNED = 2_000
UNPACKED_CHUNKS = 6  # decompressed chunks kept (about 1 MB each)

# Findings that matter for the pinned pane: corruption evidence and corruption checks (passed/failed/inconclusive).
PINNED_PREFIXES = ("corruption.", "check.", "storage.", "fatal.")
# INFO findings kept on their line (and for "next finding"); other INFO kinds are dropped at ingest.
KEPT_INFO = ("corruption.", "check.", "alarm.", "storage.", "fatal.")


@dataclass(slots=True)
class MemberCounts:
    lines: int = 0
    bytes: int = 0
    dropped_lines: int = 0
    findings: int = 0
    corruption: int = 0
    last_check: Finding | None = None  # the latest corruption check result: passed, failed or inconclusive
    last_check_ts: float | None = None


class LogStore:
    def __init__(
        self,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        reorder_window: float = DEFAULT_REORDER_WINDOW,
        max_pinned: int = DEFAULT_PINNED,
    ) -> None:
        if max_lines < CHUNK:
            max_lines = CHUNK  # eviction is per chunk; fewer would drop everything at once
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.reorder_window = reorder_window
        self.members: list[str] = []
        self._member_index: dict[str, int] = {}
        self.counts: dict[str, MemberCounts] = {}
        self.kind_counts: Counter[tuple[str, str]] = Counter()  # (member, kind) of every finding kept, since start
        self._chunks: deque[Chunk] = deque()
        self._next_seq = 0
        self._lines = 0
        self._bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.late_lines = 0
        self._last_ts = float("-inf")
        self._last_member_ts: dict[str, float] = {}
        self._pending: deque[tuple[float, Entry]] = deque()  # (arrival, entry), arrival non-decreasing
        self._bulk = 0
        self._bulk_entries: list[Entry] = []
        # The per-line finding index is columnar (seq, severity, interned kind): no object per finding, so
        # a flood of corruption lines does not make every full garbage collection longer. Full `Finding`s
        # (message, fields) live only in the bounded `pinned` list.
        self._finding_seqs = array("q")
        self._finding_sev = array("b")
        self._finding_kinds: list[str] = []
        self._finding_head = 0
        self.pinned: deque[Pinned] = deque(maxlen=max_pinned)
        self.filter = LogFilter()
        self._predicate = LinePredicate(self.filter)
        self._view: array[int] | None = None  # None = every line (no filter)
        self._view_head = 0
        self._unpacked: OrderedDict[int, list[str]] = OrderedDict()
        self.version = 0  # bumps on every change the UI must repaint for
        self.filter_version = 0

    # --- ingest ------------------------------------------------------------------------------------

    def member_id(self, member: str) -> int:
        index = self._member_index.get(member)
        if index is None:
            index = len(self.members)
            if index > 255:
                raise ValueError("more than 256 members")
            self.members.append(member)
            self._member_index[member] = index
            self.counts[member] = MemberCounts()
        return index

    def add(self, entries: Sequence[Entry], now: float) -> None:
        """Queue lines that arrived at `now` (monotonic seconds); `release(now)` makes them visible."""
        for entry in entries:
            self.member_id(entry.member)
        if self._bulk:
            self._bulk_entries.extend(entries)
            return
        pending = self._pending
        for entry in entries:
            pending.append((now, entry))

    def begin_bulk(self) -> None:
        """Hold everything added until `end_bulk` (history of all members), then merge by timestamp."""
        self._bulk += 1

    def end_bulk(self) -> None:
        if self._bulk == 0:
            return
        self._bulk -= 1
        if self._bulk == 0:
            entries, self._bulk_entries = self._bulk_entries, []
            self._append_sorted(entries)

    @property
    def in_bulk(self) -> bool:
        return self._bulk > 0

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._bulk_entries)

    def release(self, now: float, *, everything: bool = False) -> int:
        """Move lines that waited at least `reorder_window` into the store, sorted by timestamp."""
        pending = self._pending
        if not pending:
            return 0
        cutoff = now - self.reorder_window
        ready: list[Entry] = []
        while pending and (everything or pending[0][0] <= cutoff):
            ready.append(pending.popleft()[1])
        if ready:
            self._append_sorted(ready)
        return len(ready)

    def _append_sorted(self, entries: list[Entry]) -> None:
        if not entries:
            return
        # Lines without a timestamp (stack frames) keep the position after their member's previous line.
        keyed: list[tuple[float, int, Entry]] = []
        last = self._last_member_ts
        for i, entry in enumerate(entries):
            ts = entry.ts
            if ts is None:
                ts = last.get(entry.member, self._last_ts if self._last_ts != float("-inf") else 0.0)
            else:
                last[entry.member] = ts
            keyed.append((ts, i, entry))
        keyed.sort(key=lambda item: (item[0], item[1]))
        for ts, _, entry in keyed:
            self._append(entry, ts)
        self._evict()
        self.version += 1

    def _append(self, entry: Entry, ts: float) -> None:
        if ts < self._last_ts:
            self.late_lines += 1  # arrived after the window closed: kept, but out of order
        else:
            self._last_ts = ts
        chunks = self._chunks
        if not chunks or chunks[-1].count >= CHUNK:
            if chunks:
                chunks[-1].seal()
            chunks.append(Chunk(self._next_seq))
        chunk = chunks[-1]
        seq = self._next_seq
        self._next_seq += 1
        text = entry.text
        size = len(text) + 1
        chunk.texts.append(text)  # type: ignore[union-attr]  # the last chunk is never sealed
        chunk.count += 1
        chunk.ts.append(ts)
        chunk.members.append(self._member_index[entry.member])
        chunk.levels.append(entry.level)
        chunk.nbytes += size
        self._lines += 1
        self._bytes += size
        counts = self.counts[entry.member]
        counts.lines += 1
        counts.bytes += size
        finding = entry.finding
        if finding is not None and finding.severity is Severity.INFO and not finding.kind.startswith(KEPT_INFO):
            finding = None  # routine INFO findings (elections, slow applies…) are not worth an object per line
        if finding is not None:
            self._finding_seqs.append(seq)
            self._finding_sev.append(int(finding.severity))
            self._finding_kinds.append(sys.intern(finding.kind))
            counts.findings += 1
            self.kind_counts[(entry.member, finding.kind)] += 1
            if finding.is_corruption:
                counts.corruption += 1
            if finding.kind.startswith(("corruption.", "check.")) and finding.kind not in ("check.enabled",):
                if counts.last_check_ts is None or ts >= counts.last_check_ts:
                    counts.last_check, counts.last_check_ts = finding, ts
            if finding.kind.startswith(PINNED_PREFIXES) or finding.severity >= Severity.WARNING:
                self.pinned.append(Pinned(seq, entry.member, ts, finding, text))
        if self._view is not None and self._predicate(entry.member, entry.level, text):
            self._view.append(seq)

    def _evict(self) -> None:
        chunks = self._chunks
        while len(chunks) > 1 and (self._lines > self.max_lines or self._bytes > self.max_bytes):
            chunk = chunks.popleft()
            n = chunk.count
            self._unpacked.pop(chunk.first, None)
            self._lines -= n
            self._bytes -= chunk.nbytes
            self.dropped_lines += n
            self.dropped_bytes += chunk.nbytes
            for member_index in chunk.members:
                self.counts[self.members[member_index]].dropped_lines += 1
            end = chunk.first + n
            seqs = self._finding_seqs
            self._finding_head = bisect_left(seqs, end, self._finding_head)
            if self._view is not None:
                self._view_head = bisect_left(self._view, end, self._view_head)
        self._compact()

    def _compact(self) -> None:
        if self._finding_head > 4096 and self._finding_head * 2 > len(self._finding_seqs):
            head = self._finding_head
            del self._finding_seqs[:head]
            del self._finding_sev[:head]
            del self._finding_kinds[:head]
            self._finding_head = 0
        if self._view is not None and self._view_head > 65536 and self._view_head * 2 > len(self._view):
            del self._view[: self._view_head]
            self._view_head = 0

    # --- reading -----------------------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        return self._chunks[0].first if self._chunks else self._next_seq

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def total_lines(self) -> int:
        return self._lines

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def line(self, seq: int) -> Line | None:
        chunks = self._chunks
        if not chunks or seq < chunks[0].first or seq >= self._next_seq:
            return None
        chunk = chunks[(seq - chunks[0].first) // CHUNK]
        i = seq - chunk.first
        return Line(seq, self.members[chunk.members[i]], chunk.ts[i], chunk.levels[i], self._texts(chunk)[i],
                    self.finding_at(seq))

    def _text(self, seq: int) -> tuple[str, int, int]:
        chunks = self._chunks
        chunk = chunks[(seq - chunks[0].first) // CHUNK]
        i = seq - chunk.first
        return self._texts(chunk)[i], chunk.members[i], chunk.levels[i]

    def _texts(self, chunk: Chunk) -> list[str]:
        """The chunk's texts; sealed chunks are unpacked into a small LRU (rendering touches one or two)."""
        if chunk.texts is not None:
            return chunk.texts
        cache = self._unpacked
        texts = cache.get(chunk.first)
        if texts is None:
            texts = cache[chunk.first] = chunk.unpack()
            while len(cache) > UNPACKED_CHUNKS:
                cache.popitem(last=False)
        else:
            cache.move_to_end(chunk.first)
        return texts

    def time_window(self) -> tuple[float, float] | None:
        if not self._chunks:
            return None
        return self._chunks[0].ts[0], self._chunks[-1].ts[-1]

    # --- the view (filter) -------------------------------------------------------------------------

    def __len__(self) -> int:
        """Lines in the current view."""
        if self._view is None:
            return self._lines
        return len(self._view) - self._view_head

    def seq_at(self, row: int) -> int | None:
        """The seq shown at view row `row` (0 = oldest visible)."""
        if row < 0 or row >= len(self):
            return None
        if self._view is None:
            return self.first_seq + row
        return self._view[self._view_head + row]

    def row_of(self, seq: int) -> int:
        """The view row of `seq`, or of the first line after it when it is filtered out."""
        if self._view is None:
            return max(0, min(seq - self.first_seq, self._lines))
        return bisect_left(self._view, seq, self._view_head) - self._view_head

    def iter_view(self, start_row: int = 0) -> Iterator[Line]:
        for row in range(start_row, len(self)):
            seq = self.seq_at(row)
            line = self.line(seq) if seq is not None else None
            if line is not None:
                yield line

    def set_filter(self, flt: LogFilter) -> None:
        """Apply a filter at once (small stores, tests); the UI uses `refilter_steps`."""
        for _ in self.refilter_steps(flt):
            pass

    def refilter_steps(self, flt: LogFilter, step: int = 2_000) -> Iterator[int]:
        """Rebuild the view for `flt`, yielding the lines checked so far every `step` lines.

        The new view is swapped in only when the generator finishes; lines added meanwhile are caught up
        at the end, so a caller that yields to the event loop between steps loses nothing.
        """
        predicate = LinePredicate(flt)  # raises FilterError before anything changes
        if flt.is_empty:
            self.filter, self._predicate, self._view, self._view_head = flt, predicate, None, 0
            self.filter_version += 1
            self.version += 1
            return
        view: array[int] = array("q")
        members = self.members
        done = since_yield = 0
        seq = self.first_seq
        while True:
            end = self._next_seq
            seq = max(seq, self.first_seq)
            while seq < end:
                chunks = self._chunks
                chunk = chunks[(seq - chunks[0].first) // CHUNK]
                i = seq - chunk.first
                stop = min(chunk.count, i + (end - seq), i + step - since_yield)
                texts, cm, cl, base = self._texts(chunk), chunk.members, chunk.levels, chunk.first
                for j in range(i, stop):
                    if predicate(members[cm[j]], cl[j], texts[j]):
                        view.append(base + j)
                done += stop - i
                since_yield += stop - i
                seq = base + stop
                if since_yield >= step:
                    since_yield = 0
                    yield done
            if end == self._next_seq:
                break
        first = self.first_seq
        head = bisect_left(view, first)
        self.filter, self._predicate, self._view, self._view_head = flt, predicate, view, head
        self.filter_version += 1
        self.version += 1

    # --- findings ----------------------------------------------------------------------------------

    def finding_at(self, seq: int) -> Finding | None:
        """The finding of a line, as kind and severity (the message is the rule's title; re-classify the
        line for the full text and fields)."""
        seqs = self._finding_seqs
        i = bisect_left(seqs, seq, self._finding_head)
        if i >= len(seqs) or seqs[i] != seq:
            return None
        kind = self._finding_kinds[i]
        rule = RULES.get(kind)
        return Finding(kind, Severity(self._finding_sev[i]), rule.title if rule else kind)

    @property
    def findings_retained(self) -> int:
        return len(self._finding_seqs) - self._finding_head

    def next_finding(self, after_seq: int, *, backwards: bool = False) -> int | None:
        """The seq of the next (previous) line with a finding that is in the view."""
        seqs, head = self._finding_seqs, self._finding_head
        if backwards:
            i = bisect_left(seqs, after_seq, head) - 1
            while i >= head:
                if self._in_view(seqs[i]):
                    return seqs[i]
                i -= 1
            return None
        i = bisect_right(seqs, after_seq, head)
        while i < len(seqs):
            if self._in_view(seqs[i]):
                return seqs[i]
            i += 1
        return None

    def _in_view(self, seq: int) -> bool:
        if self._view is None:
            return seq >= self.first_seq
        i = bisect_left(self._view, seq, self._view_head)
        return i < len(self._view) and self._view[i] == seq

    def add_marker(self, member: str, text: str, ts: float | None, now: float) -> None:
        self.add([Entry(member, ts, MARKER, text)], now)


