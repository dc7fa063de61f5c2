"""The `Ring` API that kubeadm reset and kubeone use, in-process on a real 3-member ring:
remove + wipe + join (a node replaced for real), restart with new flags, and the etcd pod's exec mapping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from etcdtui.lab.etcd_binary import resolve_etcd
from etcdtui.lab.lab_process import process_alive
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.objects import ExecRefused, ObjectStore
from etcdtui.lab.ring import Ring
from etcdtui.lab.ring_member import RingError, UnknownNode
from etcdtui.lab.run_argv import run_argv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NS = "kube-system"


@pytest.fixture
async def ring(tmp_path: Path) -> AsyncIterator[Ring]:
    started = Ring(LabLayout(tmp_path), ObjectStore(), resolve_etcd(None))
    await started.start()
    pids = [p for p in started.pids().values() if p]
    try:
        yield started
    finally:
        await started.stop()
        pids += [p for p in started.pids().values() if p]
        assert not [p for p in pids if process_alive(p)], "ring.stop() left etcd running"


def _node_ready(ring: Ring, node: str) -> str:
    conditions = ring.store.get("Node", "", node)["status"]["conditions"]
    return str(next(c["status"] for c in conditions if c["type"] == "Ready"))


async def test_reset_then_join_replaces_the_member(ring: Ring) -> None:
    old = ring.member("lab-cp-2")
    assert old.running and old.member_id and old.host_ip == "127.0.1.2"

    assert await ring.remove_member("lab-cp-2")
    await ring.stop_and_wipe("lab-cp-2")
    reset = ring.member("lab-cp-2")
    assert reset.reset and not reset.running and reset.pid is None and not reset.data_dir.exists()
    assert ring.store.find("Pod", NS, "etcd-lab-cp-2") is None
    assert _node_ready(ring, "lab-cp-2") != "True"
    assert not process_alive(old.pid or 0)
    ring.store.delete("Node", "", "lab-cp-2")  # `kubectl delete node` while it is reset
    assert not await ring.remove_member("lab-cp-2")  # no longer a member

    # KubeOne's flags; etcd 3.5.1 has no compact hash check and refuses unknown flags, so the ring drops it.
    ring.set_default_flags(["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m",
                            "--experimental-compact-hash-check-enabled=true"])
    await ring.join("lab-cp-2")
    new = ring.member("lab-cp-2")
    assert new.running and not new.reset and new.member_id and new.member_id != old.member_id
    assert _node_ready(ring, "lab-cp-2") == "True"
    command = ring.store.get("Pod", NS, "etcd-lab-cp-2")["spec"]["containers"][0]["command"]
    assert "--initial-cluster-state=existing" in command
    assert "--experimental-initial-corrupt-check=true" in command
    assert not any("compact-hash-check" in arg for arg in command)

    # Retried: on a busy 2-core machine a member can miss etcdctl's 5 s deadline right after joining.
    for _ in range(5):
        rc, out, err = await ring.run_etcdctl("endpoint", "hashkv", "--cluster", "-w", "json")
        if rc == 0:
            break
        await asyncio.sleep(1)
    assert rc == 0, err
    hashes = {entry["HashKV"]["hash"] for entry in json.loads(out)}
    assert len(json.loads(out)) == 3 and len(hashes) == 1


async def test_restart_with_flags_changes_the_real_command_line(ring: Ring) -> None:
    before = ring.store.get("Pod", NS, "etcd-lab-cp-1")
    old_pid = ring.member("lab-cp-1").pid
    await ring.restart_with_flags("lab-cp-1", ["--experimental-corrupt-check-time=240m"])
    after = ring.store.get("Pod", NS, "etcd-lab-cp-1")
    assert after["metadata"]["uid"] != before["metadata"]["uid"]  # a new static pod, as kubelet does
    assert "--experimental-corrupt-check-time=240m" in after["spec"]["containers"][0]["command"]
    info = ring.member("lab-cp-1")
    assert info.pid != old_pid and info.running and ring.healthy("lab-cp-1")
    cmdline = await asyncio.to_thread(Path(f"/proc/{info.pid}/cmdline").read_bytes)
    assert b"--experimental-corrupt-check-time=240m" in cmdline  # the process really runs with it
    assert ring.corrupt_checks_flags() == []  # members started from now on keep the lab's default (off)


async def test_exec_maps_kubeadm_paths_and_refuses_other_programs(ring: Ring) -> None:
    resolve = ring.store.runtimes[(NS, "etcd-lab-cp-3")].exec_resolver
    assert resolve is not None
    argv, env = resolve([
        "etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
        "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key", "endpoint", "status", "-w", "json",
    ])
    assert argv[0] == str(ring.etcdctl_path) and "/etc/kubernetes" not in " ".join(argv)
    rc, out, err = await run_argv(argv)
    assert rc == 0, err
    assert json.loads(out)[0]["Status"]["version"] == ring.etcd_version
    for refused in (["ls", "/"], ["sh", "-c", "etcdctl member list"], ["etcd", "--data-dir=/tmp/x"]):
        with pytest.raises(ExecRefused):
            resolve(refused)


async def test_unknown_nodes_and_stopped_members_are_clear_errors(ring: Ring) -> None:
    with pytest.raises(UnknownNode, match=r"unknown node 'lab-cp-7' \(lab nodes: lab-cp-1, lab-cp-2, lab-cp-3\)"):
        ring.member("lab-cp-7")
    with pytest.raises(UnknownNode):
        await ring.kill("etcd-lab-cp-1")
    await ring.stop_and_wipe("lab-cp-3")
    with pytest.raises(RingError, match="not running"):
        await ring.corrupt("lab-cp-3")


async def test_corruption_with_checks_off_is_caught_once_the_startup_check_is_on(ring: Ring) -> None:
    """The enable flow has real work to do: with checks off nothing notices, the startup check then refuses."""
    await ring.corrupt("lab-cp-2")
    rc, out, err = await ring.run_etcdctl("alarm", "list")
    assert rc == 0 and "CORRUPT" not in out, err  # no periodic check runs, so no alarm
    with pytest.raises(RingError, match="found data inconsistency with peers"):
        await ring.restart_with_flags("lab-cp-2", ["--experimental-initial-corrupt-check=true"])
    runtime = ring.store.runtimes[(NS, "etcd-lab-cp-2")]
    assert runtime.current is not None
    log = await asyncio.to_thread(runtime.current.log_path.read_text)
    assert '"msg":"found different hash values from remote peer"' in log
