"""Streaming scan of one log source (a file, stdin, a live stream): lines in, findings with line numbers out.

Pure and constant-memory: the caller does the I/O and feeds lists of lines (`feed`, bytes, newline
optional) or blocks of complete lines (`feed_block`). Besides classifying each line (`classify.py`) the
scanner keeps the little context a single line cannot give:

* **Initial-check verdict.** `initial corruption checking passed` does not say how many peers were
  compared (etcd-facts §1.6). The scanner remembers, since the last startup (`Running: ` / `starting an
  etcd server`), which peers the member knew (`newRaft … [peers: […]]`, `added remote peer`) and which it
  skipped during the check (`failed hash kv request`, slow/behind peers …). At "passed" it reports
  `check.initial_passed` (OK) only if at least one known peer was not skipped, `check.initial_vacuous`
  (WARNING) if none was, and leaves the unverified INFO finding when the startup is not in the log.
* **Repeated leader loss** → one `raft.unstable` WARNING (a single lost leader is a normal restart).
* **Panic dumps**: the plain `panic: …` line right after a zap panic line is the same event, not a second
  finding.
* `finished scheduled compaction` hashes go to an optional shared `CompactionHashBook` for the
  cross-member check.

Speed: most lines of a real log are routine zap lines (`routine_lines.ROUTINE_MSGS` at debug/info/warn level),
which `classify` maps to None whatever their fields say. One compiled regex recognises such a line from
its first bytes (`{"level":"info","ts":"…",["logger":"…",]"caller":"…","msg":"<routine>"`), so it is
counted without being decoded or parsed. `feed_block` goes through `digest_block` (`scan_digest`): a possessive regex
walks over runs of routine lines in C and stops only at the other lines (~5 % of a long-running log);
startup lines are read by regex too, and only the rest is parsed and classified. Line numbers come from
newline counts of the gaps between those lines (`_newlines`, memchr speed), each byte counted once. The digest holds no
scanner state (`Digest`: counts, first/last timestamps, and in order the findings, the records `_track`
uses and the folded startup lines), so it can be made in worker processes on stripes of a big file
(`etcdtui/headless/scan_collect.py`) and fed here in file order (`feed_digest`). Anything the regex does not
recognise takes the full path, so the fast path can only skip lines that the full path would also
ignore; `tests/unit/test_scan_fastpath.py` and `tests/unit/test_scan_parallel.py` check they give the
same findings and summary on every fixture, however the lines are cut into blocks.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, count
from operator import not_
from typing import Any

from etcdtui.core import ids
from etcdtui.core.classify import classify
from etcdtui.core.classify_rules import finding
from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import BLANK, CAPNSLOG, GO_PANIC, RAW, ZAP, LogRecord, parse_line
from etcdtui.core.scan_digest import (
    CONTEXT_LINE,
    REMOTE_PEER_ID,
    ROUTINE_LINE,
    STARTUP_MSGS,
    Digest,
    StartupDelta,
    digest_block,
)

_UNSTABLE_COUNT = 5  # leader losses …
_UNSTABLE_WINDOW = 300.0  # … within this many seconds → raft.unstable


@dataclass(slots=True)
class ScanHit:
    """A finding at a line of the source."""

    line: int  # 1-based
    finding: Finding
    ts: float | None
    etcd_msg: str
    source: str
    member: str


@dataclass(slots=True)
class ScanSummary:
    source: str
    member: str
    lines: int = 0
    bytes: int = 0
    blank: int = 0
    unparsed: int = 0  # lines kept as raw text (stack frames, garbage, truncated JSON)
    truncated_lines: int = 0  # over-long lines cut by the reader (counted by the caller)
    fast_skipped: int = 0  # routine lines counted without parsing
    formats: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    first_ts: float | None = None
    last_ts: float | None = None

    @property
    def etcd_lines(self) -> int:
        """Lines that are etcd log records (zap or capnslog), i.e. evidence that this is an etcd log."""
        return self.formats[ZAP] + self.formats[CAPNSLOG]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "member": self.member,
            "lines": self.lines,
            "bytes": self.bytes,
            "etcd_lines": self.etcd_lines,
            "blank": self.blank,
            "unparsed": self.unparsed,
            "truncated_lines": self.truncated_lines,
            "fast_skipped": self.fast_skipped,
            "formats": dict(self.formats),
            "by_kind": dict(self.by_kind),
            "by_severity": dict(self.by_severity),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
        }


@dataclass(slots=True)
class _Startup:
    """What the member knew since its last start, for the initial-check verdict."""

    seen: bool = False
    local_id: str | None = None
    peers: set[str] = field(default_factory=set)
    checking: bool = False
    skipped: set[str] = field(default_factory=set)


class LogScanner:
    def __init__(self, source: str, member: str, *, compactions: CompactionHashBook | None = None,
                 fast: bool = True) -> None:
        self.summary = ScanSummary(source=source, member=member)
        self.compactions = compactions
        self.fast = fast
        self._startup = _Startup()
        self._leader_losses: deque[float] = deque(maxlen=_UNSTABLE_COUNT)
        self._last_fatal_line = -10
        self._last_line: bytes = b""
        self._last_parsed_ts: float | None = None

    # --- feeding -----------------------------------------------------------------------------------

    def feed(self, lines: Sequence[bytes]) -> list[ScanHit]:
        """Scan the next lines of the source (bytes, newline optional); returns their findings, in order."""
        summary = self.summary
        summary.bytes += sum(map(len, lines)) + len(lines)
        base = summary.lines
        hits: list[ScanHit] = []
        start = self._until_first_ts(lines, base, hits)
        if self.fast:
            # indices of the lines the routine regex does not recognise (C-level loop, no bytecode per line)
            todo: Iterable[int] = compress(count(start), map(not_, map(ROUTINE_LINE.match, lines[start:])))
        else:
            todo = range(start, len(lines))
        parsed = 0
        for i in todo:
            parsed += 1
            hit = self._full(lines[i], base + i + 1)
            if hit is not None:
                hits.append(hit)
        self._skipped(len(lines) - start - parsed)
        if lines:
            self._last_line = lines[-1]
        summary.lines = base + len(lines)
        return hits

    def feed_block(self, block: bytes | bytearray, size: int | None = None) -> list[ScanHit]:
        """Scan complete lines joined by newlines (no partial last line), `block[:size]`; the fastest way in."""
        if not self.fast:
            return self.feed(bytes(block[:size]).split(b"\n"))
        return self.feed_digest(digest_block(block, size))

    def feed_digest(self, digest: Digest) -> list[ScanHit]:
        """Scan the next block of lines, digested by `digest_block` (here or in another process)."""
        summary = self.summary
        summary.bytes += digest.nbytes
        base = summary.lines
        hits: list[ScanHit] = []
        for index, record, result, delta in digest.events:
            if record is None:
                if delta is not None:
                    self._apply_delta(delta)
                continue
            number = base + index + 1
            self._track(record, number)
            hit = self._hit(record, result, number)
            if hit is not None:
                hits.append(hit)
        summary.formats.update(digest.formats)
        summary.blank += digest.blank
        summary.unparsed += digest.unparsed
        self._skipped(digest.routine)
        if summary.first_ts is None:
            summary.first_ts = digest.first_ts
        self._settle_last_line()
        if digest.last_ts is not None:
            self._last_parsed_ts = digest.last_ts
        summary.lines = base + digest.lines
        return hits

    def _until_first_ts(self, lines: Sequence[bytes], base: int, hits: list[ScanHit]) -> int:
        """Parse lines fully until one carries a timestamp (the summary's first_ts); returns lines used."""
        used = 0
        while used < len(lines) and self.summary.first_ts is None:
            hit = self._full(lines[used], base + used + 1)
            used += 1
            if hit is not None:
                hits.append(hit)
        return used

    def _skipped(self, routine: int) -> None:
        self.summary.fast_skipped += routine
        self.summary.formats[ZAP] += routine

    def feed_text(self, lines: Iterable[str]) -> list[ScanHit]:
        return self.feed([line.encode("utf-8", "surrogateescape") for line in lines])

    def finish(self) -> list[ScanHit]:
        """End of the source: settle the last timestamp. Returns late findings (none today)."""
        last = parse_line(self._last_line).ts if self._last_line else None
        candidates = [t for t in (last, self._last_parsed_ts) if t is not None]
        self.summary.last_ts = max(candidates) if candidates else None
        return []

    def _settle_last_line(self) -> None:
        """Before a digest: the last line fed by `feed` (maybe not parsed) may hold the latest timestamp."""
        if self._last_line:
            ts = parse_line(self._last_line).ts
            if ts is not None:
                self._last_parsed_ts = ts
            self._last_line = b""

    # --- one line, the slow way ----------------------------------------------------------------------

    def _full(self, line: bytes, number: int) -> ScanHit | None:
        summary = self.summary
        if self.fast and summary.first_ts is not None:
            context = CONTEXT_LINE.match(line)
            if context is not None:  # a startup line: only its context matters, skip json.loads
                msg = context["msg"].decode("utf-8", "replace")
                peer = REMOTE_PEER_ID.search(line, context.end("msg")) if msg == "added remote peer" else None
                self._track_msg(msg, peer[1].decode("utf-8", "replace") if peer else None, False)
                summary.formats[ZAP] += 1
                return None
        record = parse_line(line)
        fmt = record.format
        summary.formats[fmt] += 1
        if fmt == BLANK:
            summary.blank += 1
            return None
        if fmt == RAW:
            summary.unparsed += 1
        if record.ts is not None:
            if summary.first_ts is None:
                summary.first_ts = record.ts
            self._last_parsed_ts = record.ts
        self._track(record, number)
        return self._hit(record, classify(record), number)

    def _hit(self, record: LogRecord, result: Finding | None, number: int) -> ScanHit | None:
        """The line's finding once the context is applied, counted in the summary."""
        if result is not None:
            result = self._in_context(record, result, number)
        if result is None:
            return None
        summary = self.summary
        summary.by_kind[result.kind] += 1
        summary.by_severity[result.severity.label] += 1
        return ScanHit(number, result, record.ts, record.msg, summary.source, summary.member)

    def _track(self, record: LogRecord, number: int) -> None:
        # What this reads, `tracked` must recognise (digests send only those records and findings).
        msg = record.msg
        capnslog = record.format == CAPNSLOG
        if capnslog and record.package == "etcdmain" and msg.startswith("etcd Version: "):
            self._startup = _Startup(seen=True)
        else:
            self._track_msg(msg, record.fields.get("remote-peer-id"), capnslog)
        if self.compactions is not None and msg.startswith(("finished scheduled compaction", "previous compaction")):
            self.compactions.observe(self.summary.member, record, f"{self.summary.source}:{number}")

    def _apply_delta(self, delta: StartupDelta) -> None:
        if delta.reset:
            self._startup = _Startup(seen=True)
        startup = self._startup
        if delta.local_known:
            startup.local_id = delta.local_id
        startup.peers |= delta.peers
        if delta.check_started:
            startup.checking = True
            startup.skipped.clear()

    def _track_msg(self, msg: str, remote_peer: object, capnslog: bool) -> None:
        startup = self._startup
        if msg in STARTUP_MSGS:
            self._startup = _Startup(seen=True)
        elif msg.startswith("newRaft "):
            head, _, rest = msg[8:].partition(" [peers: [")
            startup.local_id = ids.try_normalize(head)
            for peer in rest.partition("]")[0].split(","):
                member = ids.try_normalize(peer)
                if member and member != startup.local_id:
                    startup.peers.add(member)
        elif msg == "added remote peer":
            member = ids.try_normalize(remote_peer)
            if member:
                startup.peers.add(member)
        elif msg == "starting initial corruption check" or (capnslog and "starting initial corruption check" in msg):
            startup.checking = True
            startup.skipped.clear()

    def _in_context(self, record: LogRecord, result: Finding, number: int) -> Finding | None:
        kind = result.kind
        startup = self._startup
        if kind == "check.inconclusive" and startup.checking:
            eps = record.fields.get("remote-peer-endpoints") or [record.fields.get("remote-peer-endpoint") or msg_key(record)]
            startup.skipped.update(str(ep) for ep in (eps if isinstance(eps, list) else [eps]))
        elif kind == "check.initial_passed":
            startup.checking = False
            return self._initial_verdict(record, result)
        elif kind == "raft.leader_lost" and record.ts is not None:
            losses = self._leader_losses
            losses.append(record.ts)
            if len(losses) == losses.maxlen and losses[-1] - losses[0] <= _UNSTABLE_WINDOW:
                losses.clear()
                return finding("raft.unstable", f"Lost the leader {_UNSTABLE_COUNT} times within "
                               f"{int(_UNSTABLE_WINDOW)} s (last: {record.msg}).", record=record)
        if record.level in ("panic", "fatal") and record.format != GO_PANIC:
            self._last_fatal_line = number
        elif record.format == GO_PANIC and number - self._last_fatal_line <= 2:
            return None  # the Go dump of the zap panic line just reported
        return result

    def _initial_verdict(self, record: LogRecord, result: Finding) -> Finding:
        startup = self._startup
        if not startup.seen:
            return result  # startup not in this log: stays "unverified" (INFO)
        known = len(startup.peers)
        compared = known - len(startup.skipped)
        extra = {"peers-known": known, "peers-skipped": len(startup.skipped)}
        if known == 0:
            return finding("check.initial_vacuous",
                           "Initial check 'passed' but the member knew no peers at start (no raft snapshot on "
                           "disk yet), so nothing was compared.", record=record, extra=extra)
        if compared <= 0:
            return finding("check.initial_vacuous",
                           f"Initial check 'passed' but all {known} peer(s) were skipped, so nothing was compared.",
                           record=record, extra=extra)
        return finding("check.initial_passed",
                       f"Initial check passed: compared with {compared} of {known} peer(s).",
                       record=record, severity=Severity.OK, extra=extra)


def msg_key(record: LogRecord) -> str:
    """A stand-in peer key for skip lines that name no endpoint (capnslog)."""
    return record.msg[:120]

