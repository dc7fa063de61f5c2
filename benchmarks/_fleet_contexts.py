"""Extra kubeconfig contexts for fleet benchmarks and tests: an API that refuses, one that hangs (accepts TCP
and never answers), and one that rejects the credentials (a real lab with a wrong token)."""

from __future__ import annotations

import copy
import socket
from pathlib import Path
from typing import Any

import yaml


class HangingServer:
    """A loopback listener whose connections the kernel accepts and nobody ever answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


def refused_port() -> int:
    """A port nothing listens on (bound without listen, then released: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_broken_contexts(kubeconfig: dict[str, Any], *, refused: int | None, hanging: int | None,
                         bad_token: bool = False) -> dict[str, Any]:
    """`kubeconfig` plus contexts `refusing`, `hanging` and `bad-token` modelled on its first context."""
    doc = copy.deepcopy(kubeconfig)
    cluster = doc["clusters"][0]
    user = doc["users"][0]
    extra: list[tuple[str, str, dict[str, Any]]] = []
    if refused is not None:
        extra.append(("refusing", f"https://127.0.0.1:{refused}", user["user"]))
    if hanging is not None:
        extra.append(("hanging", f"https://127.0.0.1:{hanging}", user["user"]))
    if bad_token:
        extra.append(("bad-token", cluster["cluster"]["server"], {"token": "not-the-lab-token"}))
    for name, server, credentials in extra:
        doc["clusters"].append({"name": name, "cluster": {**cluster["cluster"], "server": server}})
        doc["users"].append({"name": name, "user": credentials})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    return doc


def write_kubeconfig(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path
