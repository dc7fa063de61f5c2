"""Helpers for the lab tests: run the real `etcdtui` CLI, kubectl and etcdctl as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
KUBECTL = shutil.which("kubectl")


def etcdtui(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdtui", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def kubectl(kubeconfig: Path, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine: the kubectl checks cannot run here")
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def kubectl_json(kubeconfig: Path, *args: str) -> Any:
    result = kubectl(kubeconfig, *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def lab_status(root: Path) -> dict[str, Any]:
    result = etcdtui("lab", "status", "--dir", str(root), "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def etcdctl(root: Path, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real etcdctl against one member, with that node's healthcheck-client cert (like kubeadm's)."""
    from etcdtui.lab.etcd_binary import resolve_etcd

    member = next(m for m in lab_status(root)["members_status"] if m["node"] == node)
    pki = root / "nodes" / node / "pki-etcd"
    argv = [
        str(resolve_etcd(None).etcdctl), f"--endpoints={member['client_url']}", f"--cacert={pki / 'ca.crt'}",
        f"--cert={pki / 'healthcheck-client.crt'}", f"--key={pki / 'healthcheck-client.key'}", *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def wait_for(check: Callable[[], T | None], *, within: float, what: str, every: float = 0.25) -> T:
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"not within {within:.0f} s: {what}")


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the documented failure shape: exit 1, exactly one line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def etcd_messages(log_text: str) -> list[str]:
    """The `msg` field of every zap JSON line (non-JSON lines, e.g. grpc warnings, are skipped)."""
    out = []
    for line in log_text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            entry = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(entry, dict) and "msg" in entry:
            out.append(str(entry["msg"]))
    return out


def journal_records(state: Path, prefix: str) -> list[dict[str, Any]]:
    """The unfinished `<prefix>-<cluster>.jsonl` journal's records in `state` (a torn last line skipped)."""
    files = [f for f in state.glob(f"{prefix}-*.jsonl") if not f.name.endswith((".done.jsonl", ".abandoned.jsonl"))]
    if not files:
        return []
    records = []
    for line in files[0].read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def kill_during(proc: subprocess.Popen[bytes], records: Callable[[], list[dict[str, Any]]], step: object, log: Path,
                text: str | None = None) -> None:
    """SIGKILL a headless procedure (its whole process group, as a crash of the machine running it would) while
    `step` runs: once its journal (`records()`) says it is running, and `text` is in its output when given."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        mine = [r for r in records() if r.get("step") == step]
        if mine and mine[-1].get("status") == "running" and (text is None or text in log.read_text()):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            after = [r for r in records() if r.get("step") == step]
            assert after[-1].get("status") == "running", f"{step} finished before the kill: {after}"
            return
        assert proc.poll() is None, log.read_text()
        time.sleep(0.005)
    raise AssertionError(f"{step} never ran: {log.read_text()}")
