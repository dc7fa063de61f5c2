"""Acceptance: the KubeOne guide's manual replacement of a member, end to end on a real `etcdtui lab`
(daemon, etcd ring, HTTPS API, ssh nodes + bastion), with the real tools an operator types:

    kubectl drain --ignore-daemonsets --delete-emptydir-data lab-cp-2
    ssh -F <lab>/ssh_config lab-cp-2 sudo kubeadm reset --force
    kubectl delete node lab-cp-2
    kubeone apply -m kubeone.yaml -t tf.json        (in a terminal, answered `yes`)

then 3 healthy members with equal `endpoint hashkv` hashes, and the node and its etcd pod back.
Its own lab (the procedure is destructive); `lab down` must leave no process behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from _lab_nodes import PtyProcess

pytestmark = pytest.mark.integration

NODE = "lab-cp-2"
PROMPT = "Do you want to proceed (yes/no): "
ETCDCTL = [
    "etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
    "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt", "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
]


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed on this machine ({package}); this acceptance test needs it")
    return path


def _alive(pid: int) -> bool:
    """Running, not a zombie (a detached daemon's parent here may be an init that does not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def _run(*argv: str, env: dict[str, str] | None = None, within: float = 120) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), within)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_manual_member_replacement_with_kubectl_ssh_and_kubeone(tmp_path: Path) -> None:
    kubectl = _tool("kubectl", "kubectl v1.32")
    ssh = _tool("ssh", "apt-get install openssh-client")
    lab_dir = tmp_path / "lab"
    rc, out, err = await _run(sys.executable, "-m", "etcdtui", "lab", "up", "--dir", str(lab_dir), within=60)
    assert rc == 0, err
    try:
        env = {"KUBECONFIG": str(lab_dir / "kubeconfig")}

        async def kc(*args: str) -> tuple[int, str, str]:
            return await _run(kubectl, *args, env=env)

        rc, out, err = await kc("drain", "--ignore-daemonsets", "--delete-emptydir-data", NODE)
        assert rc == 0, err
        assert f"node/{NODE} drained" in out

        rc, out, err = await _run(ssh, "-F", str(lab_dir / "ssh_config"), NODE, "sudo", "kubeadm", "reset", "--force")
        assert rc == 0, err
        assert "[reset] Deleted contents of the etcd data directory: /var/lib/etcd" in out
        assert "Failed to remove etcd member" not in err

        rc, out, err = await kc("delete", "node", NODE)
        assert (rc, out) == (0, f'node "{NODE}" deleted\n'), err

        pty = await PtyProcess.start(
            [str(lab_dir / "bin" / "kubeone"), "apply", "-m", "kubeone.yaml", "-t", "tf.json"], lab_dir
        )
        screen = await pty.read_until(PROMPT, 60)
        assert f'\t+ join control plane node "{NODE}" (' in screen
        pty.type("yes\n")
        rc, _, err = await pty.finish(120)
        assert rc == 0, err

        rc, out, err = await kc("get", "nodes", "-o", "json")
        assert rc == 0, err
        nodes = {n["metadata"]["name"]: n for n in json.loads(out)["items"]}
        assert sorted(nodes) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) for n in nodes.values()
        )
        assert not nodes[NODE]["spec"].get("unschedulable"), "a re-joined node is a new Node object, not cordoned"

        rc, out, err = await kc("get", "pod", f"etcd-{NODE}", "-n", "kube-system", "-o", "json")
        assert rc == 0, err
        assert json.loads(out)["status"]["phase"] == "Running"

        async def exec_etcdctl(*args: str) -> tuple[int, str, str]:
            return await kc("exec", "etcd-lab-cp-1", "-n", "kube-system", "--", *ETCDCTL, *args)

        rc, out, err = await exec_etcdctl("member", "list", "-w", "json")
        assert rc == 0, err
        assert sorted(m["name"] for m in json.loads(out)["members"]) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]

        async def all_healthy_and_equal() -> str:
            """'' when 3 endpoints are healthy with equal hashkv, else what is still missing."""
            rc, out, err = await exec_etcdctl("endpoint", "health", "--cluster", "-w", "json")
            if rc != 0 or len(json.loads(out or "[]")) != 3:
                return f"endpoint health: {out or err}"
            rc, out, err = await exec_etcdctl("endpoint", "hashkv", "--cluster", "-w", "json")
            hashes = {h["Endpoint"]: h["HashKV"]["hash"] for h in json.loads(out or "[]")} if rc == 0 else {}
            if len(hashes) != 3 or len(set(hashes.values())) != 1:
                return f"hashkv: {hashes or err}"
            return ""

        missing = "not checked"
        for _ in range(50):  # a new member is healthy and caught up within moments
            missing = await all_healthy_and_equal()
            if not missing:
                break
            await asyncio.sleep(0.3)
        assert not missing, missing
    finally:
        state = json.loads((lab_dir / "lab.json").read_text()) if (lab_dir / "lab.json").exists() else {}
        rc, _, err = await _run(sys.executable, "-m", "etcdtui", "lab", "down", "--dir", str(lab_dir), within=60)
        assert rc == 0, err
        left = [pid for pid in [state.get("pid"), *state.get("etcd_pids", {}).values()] if pid and _alive(pid)]
        assert not left, f"lab down left processes behind: {left}"
