"""Faults on demand: `lab kill` (kubelet-like restart), `lab corrupt` (real etcd corruption detection),
`lab api-outage` and `lab load`, each on a lab of its own."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from _lab_cli import etcd_messages, etcdctl, etcdtui, kubectl, kubectl_json, lab_status, wait_for
from conftest import RunningLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

# Corruption evidence etcd itself logs (matched on `msg`, never on `caller`): leader's periodic check, the
# alarm, and the startup check of a restarted member.
CORRUPTION_MSGS = {
    "same compact revision then hashes must match",
    "found different hash values from remote peer",
    "alarm raised",
}


def _etcd_pod(lab: RunningLab, node: str) -> dict[str, Any]:
    return dict(kubectl_json(lab.kubeconfig, "get", "pod", "-n", "kube-system", f"etcd-{node}"))


def _leader(lab: RunningLab) -> str:
    out = etcdctl(lab.root, "lab-cp-1", "endpoint", "status", "--cluster", "-w", "json")
    statuses = json.loads(out.stdout)
    leader_id = statuses[0]["Status"]["leader"]
    members = json.loads(etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json").stdout)["members"]
    return next(str(m["name"]) for m in members if m["ID"] == leader_id)


def test_kill_restarts_with_backoff_and_keeps_previous_logs(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab()
    before = lab_status(lab.root)["members_status"][1]
    assert before["node"] == "lab-cp-2" and before["pid"]

    result = etcdtui("lab", "kill", "lab-cp-2", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr

    def restarted() -> dict[str, Any] | None:
        status = _etcd_pod(lab, "lab-cp-2")["status"]["containerStatuses"][0]
        return status if status["restartCount"] >= 1 and status["ready"] else None

    status = wait_for(restarted, within=20, what="etcd-lab-cp-2 restarted and ready")
    terminated = status["lastState"]["terminated"]
    assert terminated["exitCode"] == 137 and terminated["reason"] == "Error"
    after = lab_status(lab.root)["members_status"][1]
    assert after["pid"] != before["pid"] and after["healthy"]

    previous = kubectl(lab.kubeconfig, "logs", "-n", "kube-system", "etcd-lab-cp-2", "--previous")
    assert previous.returncode == 0, previous.stderr
    assert "ready to serve client requests" in etcd_messages(previous.stdout)
    current = kubectl(lab.kubeconfig, "logs", "-n", "kube-system", "etcd-lab-cp-2")
    assert current.stdout != previous.stdout and etcd_messages(current.stdout)[0] == "Running: "


def test_corrupt_with_checks_on_is_detected_by_etcd(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab(corrupt_checks="on")
    command = _etcd_pod(lab, "lab-cp-2")["spec"]["containers"][0]["command"]
    assert "--experimental-initial-corrupt-check=true" in command
    leader = _leader(lab)
    victim = "lab-cp-2" if leader != "lab-cp-2" else "lab-cp-3"

    result = etcdtui("lab", "corrupt", victim, "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    started = time.monotonic()

    DETECTION = {"same compact revision then hashes must match", "found different hash values from remote peer"}  # noqa: N806

    def evidence() -> set[str] | None:
        found: set[str] = set()
        for node in {leader, victim}:
            logs = kubectl(lab.kubeconfig, "logs", "-n", "kube-system", f"etcd-{node}")
            found |= CORRUPTION_MSGS & set(etcd_messages(logs.stdout))
        # Wait for the detection line itself: the victim's `alarm raised` can be read before the leader's log
        # (read first) shows the mismatch it logged just before raising the alarm.
        return found if found & DETECTION else None

    found = wait_for(evidence, within=30, what="corruption evidence in the victim's or leader's log", every=1)
    assert found & DETECTION
    alarms = wait_for(
        lambda: (out := etcdctl(lab.root, leader, "alarm", "list").stdout) and "alarm:CORRUPT" in out and out,
        within=max(1.0, 30 - (time.monotonic() - started)), what="etcdctl alarm list shows CORRUPT",
    )
    assert "CORRUPT" in alarms

    # A restart of the corrupted member meets etcd's startup check, which refuses to start (CrashLoopBackOff).
    assert etcdtui("lab", "kill", victim, "--dir", str(lab.root)).returncode == 0

    def startup_check_failed() -> bool:
        logs = kubectl(lab.kubeconfig, "logs", "-n", "kube-system", f"etcd-{victim}")
        return "found different hash values from remote peer" in etcd_messages(logs.stdout)

    wait_for(startup_check_failed, within=20, what="the startup check fails on the restarted victim")


def _refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_api_outage_then_same_state(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab(members=1)
    port = lab.state["api"]["port"]
    uids = {p["metadata"]["uid"] for p in kubectl_json(lab.kubeconfig, "get", "pods", "-A")["items"]}
    result = etcdtui("lab", "api-outage", "2", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    assert _refuses(port)
    assert lab_status(lab.root)["api_up"] is False
    wait_for(lambda: not _refuses(port), within=10, what="the API listens again")
    assert lab_status(lab.root)["api_up"] is True
    after = {p["metadata"]["uid"] for p in kubectl_json(lab.kubeconfig, "get", "pods", "-A")["items"]}
    assert uids <= after


def test_load_moves_revisions(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab(members=1)
    # 5 s: long enough for two compaction rounds (every 2 s, once 20 revisions exist) on a loaded machine too
    result = etcdtui("lab", "load", "--seconds", "5", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    puts, failed, compactions, revision = map(int, re.findall(r"\d+", result.stdout)[:4])
    assert puts >= 20 * 20 and failed == 0 and compactions >= 1, result.stdout  # one txn of 20 puts per revision
    status = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "status", "-w", "json").stdout)[0]["Status"]
    assert status["header"]["revision"] >= revision >= puts // 20
    hashkv = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "hashkv", "-w", "json").stdout)[0]["HashKV"]
    assert hashkv.get("compact_revision", 0) > 0, "load compacts as it writes"
