"""The scanner's fast path: one compiled regex walks over routine zap lines in C; only the other lines are parsed and classified. A `Digest` holds no scanner state, so worker processes can make it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from etcdtui.core import ids
from etcdtui.core.classify import classify
from etcdtui.core.findings import Finding
from etcdtui.core.logline import BLANK, RAW, ZAP, LogRecord, parse_line
from etcdtui.core.routine_lines import CONTEXT_MSGS, QUIET_LEVELS, RAFT_CHATTER, ROUTINE_MSGS


def _alternation(words: Iterable[bytes]) -> bytes:
    """A regex matching exactly these literals, built as a trie so a mismatch fails on its first bytes."""
    trie: dict[int, Any] = {}
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[-1] = {}  # end of a word

    def emit(node: dict[int, Any]) -> bytes:
        branches = [re.escape(bytes([b])) + emit(child) for b, child in sorted(node.items()) if b >= 0]
        if not branches:
            return b""
        body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
        if -1 in node:
            return (b"(?:" + body + b")?") if len(branches) == 1 else body + b"?"
        return body

    return emit(trie)


# Must match only zap lines that `classify` ignores: quiet level and a routine msg (the closing quote
# makes the msg exact). zap writes the keys in this order: level, ts, [logger], caller, msg.
_QUIET = rb'\{"level":"(?:' + b"|".join(sorted(lvl.encode() for lvl in QUIET_LEVELS)) + rb')",'
_ROUTINE_MSG = (rb'"msg":"(?:' + _alternation(m.encode() for m in ROUTINE_MSGS) + rb'|'
                + RAFT_CHATTER.removesuffix(r"\Z").encode() + rb')"')
_HEADER = rb'"ts":(?:"[^"\\\n]*"|[0-9.e+-]+),(?:"logger":"[^"\\\n]*",)?"caller":"[^"\\\n]*",'
_ROUTINE_ZAP = _QUIET + _HEADER + _ROUTINE_MSG
_KUBECTL_PREFIX = rb"\d{4}-\d\d-\d\dT[0-9:.]{8,20}(?:Z|[+-]\d\d:?\d\d) (?:std(?:out|err) [PF] )?"
_CONTEXT_MSG = (rb'"msg":"(?P<msg>' + rb"|".join(re.escape(m.encode()) for m in sorted(CONTEXT_MSGS))
                + rb'|newRaft [^"\\\n]*)"')
# Startup lines the context needs, read without json.loads (`classify` ignores them at quiet levels).
CONTEXT_LINE = re.compile(rb"(?:" + _KUBECTL_PREFIX + rb")?" + _QUIET + _HEADER + _CONTEXT_MSG
                           + rb'[^\n]*\}[ \t\r]*\Z')
REMOTE_PEER_ID = re.compile(rb'"remote-peer-id":"([^"\\\n]*)"')
_REST = rb"[^\n]*\}[ \t\r]*"  # the rest of the line, up to the closing brace (a truncated line is not zap)
ROUTINE_LINE = re.compile(rb"(?:" + _KUBECTL_PREFIX + rb")?" + _ROUTINE_ZAP + _REST + rb"\Z")  # one line


@dataclass(frozen=True, slots=True)
class _BlockPatterns:
    r"""Regexes that walk a block of lines in C and stop only at the lines that are not routine.

    `run` matches, from a newline, as many routine lines as follow (possessive `*+`: no backtracking
    state is kept) and then the newline that starts the next other line, so Python code runs only for
    those lines. In the routine test `[^"]*` (a fast loop in `re`) skips the ts/logger/caller values; it
    may run past the end of a line cut inside them, but such a line was cut before its msg, so it
    carries nothing `classify` uses. A startup line the context needs is then read by `context`, with the
    strict header, without json.loads.
    """

    first: re.Pattern[bytes]  # the first line of a block is routine
    run: re.Pattern[bytes]  # the next other line starts at group "line"; "msg" is set if it is a startup line
    context: re.Pattern[bytes]

    @classmethod
    def build(cls, prefix: bytes) -> _BlockPatterns:
        loose = (prefix + _QUIET + rb'"ts":(?:"[^"]*"|[0-9.e+-]+),(?:"logger":"[^"]*",)?"caller":"[^"]*",'
                 + _ROUTINE_MSG + _REST + rb"(?=\n|\Z)")
        context = prefix + _QUIET + _HEADER + _CONTEXT_MSG + _REST + rb"(?=\n|\Z)"  # to the end of the line
        return cls(re.compile(loose), re.compile(rb"(?:\n" + loose + rb")*+\n(?P<line>)(?:" + context + rb")?"),
                   re.compile(context))


_PLAIN = _BlockPatterns.build(b"")
_PREFIXED = _BlockPatterns.build(rb"(?:" + _KUBECTL_PREFIX + rb")?")


STARTUP_MSGS = frozenset({"Running: ", "starting an etcd server"})
_peer_id = lru_cache(maxsize=1024)(ids.try_normalize)  # a few member IDs, in thousands of startup lines


@dataclass(slots=True)
class StartupDelta:
    """Startup lines read in a row, with no other event between them, folded into what they change in
    `LogScanner`'s `_Startup` (mirrors `LogScanner._track_msg`; the fast-path tests hold them equal)."""

    reset: bool = False  # a new start: forget what came before
    local_known: bool = False
    local_id: str | None = None
    peers: set[str] = field(default_factory=set)
    check_started: bool = False

    def add(self, msg: str, remote_peer: object) -> None:
        if msg in STARTUP_MSGS:
            self.reset, self.local_known, self.local_id, self.check_started = True, False, None, False
            self.peers = set()
        elif msg.startswith("newRaft "):
            head, _, rest = msg[8:].partition(" [peers: [")
            self.local_known, self.local_id = True, _peer_id(head)
            for peer in rest.partition("]")[0].split(","):
                member = _peer_id(peer)
                if member and member != self.local_id:
                    self.peers.add(member)
        elif msg == "added remote peer" and isinstance(remote_peer, str):
            member = _peer_id(remote_peer)
            if member:
                self.peers.add(member)
        elif msg == "starting initial corruption check":
            self.check_started = True


