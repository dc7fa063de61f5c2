"""Log lines from files instead of a cluster: fixed data for tests and snapshots, and a paced replay
(the benchmark's source: real fixture lines, re-stamped with a kubelet prefix, at a given rate).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from etcdtui.core.logstore import LogStore
from etcdtui.core.scan import LogScanner
from etcdtui.engine.log_ingest import to_entries

CHUNK_LINES = 300


def read_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def store_from_files(files: Mapping[str, Path], store: LogStore | None = None) -> LogStore:
    """A store holding these members' files, merged by timestamp (as the history load does)."""
    store = store or LogStore()
    store.begin_bulk()
    for member, path in files.items():
        scanner = LogScanner(str(path), member)
        store.add(to_entries(member, read_lines(path), scanner), 0.0)
    store.end_bulk()
    return store


def kubelet_prefix(now: float) -> bytes:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ").encode()


class Replay:
    """Feeds `lines` round-robin into the store for each member at `rate` lines/s per member.

    One batch per `interval` per member (like a stream's chunks); lines get a fresh kubelet prefix so the
    store interleaves them by time. Counts what it offered so a benchmark can tell how far behind it fell.
    """

    def __init__(self, store: LogStore, members: list[str], lines: list[bytes], *, rate: float,
                 interval: float = 0.02, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.members = members
        self.lines = lines
        self.rate = rate
        self.interval = interval
        self.clock = clock
        self.offered = 0
        self.ingested = 0
        self._pos = dict.fromkeys(members, 0)
        self._scanners = {m: LogScanner(f"replay:{m}", m) for m in members}

    async def run(self, seconds: float) -> None:
        start = self.clock()
        due = 0.0
        while (elapsed := self.clock() - start) < seconds:
            target = int(elapsed * self.rate)
            for member in self.members:
                # Like a real stream: at most one read chunk (~64 KB, ~300 lines) per step of the loop.
                while (n := min(target - self._pos[member], CHUNK_LINES)) > 0:
                    self._feed(member, n)
                    await asyncio.sleep(0)
            self.offered = int(elapsed * self.rate) * len(self.members)
            due += self.interval
            await asyncio.sleep(max(0.0, start + due - self.clock()))
        self.offered = int(seconds * self.rate) * len(self.members)

    def _feed(self, member: str, n: int) -> None:
        lines, total = self.lines, len(self.lines)
        pos = self._pos[member]
        prefix = kubelet_prefix(time.time())
        batch = [prefix + lines[(pos + i) % total] for i in range(n)]
        self._pos[member] = pos + n
        self.store.add(to_entries(member, batch, self._scanners[member]), self.clock())
        self.ingested += n
