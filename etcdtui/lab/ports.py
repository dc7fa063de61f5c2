"""Free TCP ports on loopback addresses, and a clear error when a wanted one is taken."""

from __future__ import annotations

import random
import socket
from pathlib import Path


class PortInUse(Exception):
    """A port the lab needs is taken (message is the one-line error for the user)."""


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10000  # below: well-known and registered services people run on their machines


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux default 32768-60999)."""
    try:
        low, high = (int(n) for n in EPHEMERAL_RANGE_FILE.read_text().split()[:2])
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def lab_port_range() -> tuple[int, int]:
    """Ports the lab picks from: outside the ephemeral range, so a client's outgoing connection cannot take
    a port between the moment we pick it and the moment etcd binds it (the `bind: address already in use`
    seen when ports came from bind(0), i.e. from the ephemeral range)."""
    low, high = ephemeral_range()
    if low - 1 - LOWEST_PORT >= 1000:
        return LOWEST_PORT, low - 1
    return high + 1, 65535


def free_port(host: str, tries: int = 200) -> int:
    """A port free on `host` right now, at random from `lab_port_range()` (random: labs starting at the
    same moment rarely pick the same one; each pick is checked by binding it)."""
    low, high = lab_port_range()
    for _ in range(tries):
        port = random.randint(low, high)  # noqa: S311 - spreading picks, not security
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise PortInUse(f"no free port on {host} in {low}-{high} after {tries} tries")


def ensure_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUse(f"port {host}:{port} is already in use") from None


def accepts_connections(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
