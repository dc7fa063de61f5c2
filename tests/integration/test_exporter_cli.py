"""`etcdtui exporter` refusing to start: one line on stderr, exit 3, never a traceback (no cluster needed)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def exporter(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etcdtui", "exporter", *args], capture_output=True, text=True,
                          timeout=30, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(env_home),
                                                        "PYTHONPATH": ":".join(sys.path)})


def one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_bad_listen_address(tmp_path: Path) -> None:
    one_line(exporter("--listen", "localhost", env_home=tmp_path), "ADDR:PORT")
    one_line(exporter("--listen", "example.com:9975", env_home=tmp_path), "IP address")
    one_line(exporter("--interval", "0", env_home=tmp_path), "between 1 and 3600")


def test_no_kubeconfig_and_not_in_a_pod(tmp_path: Path) -> None:
    one_line(exporter(env_home=tmp_path), "etcdtui exporter:", "no kubeconfig")


def test_port_taken(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        one_line(exporter("--kubeconfig", str(lab.kubeconfig), "--listen", f"127.0.0.1:{port}", env_home=tmp_path),
                 f"cannot listen on 127.0.0.1:{port}")
