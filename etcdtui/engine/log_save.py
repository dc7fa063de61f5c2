"""Save the log buffer (the filtered view or everything) to a file only its owner can read (0600).

The header says what the file holds: context, members, time window, filter, and what was dropped.
Lines are copied from the store in bounded batches on the loop and written by a thread, so a large
buffer never blocks the event loop for long.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from etcdtui.core.log_filter import LogFilter
from etcdtui.core.logstore import LogStore

BATCH = 20_000


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def header(store: LogStore, *, context: str, filtered: bool, now: datetime | None = None) -> str:
    window = store.time_window()
    if filtered:
        first, last = store.seq_at(0), store.seq_at(len(store) - 1)
        first_line = store.line(first) if first is not None else None
        last_line = store.line(last) if last is not None else None
        window = (first_line.ts, last_line.ts) if first_line and last_line else None
    flt: LogFilter = store.filter if filtered else LogFilter()
    lines = [
        "# etcdtui logs",
        f"# context: {context}",
        f"# members: {', '.join(store.members) or '-'}",
        f"# time window: {_iso(window[0]) + ' .. ' + _iso(window[1]) if window else '-'}",
        f"# filter: {flt.describe() if filtered else 'none (full buffer)'}",
        f"# lines: {len(store) if filtered else store.total_lines}; dropped from memory before saving: "
        f"{store.dropped_lines}",
        f"# saved: {(now or datetime.now(UTC)).isoformat(timespec='seconds')}",
    ]
    return "\n".join(lines) + "\n"


def _open_private(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_CREAT: force it
    return fd


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


async def save(store: LogStore, path: Path, *, context: str, filtered: bool) -> int:
    """Write the buffer; returns the number of lines written. Raises OSError with a clear message."""
    fd = await asyncio.to_thread(_open_private, path)
    count = 0
    try:
        await asyncio.to_thread(_write, fd, header(store, context=context, filtered=filtered).encode())
        seqs: Iterator[int | None]
        if filtered:
            seqs = (store.seq_at(row) for row in range(len(store)))
        else:
            seqs = iter(range(store.first_seq, store.next_seq))
        while True:
            out: list[str] = []
            for seq in seqs:
                line = store.line(seq) if seq is not None else None
                if line is not None:
                    out.append(f"{_iso(line.ts)} {line.member} {line.text}\n")
                if len(out) >= BATCH:
                    break
            if not out:
                break
            count += len(out)
            await asyncio.to_thread(_write, fd, "".join(out).encode("utf-8", "replace"))
    finally:
        os.close(fd)
    return count
