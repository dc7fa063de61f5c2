"""Passive cross-member check from `finished scheduled compaction` lines (etcd 3.5.5+ logs `hash`).

No fixture has these lines (the fixtures come from etcd 3.4.23 and 3.5.1, which log no `hash`), so the
lines are written from etcd-facts §1.4 with the exact message and field names.
"""

from __future__ import annotations

import json

import pytest

from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Severity
from etcdtui.core.logline import parse_line

pytestmark = pytest.mark.unit


def compaction(revision: int, hash_value: int | None) -> str:
    fields = {"level": "info", "ts": "2026-11-24T09:30:00.123456Z", "caller": "mvcc/kvstore_compaction.go:71",
              "msg": "finished scheduled compaction", "compact-revision": revision, "took": "2ms"}
    if hash_value is not None:
        fields["hash"] = hash_value
    return json.dumps(fields)


INTERRUPTED = json.dumps({"level": "info", "ts": "2026-11-24T09:30:00.2Z", "caller": "mvcc/kvstore.go:1",
                          "msg": "previous compaction was interrupted, skip storing compaction hash value"})


def book_with(entries: list[tuple[str, str]]) -> CompactionHashBook:
    book = CompactionHashBook()
    for number, (member, line) in enumerate(entries, 1):
        book.observe(member, parse_line(line), f"{member}.log:{number}")
    return book


def test_equal_hashes_are_fine() -> None:
    book = book_with([("m1", compaction(100, 7)), ("m2", compaction(100, 7)), ("m3", compaction(100, 7))])
    assert book.findings() == [] and len(book) == 1


def test_minority_member_is_named() -> None:
    book = book_with([("m1", compaction(100, 7)), ("m2", compaction(100, 9)), ("m3", compaction(100, 7)),
                      ("m1", compaction(200, 1)), ("m2", compaction(200, 1)), ("m3", compaction(200, 1))])
    (found,) = book.findings()
    assert (found.kind, found.severity, found.member) == ("corruption.cross_member_hash_mismatch", Severity.CRITICAL, "m2")
    assert found.fields["minority"] == ["m2"] and found.fields["compact-revision"] == 100
    assert found.fields["hashes"] == {"m1": 7, "m2": 9, "m3": 7}
    assert found.fields["where"]["m2"] == "m2.log:2"
    assert "m2" in found.message and "majority" in found.message


def test_two_members_disagreeing_have_no_majority() -> None:
    (found,) = book_with([("m1", compaction(100, 7)), ("m2", compaction(100, 9))]).findings()
    assert found.member is None and found.fields["minority"] == []
    assert "cannot tell" in found.message


def test_interrupted_compaction_is_not_compared() -> None:
    # etcd logs "interrupted" right after the `finished scheduled compaction` whose hash it invalidates.
    entries = [("m1", compaction(100, 7)), ("m2", compaction(100, 9)), ("m2", INTERRUPTED), ("m3", compaction(100, 7))]
    assert book_with(entries).findings() == []
    assert book_with([e for e in entries if e[1] != INTERRUPTED]).findings() != []


def test_lines_without_hash_are_ignored() -> None:
    # etcd < 3.5.5 logs no `hash`: nothing to compare.
    book = book_with([("m1", compaction(100, None)), ("m2", compaction(100, None))])
    assert len(book) == 0 and book.findings() == []


def test_same_member_twice_keeps_the_first() -> None:
    book = book_with([("m1", compaction(100, 7)), ("m1", compaction(100, 8)), ("m2", compaction(100, 7))])
    assert book.findings() == []


def test_memory_is_bounded_and_drops_are_counted() -> None:
    book = CompactionHashBook(max_revisions=10, max_members=2)
    for revision in range(50):
        book.add("m1", revision, 1)
    assert len(book) == 10 and book.dropped_revisions == 40
    book.add("m1", 3, 1)  # older than everything kept
    assert len(book) == 10 and book.dropped_revisions == 41
    for member in ("m2", "m3"):
        book.add(member, 49, 2)
    assert book.dropped_entries == 1
    (found,) = book.findings()
    assert found.fields["members"] == ["m1", "m2"]
