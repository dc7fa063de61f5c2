"""`etcdtui` / `etcdtui ui` before the app starts: every connection or config problem is one stderr line and
exit 3, never a traceback. Real processes, real files, a real closed port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdtui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode == 3, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_missing_kubeconfig(tmp_path: Path) -> None:
    _one_line_error(_run("--kubeconfig", str(tmp_path / "missing")), "no such file")


def test_no_subcommand_opens_the_ui_path(tmp_path: Path) -> None:
    # Plain `etcdtui` with no kubeconfig anywhere reaches the UI launcher and says what is missing.
    env = {"KUBECONFIG": "", "HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": ""}
    _one_line_error(_run(env=env), "kubeconfig")


def test_garbage_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(":: not yaml [")
    _one_line_error(_run("ui", "--kubeconfig", str(path)), "kubeconfig")


def _kubeconfig(path: Path, server: str, context: str = "c1") -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n"
        "users:\n- name: u\n  user:\n    token: not-a-real-token\n"
        f"contexts:\n- name: {context}\n  context:\n    cluster: k\n    user: u\n"
        f"current-context: {context}\n"
    )
    return path


def test_unknown_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1")
    _one_line_error(_run("--kubeconfig", str(path), "--context", "nope"), "nope")


def test_unreachable_api_server(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = _kubeconfig(tmp_path / "kubeconfig", f"https://127.0.0.1:{port}")
    _one_line_error(_run("--kubeconfig", str(path)), "127.0.0.1")


def test_bad_config_file(tmp_path: Path) -> None:
    (tmp_path / "etcdtui").mkdir()
    (tmp_path / "etcdtui" / "config.yaml").write_text("theme: neon\n")
    _one_line_error(_run("ui", env={"XDG_CONFIG_HOME": str(tmp_path)}), "unknown theme 'neon'")


def test_bad_poll_interval() -> None:
    done = _run("ui", "--poll-interval", "0")
    assert done.returncode == 3 and "--poll-interval" in done.stderr and "Traceback" not in done.stderr


def test_fleet_without_a_terminal_or_kubeconfig_is_one_line(tmp_path: Path) -> None:
    _one_line_error(_run("--all-contexts", "--kubeconfig", str(tmp_path / "missing")), "no such file")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n"
                          "contexts: [{name: a, context: {}}, {name: b, context: {}}]\n")
    _one_line_error(_run("--context", "a", "--context", "b", "--kubeconfig", str(kubeconfig)), "needs a terminal")
    config = tmp_path / "config" / "etcdtui"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text("fleet: {contexts: ['nomatch-*']}\n")
    _one_line_error(_run("--kubeconfig", str(kubeconfig), env={"XDG_CONFIG_HOME": str(tmp_path / "config")}),
                    "no context matches fleet.contexts")