# What a digest reports, in line order: (0-based index in the block, record, its finding before context,
# None) for a line `LogScanner._track` uses or a finding; (index, None, None, delta) for startup lines.
Event = tuple[int, LogRecord | None, Finding | None, StartupDelta | None]


@dataclass(slots=True)
class Digest:
    """What the stateful scanner needs from a block of lines; computed without scanner state, so it can be
    computed in another process (picklable) and fed in order (`LogScanner.feed_digest`)."""

    lines: int
    nbytes: int
    routine: int  # routine lines, counted without parsing
    formats: Counter[str]  # the other lines by format
    blank: int
    unparsed: int
    first_ts: float | None  # of the first / last line in the block that has a timestamp
    last_ts: float | None
    events: list[Event]


def digest_block(block: bytes | bytearray, size: int | None = None) -> Digest:
    """Digest complete lines joined by newlines (no newline at the end), `block[:size]` (a reader may pass
    its reused buffer): classify every line that is not routine. Wherever a file is cut into blocks, the
    digests give the same findings. Nothing in the digest refers to `block`."""
    size = len(block) if size is None else size
    patterns = _PREFIXED if block[:1].isdigit() else _PLAIN
    run, context_line = patterns.run.match, patterns.context.match
    find = block.find
    formats: Counter[str] = Counter()
    events: list[Event] = []
    parsed: list[int] = []  # indices of the lines parsed, in order
    blank = unparsed = context_lines = 0
    first_at = last_at = -1  # index of the first / last parsed line with a timestamp
    first_ts = last_ts = None
    delta: StartupDelta | None = None
    index = prev = 0  # line index and offset of the last line looked at
    routine_head = patterns.first.match(block, 0, size)
    start = -1 if routine_head else 0
    end = routine_head.end() if routine_head else 0
    found = None if routine_head else context_line(block, 0, size)
    while True:
        if start < 0:  # find the next line that is not routine
            found = run(block, end, size)
            if found is None:
                break  # the rest is routine (or there is no rest)
            start = found.start("line")
        startup = None if found is None else found["msg"]
        if found is not None and startup is not None:  # a startup line, read by regex to its end
            end = found.end()
            if delta is None:  # only the first line of a group needs its index: count lazily
                index += _newlines(block, prev, start)
                prev = start
                delta = StartupDelta()
                events.append((index, None, None, delta))
            if startup == b"added remote peer":  # the most frequent: thousands in a long log
                peer_id = REMOTE_PEER_ID.search(block, found.end("msg") + 1, end)
                if peer_id:
                    delta.add("added remote peer", peer_id[1].decode("utf-8", "replace"))
            else:
                delta.add(startup.decode("utf-8", "replace"), None)
            context_lines += 1
        else:
            index += _newlines(block, prev, start)
            prev = start
            end = find(b"\n", start, size)
            if end < 0:
                end = size
            parsed.append(index)
            record = parse_line(block[start:end])
            fmt = record.format
            formats[fmt] += 1
            if fmt == BLANK:
                blank += 1
            else:
                if fmt == RAW:
                    unparsed += 1
                if record.ts is not None:
                    if first_at < 0:
                        first_at, first_ts = index, record.ts
                    last_at, last_ts = index, record.ts
                result = classify(record)
                if result is not None or tracked(record):
                    events.append((index, record, result, None))
                    delta = None
        start = -1
    lines = index + _newlines(block, prev, size) + 1
    if context_lines:
        formats[ZAP] += context_lines
    if first_at != 0:
        edge = _edge_ts(block, size, lines, parsed, first_at if first_at >= 0 else lines, forward=True)
        first_ts = first_ts if edge is None else edge
    if last_at != lines - 1:
        edge = _edge_ts(block, size, lines, parsed, last_at, forward=False)
        last_ts = last_ts if edge is None else edge
    routine = lines - len(parsed) - context_lines
    return Digest(lines, size + 1, routine, formats, blank, unparsed, first_ts, last_ts, events)


