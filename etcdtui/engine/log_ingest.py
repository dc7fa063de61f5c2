"""Raw log lines (`<RFC3339Nano> <etcd line>` as `kubectl logs --timestamps` gives them) → store entries.

Each line is classified once, by the core's `LogScanner` (one per member and container run, so the
initial-check context of a startup is kept); timestamp and level are read cheaply from the prefix and the
first bytes of zap JSON, so routine lines never reach `json.loads` (the scanner's fast path skips them too).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from etcdtui.core.findings import Finding
from etcdtui.core.log_lines import MARKER, NO_LEVEL, Entry, level_code
from etcdtui.core.logline import parse_line
from etcdtui.core.scan import LogScanner

_SECONDS_CACHE: dict[bytes, float] = {}
_ZAP_HEAD = b'{"level":"'


def prefix_ts(line: bytes) -> tuple[float | None, int]:
    """The kubelet timestamp prefix → (epoch seconds, index where the etcd line starts)."""
    if len(line) < 21 or line[4:5] != b"-" or line[10:11] != b"T":
        return None, 0
    space = line.find(b" ", 19, 40)
    if space < 0:
        return None, 0
    head = line[:19]
    base = _SECONDS_CACHE.get(head)
    if base is None:
        try:
            base = datetime.fromisoformat(head.decode() + "+00:00").timestamp()
        except ValueError:
            return None, 0
        if len(_SECONDS_CACHE) > 4096:
            _SECONDS_CACHE.clear()
        _SECONDS_CACHE[head] = base
    frac = line[20 : space - 1] if line[19:20] == b"." else b""
    if frac.isdigit():
        base += int(frac) / 10 ** len(frac)
    return base, space + 1


def quick_level(body: bytes) -> int:
    if body.startswith(_ZAP_HEAD):
        end = body.find(b'"', 10, 20)
        return level_code(body[10:end].decode()) if end > 0 else NO_LEVEL
    return level_code(parse_line(body).level)


def to_entries(member: str, lines: list[bytes], scanner: LogScanner) -> list[Entry]:
    before = scanner.summary.lines
    hits = scanner.feed(lines)
    found = {hit.line - before - 1: hit.finding for hit in hits}
    entries: list[Entry] = []
    append = entries.append
    for i, raw in enumerate(lines):
        ts, start = prefix_ts(raw)
        body = raw[start:]
        if ts is None:
            ts = parse_line(body).ts  # no kubelet prefix (a file, a replay): etcd's own timestamp
        finding = found.get(i)
        if finding is not None and finding.member is None:
            finding = _with_member(finding, member)
        append(Entry(member, ts, quick_level(body), body.decode("utf-8", "replace"), finding))
    return entries


def marker_entry(member: str, text: str, ts: float | None) -> Entry:
    return Entry(member, ts, MARKER, text)


def _with_member(finding: Finding, member: str) -> Finding:
    return replace(finding, member=member)
