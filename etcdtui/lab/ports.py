"""Free TCP ports on loopback addresses, and a clear error when a wanted one is taken."""

from __future__ import annotations

import socket


class PortInUse(Exception):
    """A port the lab needs is taken (message is the one-line error for the user)."""


def free_port(host: str) -> int:
    """A port the kernel says is free on `host` right now (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
