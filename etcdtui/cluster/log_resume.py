"""Resuming a dropped log stream without losing or repeating lines (stern's method): timestamps and the lines seen at the last one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Resume:
    """Stern's de-duplication: the last timestamp seen and the lines seen at exactly that timestamp."""

    def __init__(self) -> None:
        self.last_ts: bytes | None = None  # the RFC3339Nano prefix as sent by the server
        self.at_last: set[bytes] = set()

    def seen(self, line: bytes) -> None:
        ts = ts_prefix(line)
        if ts is None:
            return
        if ts != self.last_ts:
            self.last_ts = ts
            self.at_last = set()
        self.at_last.add(line)

    def is_duplicate(self, line: bytes) -> bool:
        ts = ts_prefix(line)
        if ts is None or self.last_ts is None:
            return False
        if _ts_key(ts) < _ts_key(self.last_ts):
            return True
        return ts == self.last_ts and line in self.at_last

    def since_time(self) -> str | None:
        if self.last_ts is None:
            return None
        return self.last_ts.decode()[:19] + "Z"  # whole seconds: what every API server accepts


@dataclass(frozen=True)
class ResumePoint:
    resume: Resume
    container_id: str | None


def ts_prefix(line: bytes) -> bytes | None:
    space = line.find(b" ", 0, 40)
    if space < 20 or line[4:5] != b"-":
        return None
    return line[:space]


def _ts_key(ts: bytes) -> tuple[bytes, bytes]:
    """Sort key of an RFC3339Nano UTC stamp: seconds part, then the fraction padded to 9 digits."""
    head, _, frac = ts.rstrip(b"Z").partition(b".")
    return head, frac.ljust(9, b"0")


def epoch_of(ts: bytes) -> float | None:
    try:
        return datetime.fromisoformat(ts.decode()).timestamp()
    except ValueError:
        return None


def epoch_after(ts: bytes) -> float | None:
    epoch = epoch_of(ts)
    return epoch + 1e-6 if epoch is not None else None
