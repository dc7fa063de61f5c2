"""Real data divergence for the lab: overwrite a value's bytes inside one member's bbolt file.

Same-length replacement keeps the bbolt page and the protobuf-encoded KeyValue valid, and bbolt has no
checksum on data pages, so etcd keeps serving the changed value and hashes it (etcd-lab.md §4, approach A).
The file is changed with positioned writes, never truncated or resized, so a running member's shared
mmap sees the new bytes at once.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

CHUNK = 1 << 20


def find_offsets(path: Path, needle: bytes) -> list[int]:
    """Every offset of `needle` in the file, read in chunks (a db can be large)."""
    offsets: list[int] = []
    overlap = len(needle) - 1
    with open(path, "rb") as fh:
        base = 0
        tail = b""
        while chunk := fh.read(CHUNK):
            data = tail + chunk
            start = 0
            while (i := data.find(needle, start)) != -1:
                offsets.append(base - len(tail) + i)
                start = i + 1
            tail = data[-overlap:] if overlap else b""
            base += len(chunk)
    return sorted(set(offsets))


def patch_value_in_file(path: Path, old: bytes, new: bytes) -> int:
    if len(old) != len(new):
        raise ValueError("replacement must have the same length")
    offsets = find_offsets(path, old)
    fd = os.open(path, os.O_RDWR)
    try:
        for off in offsets:
            os.pwrite(fd, new, off)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(offsets)


async def wait_for_bytes(path: Path, needle: bytes, *, within: float) -> bool:
    """Wait until etcd's backend commit (every 100 ms) has put `needle` into the file."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        try:
            if await asyncio.to_thread(find_offsets, path, needle):
                return True
        except FileNotFoundError:
            pass
        await asyncio.sleep(0.1)
    return False
