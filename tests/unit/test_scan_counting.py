"""Line numbers in block digests: the newline counting of the gaps between the lines `digest_block` stops
at (short gaps with `count`, long ones with a copy + `replace`) and the block's last index (no second count)
must give the full path's line numbers and edge timestamps, in fresh blocks and in a reused read buffer."""

from __future__ import annotations

import json
import random

import pytest

from etcdtui.core import scan_digest
from etcdtui.core.scan import LogScanner, ScanHit
from etcdtui.core.scan_digest import digest_block

pytestmark = pytest.mark.unit


def _zap(msg: str, second: int, level: str = "info", **fields: object) -> bytes:
    return json.dumps({"level": level, "ts": f"2026-11-24T09:30:{second:02d}.000Z", "caller": "x.go:1", "msg": msg,
                       **fields}, separators=(",", ":")).encode()


def _lines(gaps: list[int]) -> list[bytes]:
    """Routine lines with an evidence line (an alarm) and a startup line after each gap of `gaps[i]` lines."""
    lines = [_zap("kvstore restored", 0)]
    for second, gap in enumerate(gaps):
        lines += [_zap("saved snapshot", second % 60, index=i) for i in range(gap)]
        lines.append(_zap("alarm raised", second % 60, "warn", alarm="CORRUPT", **{"from": "8e9e05c52164694d"}))
        lines.append(_zap("added remote peer", second % 60, **{"remote-peer-id": f"{second + 1:x}"}))
    lines.append(_zap("saved snapshot", 59))  # the last line is routine: the block's last ts is its own
    return lines


def _key(hits: list[ScanHit]) -> list[tuple[object, ...]]:
    return [(h.line, h.finding.kind, h.finding.message, h.ts) for h in hits]


# Gaps of 0 to 40 routine lines (each ~110 bytes): both sides of scan_digest._COPY_COUNT_MIN.
GAPS = [0, 1, 2, 3, 4, 5, 6, 9, 17, 40, 0, 0, 33]


def test_gap_sizes_straddle_the_copy_threshold() -> None:
    sizes = {len(b"\n".join(_lines([gap])[1:gap + 1])) for gap in GAPS}
    assert min(sizes) < scan_digest._COPY_COUNT_MIN < max(sizes)  # else the tests below miss a branch


@pytest.mark.parametrize("buffer", ["bytes", "reused bytearray"])
def test_digest_line_numbers_equal_the_full_path(buffer: str) -> None:
    lines = _lines(GAPS)
    full = LogScanner("s", "m", fast=False)
    expected = full.feed(lines) + full.finish()
    data = b"\n".join(lines)
    if buffer == "bytes":
        digest = digest_block(data)
    else:  # the reader's reused buffer: stale lines after `size`
        stale = bytearray(data + b"\n" + b"\n".join(_lines([3, 1])) * 2)
        digest = digest_block(stale, len(data))
    block = LogScanner("s", "m")
    hits = block.feed_digest(digest) + block.finish()
    assert [h.finding.kind for h in expected] == ["corruption.alarm_raised"] * len(GAPS)
    assert _key(hits) == _key(expected)
    assert digest.lines == len(lines)
    assert (block.summary.first_ts, block.summary.last_ts) == (full.summary.first_ts, full.summary.last_ts)
    assert block.summary.fast_skipped > len(lines) // 2


def test_newlines_equals_count_on_any_range() -> None:
    rng = random.Random(7)
    data = bytes(rng.choice(b"ab\n") for _ in range(3 * scan_digest._COPY_COUNT_MIN))
    buffers: list[bytes | bytearray] = [data, bytearray(data)]
    for block in buffers:
        for _ in range(2000):
            start = rng.randrange(len(data) + 1)
            end = rng.randrange(start, len(data) + 1)
            assert scan_digest._newlines(block, start, end) == data.count(b"\n", start, end)


def test_last_timestamp_from_a_routine_line_before_a_trailing_line_without_one() -> None:
    # The backward walk for the block's last ts starts from the block's last index (known, not recounted):
    # an off-by-one would stop before the routine line right after the last parsed line.
    lines = [_zap("saved snapshot", 1), _zap("alarm raised", 10, "warn", alarm="CORRUPT"), _zap("saved snapshot", 20),
             b"goroutine 1 [running]:"]
    full = LogScanner("s", "m", fast=False)
    full.feed(lines)
    full.finish()
    block = LogScanner("s", "m")
    block.feed_digest(digest_block(b"\n".join(lines)))
    block.finish()
    assert block.summary.last_ts == full.summary.last_ts is not None
    assert block.summary.last_ts > block.summary.first_ts  # type: ignore[operator]
