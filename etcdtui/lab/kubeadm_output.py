"""How the lab's `kubeadm` talks: the stream callbacks and klog warning lines (shared by reset and join, so
neither imports the other's module)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import datetime

Write = Callable[[str], Awaitable[None]]
ReadLine = Callable[[], Awaitable[str]]


def klog_warning(source: str, message: str) -> str:
    """A klog warning line (`W1124 11:40:01.123456   4242 file.go:123] msg`), as kubeadm writes to stderr."""
    now = datetime.now()
    return f"W{now:%m%d %H:%M:%S}.{now.microsecond:06d} {os.getpid():>7} {source}] {message}\n"
