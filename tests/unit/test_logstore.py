"""The pure log store: bounds and drop counts, reordering window, bulk merge, filter, find, findings."""

from __future__ import annotations

import pytest

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.log_chunk import CHUNK
from etcdtui.core.log_filter import FilterError, LogFilter
from etcdtui.core.log_finder import Finder
from etcdtui.core.log_lines import LEVEL_CODE, MARKER, Entry
from etcdtui.core.logstore import LogStore

pytestmark = pytest.mark.unit

INFO, WARN, ERROR = LEVEL_CODE["info"], LEVEL_CODE["warn"], LEVEL_CODE["error"]
BAD = Finding("corruption.periodic_hash_mismatch", Severity.CRITICAL, "hashes differ")
PASSED = Finding("check.periodic_passed", Severity.OK, "passed")


def entry(member: str, ts: float, text: str, level: int = INFO, finding: Finding | None = None) -> Entry:
    return Entry(member, ts, level, text, finding)


def texts(store: LogStore) -> list[str]:
    return [line.text for line in store.iter_view()]


def test_reorder_window_interleaves_by_timestamp_and_counts_late_lines() -> None:
    store = LogStore(reorder_window=0.5)
    store.add([entry("a", 10.0, "a1"), entry("a", 12.0, "a2")], now=100.0)
    store.add([entry("b", 11.0, "b1")], now=100.2)
    assert store.release(100.3) == 0  # nothing waited the window yet
    assert len(store) == 0
    assert store.release(100.75) == 3
    assert texts(store) == ["a1", "b1", "a2"]
    # a line older than what was released, arriving after the window: kept at the end, counted
    store.add([entry("b", 11.5, "b-late")], now=101.0)
    store.release(102.0)
    assert texts(store)[-1] == "b-late"
    assert store.late_lines == 1


def test_bulk_history_is_merged_by_timestamp_and_untimed_lines_stay_with_their_member() -> None:
    store = LogStore()
    store.begin_bulk()
    store.add([entry("a", 1.0, "a1"), Entry("a", None, -1, "a-stack"), entry("a", 3.0, "a3")], now=0.0)
    store.add([entry("b", 2.0, "b2"), entry("b", 0.5, "b0")], now=0.0)
    assert len(store) == 0 and store.pending == 5
    store.end_bulk()
    assert texts(store) == ["b0", "a1", "a-stack", "b2", "a3"]


def test_bounded_by_lines_drops_whole_chunks_and_counts_per_member() -> None:
    store = LogStore(max_lines=CHUNK * 2, reorder_window=0)
    for i in range(CHUNK * 3):
        store.add([entry("a" if i % 2 else "b", float(i), f"line {i}")], now=0.0)
    store.release(1.0)
    assert store.total_lines <= CHUNK * 2
    assert store.dropped_lines == CHUNK * 3 - store.total_lines
    assert store.counts["a"].dropped_lines + store.counts["b"].dropped_lines == store.dropped_lines
    assert store.line(0) is None  # evicted
    first = store.line(store.first_seq)
    assert first is not None and first.text == f"line {store.first_seq}"


def test_bounded_by_bytes() -> None:
    store = LogStore(max_bytes=CHUNK * 100, reorder_window=0)
    store.add([entry("a", float(i), "x" * 99) for i in range(CHUNK * 3)], now=0.0)
    store.release(1.0)
    assert store.total_bytes <= CHUNK * 100
    assert store.dropped_bytes > 0 and store.dropped_lines > 0


def _sample(store: LogStore) -> None:
    store.add([
        entry("a", 1.0, "apply request took too long", WARN),
        entry("b", 2.0, "found hash mismatch", ERROR, BAD),
        entry("a", 3.0, "finished peer corruption check", INFO, PASSED),
        Entry("b", 4.0, MARKER, "── restart: container restarted"),
        entry("a", 5.0, "Apply Request again", INFO),
    ], now=0.0)
    store.release(10.0)


