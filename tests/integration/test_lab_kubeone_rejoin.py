"""Replacing a member on the lab the way the KubeOne guide does it, with the real OpenSSH client and the
lab's `bin/kubeone` in a real pseudo-terminal: `ssh ... sudo kubeadm reset --force` really removes the member
and wipes the node; with the Node still there KubeOne refuses (broken host); after the Node is deleted,
`kubeone apply` answered `yes` re-joins it: 3 healthy members with equal `endpoint hashkv` hashes, node and
static pod back.

The Node deletion goes straight to the lab's object store here (this lab has no API server); the full
procedure with kubectl drain/delete against the real daemon is test_lab_kubeone_procedure.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from _lab_nodes import SSH, NodeLab, PtyProcess, kubeone_argv, node_lab

from etcdtui.lab.kubeone import KUBERNETES_VERSION
from etcdtui.lab.layout import NAMESPACE, etcd_pod_name
from etcdtui.lab.objects import NotFound

pytestmark = pytest.mark.integration

PROMPT = "Do you want to proceed (yes/no): "
NODE = "lab-cp-2"


async def _members(lab: NodeLab) -> list[dict[str, object]]:
    rc, out, err = await lab.ring.run_etcdctl("member", "list", "-w", "json")
    assert rc == 0, err
    return list(json.loads(out)["members"])


async def _hashes(lab: NodeLab) -> dict[str, int]:
    """Hash per endpoint; {} while some endpoint does not answer yet (the caller polls)."""
    rc, out, _ = await lab.ring.run_etcdctl("endpoint", "hashkv", "--cluster", "-w", "json")
    return {entry["Endpoint"]: entry["HashKV"]["hash"] for entry in json.loads(out)} if rc == 0 else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _wait_for(predicate, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_reset_over_ssh_then_kubeone_apply_rejoins_the_node(tmp_path: Path) -> None:
    if SSH is None:
        pytest.fail("the OpenSSH client `ssh` is not installed: apt-get install openssh-client")
    async with node_lab(tmp_path / "lab") as lab:
        old = lab.ring.member(NODE)
        assert old.pid is not None and old.member_id is not None

        # 1. kubeadm reset over real ssh: kubeadm's output, and the node is really reset.
        rc, out, err = await lab.ssh(NODE, "sudo kubeadm reset --force")
        assert rc == 0, err
        assert "Failed to remove etcd member" not in err
        lines = out.splitlines()
        assert lines[:3] == [
            '[reset] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...',
            "[reset] Use 'kubeadm init phase upload-config --config your-config.yaml' to re-upload it.",
            "[preflight] Running pre-flight checks",
        ]
        assert "[reset] Deleted contents of the etcd data directory: /var/lib/etcd" in lines
        assert "[reset] Stopping the kubelet service" in lines
        assert "network filtering rules and kubeconfig files." in lines
        names = [m["name"] for m in await _members(lab)]
        assert sorted(names) == ["lab-cp-1", "lab-cp-3"]
        assert not _pid_alive(old.pid)
        assert not any(old.data_dir.glob("member/wal/*.wal"))
        with pytest.raises(NotFound):
            lab.ring.store.get("Pod", NAMESPACE, etcd_pod_name(NODE))
        ready = [c for c in lab.ring.store.get("Node", "", NODE)["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] != "True"

        # 2. A second reset is harmless and says there is nothing left to remove; the node still answers.
        rc, out, err = await lab.ssh(NODE, "sudo kubeadm reset -f && hostname")
        assert rc == 0, err
        assert "No kubeadm config" in out and out.endswith(f"{NODE}\n")
        assert len(await _members(lab)) == 2

        # 3. With its Node object still there, KubeOne calls the host broken and does nothing.
        kubeone = kubeone_argv(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json")
        proc = await asyncio.create_subprocess_exec(
            *kubeone, "--auto-approve", cwd=lab.layout.root,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, kerr = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 15, kerr
        assert f'Host \\"{NODE}\\" is broken and needs to be manually removed' in kerr.decode()
        assert kerr.decode().endswith("Error: broken host(s) found, remove it manually\n")

        # 4. Delete the Node (kubectl delete node), then apply in a terminal, answered `yes`.
        lab.ring.store.delete("Node", "", NODE)
        pty = await PtyProcess.start(kubeone, lab.layout.root)
        screen = await pty.read_until(PROMPT, 60)
        ip = lab.ring.member(NODE).host_ip
        assert screen.endswith(
            "The following actions will be taken: \n"
            "Run with --verbose flag for more information.\n"
            f'\t+ join control plane node "{NODE}" ({ip}) using {KUBERNETES_VERSION}\n'
            "\n" + PROMPT
        )
        assert "initialize control plane node" not in screen
        pty.type("yes\n")
        rc, _, kerr = await pty.finish(120)
        assert rc == 0, kerr
        assert "Joining control plane node" in kerr

        # 5. Back: three started members, equal hashes, node Ready, static pod Running with a fresh member.
        members = await _members(lab)
        assert sorted(m["name"] for m in members) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert not any(m.get("isLearner") for m in members)

        async def hashes_equal() -> bool:
            hashes = await _hashes(lab)
            return len(hashes) == 3 and len(set(hashes.values())) == 1

        await _wait_for(hashes_equal, 20, "equal hashkv on all three members")
        node = lab.ring.store.get("Node", "", NODE)
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        pod = lab.ring.store.get("Pod", NAMESPACE, etcd_pod_name(NODE))
        assert pod["spec"]["nodeName"] == NODE
        assert "--initial-cluster-state=existing" in pod["spec"]["containers"][0]["command"]
        new = lab.ring.member(NODE)
        assert new.running and new.pid != old.pid and new.member_id != old.member_id


async def test_apply_answered_no_changes_nothing(tmp_path: Path) -> None:
    async with node_lab(tmp_path / "lab", bastion=True) as lab:
        before = {n: lab.ring.member(n).pid for n in lab.ring.nodes}
        pty = await PtyProcess.start(
            kubeone_argv(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "--force-upgrade"), lab.layout.root
        )
        screen = await pty.read_until(PROMPT, 60)
        for n in lab.ring.nodes:
            assert f'\t~ force upgrade control plane node "{n}" ({lab.ring.member(n).host_ip}): v' in screen
        pty.type("no\n")
        rc, _, err = await pty.finish(60)
        assert rc == 0, err
        assert 'msg="Operation canceled."' in err
        assert {n: lab.ring.member(n).pid for n in lab.ring.nodes} == before


async def test_apply_removes_a_member_that_reset_left_behind(tmp_path: Path) -> None:
    """kubeadm reset only warns when it cannot remove the member; KubeOne's repair step removes it."""
    async with node_lab(tmp_path / "lab") as lab:
        await lab.ring.stop_and_wipe(NODE)  # the node is reset, but its member is still in the ring
        lab.ring.store.delete("Node", "", NODE)
        assert NODE in [m["name"] for m in await _members(lab)]
        proc = await asyncio.create_subprocess_exec(
            *kubeone_argv(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "-y"), cwd=lab.layout.root,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err
        assert PROMPT not in out.decode()
        assert f"removing etcd member \\\"{NODE}\\\", for it's not alive" in err.decode()
        members = await _members(lab)
        assert sorted(m["name"] for m in members) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert lab.ring.member(NODE).running
