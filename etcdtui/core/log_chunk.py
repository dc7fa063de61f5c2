"""Columnar chunks of log lines; a full chunk is sealed (zlib) so a million retained lines cost tens of MB."""

from __future__ import annotations

import zlib
from array import array

CHUNK = 4096  # lines per chunk
CHUNK_COST = 1_000  # unpacking a chunk costs about as much as searching this many lines


class Chunk:
    """CHUNK lines, columnar. Once full it is sealed: the texts are joined and zlib-compressed (etcd's
    JSON lines compress about 8:1), so a million retained lines cost tens of MB, not hundreds."""

    __slots__ = ("first", "texts", "ts", "members", "levels", "nbytes", "packed", "ends", "count")

    def __init__(self, first: int) -> None:
        self.first = first
        self.texts: list[str] | None = []
        self.ts = array("d")
        self.members = array("B")
        self.levels = array("b")
        self.nbytes = 0
        self.packed: bytes | None = None
        self.ends: array[int] | None = None  # end offset of each line in the joined text
        self.count = 0

    def seal(self) -> None:
        texts = self.texts
        if texts is None:
            return
        ends: array[int] = array("I")
        pos = 0
        for text in texts:
            pos += len(text)
            ends.append(pos)
        self.packed = zlib.compress("".join(texts).encode("utf-8", "surrogatepass"), 1)
        self.ends = ends
        self.texts = None

    def unpack(self) -> list[str]:
        if self.texts is not None:
            return self.texts
        assert self.packed is not None and self.ends is not None
        joined = zlib.decompress(self.packed).decode("utf-8", "surrogatepass")
        out: list[str] = []
        start = 0
        for end in self.ends:
            out.append(joined[start:end])
            start = end
        return out
