"""Reading saved logs for `scan-logs`: files or stdin in large binary chunks, lines cut at MAX_LINE, byte stripes for workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from etcdtui.core.scan_digest import Digest, digest_block

CHUNK = 4 << 20  # bytes per read
MAX_LINE = 1 << 20  # longer lines are cut (binary garbage without newlines must not fill memory)


class InputError(Exception):
    """A file that cannot be scanned: one line for the operator, exit code 3."""


class WorkerDied(Exception):
    """A worker process ended without a result (killed, e.g. by the OOM killer)."""


# --- reading -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Source:
    label: str  # what the report calls it: the path as given, or "stdin"
    member: str
    path: str | None  # None = stdin


def sources_for(files: list[str], member: str | None) -> list[Source]:
    if files.count("-") > 1:
        raise InputError("'-' (stdin) can be given only once")
    result = []
    for name in files:
        if name == "-":
            result.append(Source("stdin", member or "stdin", None))
            continue
        _check_readable(name)
        result.append(Source(name, member or Path(name).stem, name))
    return result


def _check_readable(name: str) -> None:
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{name}: is a directory, expected a log file")
    if not path.exists():
        raise InputError(f"{name}: no such file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None


def read_blocks(stream: Readable) -> Iterator[tuple[bytes | None, int, int]]:
    """Yield (complete lines joined by newlines or None if there is none yet, bytes read, lines cut):
    `read_regions` with each region copied out of the reused buffer."""
    for data, end, nbytes, cut in read_regions(stream):
        yield (None if data is None else bytes(data[:end])), nbytes, cut


def read_regions(stream: Readable) -> Iterator[tuple[bytes | bytearray | None, int, int, int]]:
    """Yield (data or None if no line is complete yet, end, bytes read, lines cut): `data[:end]` holds
    complete lines joined by newlines, valid until the next step (one buffer is reused: no new memory
    per read).

    Memory stays near CHUNK + MAX_LINE: a line longer than MAX_LINE bytes is cut there (its head is kept,
    the rest dropped and the cut counted), e.g. binary garbage without newlines. Where the reads fall
    does not change what is cut, so a file read in stripes gives the same lines as read whole.
    """
    buffer = bytearray(CHUNK + MAX_LINE + 1)
    view = memoryview(buffer)
    held = 0  # bytes of an unfinished line kept at the front of the buffer
    skipping = False  # inside an over-long line whose head was already emitted
    try:
        while True:
            nbytes = stream.readinto(view[held : held + CHUNK]) or 0
            if not nbytes:
                break
            total = held + nbytes
            if skipping:  # held is 0
                newline = buffer.find(b"\n", 0, total)
                if newline < 0:
                    yield None, 0, nbytes, 0
                    continue
                total -= newline + 1
                buffer[:total] = bytes(view[newline + 1 : newline + 1 + total])  # (no overlapping copy)
                skipping = False
            end = buffer.rfind(b"\n", 0, total)
            data, region_end, cut = _cut_long_lines(buffer, end) if end > MAX_LINE else (buffer, end, 0)
            if total - end - 1 > MAX_LINE:  # the unfinished line is already too long: emit its head
                head = view[end + 1 : end + 1 + MAX_LINE]
                if data is buffer:  # the head follows the lines in the buffer
                    region_end = end + 1 + MAX_LINE
                else:
                    data = bytes(data[:region_end]) + b"\n" + bytes(head)
                    region_end = len(data)
                held, skipping = 0, True
                yield data, region_end, nbytes, cut + 1
                continue
            if end < 0:
                held = total
                yield None, 0, nbytes, 0
                continue
            yield data, region_end, nbytes, cut
            held = total - end - 1
            buffer[:held] = bytes(view[end + 1 : total])  # the unfinished line (short) to the front
        if held:
            yield buffer, held, 0, 0
    finally:
        view.release()


def _cut_long_lines(data: bytes | bytearray, end: int) -> tuple[bytes | bytearray, int, int]:
    """Cut the lines of `data[:end]` that are longer than MAX_LINE: (data, end, lines cut). The common
    case (no such line) is checked with a few C-speed rfinds and returns `data` as it is."""
    pos = kept_from = 0
    parts: list[bytes] = []
    while end - pos > MAX_LINE:
        newline = data.rfind(b"\n", pos, pos + MAX_LINE + 1)
        if newline >= 0:  # every line that starts before it is short enough
            pos = newline + 1
            continue
        parts.append(bytes(data[kept_from : pos + MAX_LINE]))
        newline = data.find(b"\n", pos + MAX_LINE, end)
        kept_from = pos = end if newline < 0 else newline  # from its newline on
    if not parts:
        return data, end, 0
    parts.append(bytes(data[kept_from:end]))
    joined = b"".join(parts)
    return joined, len(joined), len(parts) - 1


class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class Stripe:
    """A byte range of an open file, read with pread (each worker keeps its own offset)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def readinto(self, buffer: memoryview, /) -> int:
        size = min(len(buffer), self.end - self.pos)
        if size <= 0:
            return 0
        read = os.preadv(self.fd, [buffer[:size]], self.pos)
        self.pos += read
        return read


def line_start(fd: int, pos: int, size: int) -> int:
    """The first line start at or after `pos`: a line belongs to the stripe its first byte is in."""
    if pos <= 0:
        return 0
    pos -= 1  # a line starts at pos if the byte before it is a newline
    while pos < size:
        piece = os.pread(fd, min(1 << 16, size - pos), pos)
        if not piece:
            break
        newline = piece.find(b"\n")
        if newline >= 0:
            return pos + newline + 1
        pos += len(piece)
    return size


def digest_stripe(path: str, start: int, end: int, size: int) -> tuple[list[Digest], int, int]:
    """Worker task: digest the lines that start in [start, end) of a file of `size` bytes.
    Returns (digests in order, bytes read, lines cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        low, high = line_start(fd, start, size), line_start(fd, end, size)
        digests, nbytes, cut = [], 0, 0
        for data, end, read, cut_here in read_regions(Stripe(fd, low, high)):
            nbytes += read
            cut += cut_here
            if data is not None:
                digests.append(digest_block(data, end))
        return digests, nbytes, cut
    finally:
        os.close(fd)