def test_filter_literal_regex_case_invert_level_member_and_markers_stay() -> None:
    store = LogStore(reorder_window=0)
    _sample(store)
    store.set_filter(LogFilter(pattern="apply request"))
    assert texts(store) == ["apply request took too long", "── restart: container restarted", "Apply Request again"]
    store.set_filter(LogFilter(pattern="apply request", case=True))
    assert texts(store) == ["apply request took too long", "── restart: container restarted"]
    store.set_filter(LogFilter(pattern=r"hash|peer", regex=True))
    assert texts(store) == ["found hash mismatch", "finished peer corruption check", "── restart: container restarted"]
    store.set_filter(LogFilter(pattern="apply", invert=True))
    assert "apply request took too long" not in texts(store) and "found hash mismatch" in texts(store)
    store.set_filter(LogFilter(min_level=WARN))
    assert texts(store) == ["apply request took too long", "found hash mismatch", "── restart: container restarted"]
    store.set_filter(LogFilter(members=frozenset({"b"})))
    assert texts(store) == ["found hash mismatch", "── restart: container restarted"]
    store.set_filter(LogFilter())
    assert len(store) == 5


def test_incremental_filter_equals_a_full_refilter() -> None:
    store = LogStore(reorder_window=0)
    flt = LogFilter(pattern=r"request|hash", regex=True)
    store.set_filter(flt)
    _sample(store)  # arrives after the filter was set: filtered on release
    incremental = texts(store)
    store.set_filter(LogFilter())
    store.set_filter(flt)
    assert texts(store) == incremental


def test_refilter_in_steps_catches_up_lines_added_meanwhile() -> None:
    store = LogStore(reorder_window=0)
    store.add([entry("a", float(i), f"n{i % 3}") for i in range(10_000)], now=0.0)
    store.release(1.0)
    steps = store.refilter_steps(LogFilter(pattern="n1"), step=1000)
    next(steps)
    store.add([entry("a", 20_000.0, "n1 late")], now=2.0)
    store.release(3.0)
    for _ in steps:
        pass
    assert texts(store)[-1] == "n1 late"
    assert len(store) == len([i for i in range(10_000) if i % 3 == 1]) + 1


def test_bad_regex_is_a_clear_error_and_leaves_the_view() -> None:
    store = LogStore(reorder_window=0)
    _sample(store)
    with pytest.raises(FilterError, match="bad regex"):
        store.set_filter(LogFilter(pattern="(", regex=True))
    assert len(store) == 5


def test_find_is_separate_from_filter() -> None:
    store = LogStore(reorder_window=0)
    _sample(store)
    finder = Finder(store)
    finder.set("apply")
    assert finder.next_row(-1) == 0
    assert finder.next_row(0) == 4
    assert finder.next_row(4) == 0  # wraps
    assert finder.next_row(0, backwards=True) == 4
    assert list(finder.count_steps())[-1] == 2
    assert len(store) == 5  # find never hides lines
    assert finder.spans("Apply apply") == [(0, 5), (6, 11)]


def test_findings_index_pinned_and_last_check() -> None:
    store = LogStore(max_lines=CHUNK, reorder_window=0)
    _sample(store)
    assert store.next_finding(-1) == 1
    assert store.next_finding(1) == 2
    assert store.next_finding(4, backwards=True) == 2
    assert store.counts["b"].corruption == 1
    assert store.counts["a"].last_check == PASSED
    assert [p.finding.kind for p in store.pinned] == [BAD.kind, PASSED.kind]
    # evict everything: the pinned findings stay, the index forgets the lines
    store.add([entry("c", 100.0 + i, "filler") for i in range(CHUNK * 2)], now=20.0)
    store.release(30.0)
    assert store.line(1) is None
    assert store.next_finding(-1) is None
    assert len(store.pinned) == 2


def test_sealed_chunks_read_back_exactly() -> None:
    store = LogStore(reorder_window=0)
    texts = [f"línea {i} ✓ \t {'x' * (i % 7)}" if i % 5 else "" for i in range(CHUNK * 2 + 10)]
    store.add([entry("a", float(i), text) for i, text in enumerate(texts)], now=0.0)
    store.release(1.0)
    assert [line.text for line in store.iter_view()] == texts
    store.set_filter(LogFilter(pattern="✓ \t xxxxxx"))
    assert len(store) == len([t for t in texts if t.endswith("xxxxxx")])