_COPY_COUNT_MIN = 512  # bytes: below this, count() beats a copy


def _newlines(block: bytes | bytearray, start: int, end: int) -> int:
    """Newlines in `block[start:end]`. `bytes.count` of one byte is a plain loop (~3 GB/s); `replace`
    deletes it with memchr and memcpy, 2-3 times faster even with the copy of the slice (kept short:
    the gaps between the lines digest_block stops at)."""
    if end - start < _COPY_COUNT_MIN:
        return block.count(b"\n", start, end)
    return end - start - len(block[start:end].replace(b"\n", b""))


def _edge_ts(block: bytes | bytearray, size: int, lines: int, parsed: list[int], until: int, *,
             forward: bool) -> float | None:
    """The timestamp of the first (last) line before (after) line `until` that has one, if any.

    Routine and startup lines are not parsed, so the block's first/last timestamp may be on one of them;
    this walks from the block's edge, skipping the lines already parsed (`parsed`: indices, ascending)."""
    if forward:
        pos, index, step, skip = 0, 0, 1, iter(parsed)
    else:
        pos, index, step, skip = size, lines - 1, -1, reversed(parsed)  # (no second count of the block)
    next_parsed = next(skip, None)
    while index != until:
        if forward:
            end = block.find(b"\n", pos, size)
            line, after = block[pos : size if end < 0 else end], end + 1
        else:
            begin = block.rfind(b"\n", 0, pos) + 1
            line, after = block[begin:pos], begin - 1
        if index == next_parsed:
            next_parsed = next(skip, None)
        else:
            ts = parse_line(line).ts
            if ts is not None:
                return ts
        pos, index = after, index + step
    return None


_TRACKED_PREFIXES = ("newRaft ", "finished scheduled compaction", "previous compaction")


def tracked(record: LogRecord) -> bool:
    """Whether `LogScanner._track` may use this record (a superset is fine: it only costs a transfer)."""
    msg = record.msg
    return (msg in STARTUP_MSGS or msg == "added remote peer" or msg.startswith(_TRACKED_PREFIXES)
            or "starting initial corruption check" in msg
            or (record.package == "etcdmain" and msg.startswith("etcd Version: ")))
