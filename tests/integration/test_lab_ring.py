"""`etcdtui lab up`: a real 3-member etcd ring with TLS, shown as kubeadm-style nodes and static pods."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from _lab_cli import etcdctl, etcdtui, kubectl, kubectl_json
from conftest import RunningLab

from etcdtui.lab.etcd_binary import resolve_etcd

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_and_state_files_are_private(lab: RunningLab) -> None:
    layout = lab.layout
    for path in (layout.kubeconfig, layout.state_file, layout.pki / "ca.key", layout.pki / "apiserver.key"):
        assert _mode(path) == 0o600, path
    for node in lab.nodes:
        for key in ("server.key", "peer.key", "healthcheck-client.key"):
            assert _mode(layout.node_pki_dir(node) / key) == 0o600
    assert stat.S_ISSOCK(layout.control_socket.stat().st_mode)
    assert _mode(layout.control_socket) == 0o600
    # The stable names users and scripts rely on are all there.
    for name in ("kubeconfig", "ssh_config", "known_hosts", "kubeone.yaml", "tf.json", "bin/kubeone"):
        assert (lab.root / name).exists(), name


def test_every_member_is_healthy_over_tls(lab: RunningLab) -> None:
    result = etcdctl(lab.root, "lab-cp-1", "endpoint", "health", "--cluster", "-w", "json")
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)
    assert len(health) == 3 and all(h["health"] for h in health)
    assert all(h["endpoint"].startswith("https://127.0.1.") for h in health)
    members = json.loads(etcdctl(lab.root, "lab-cp-2", "member", "list", "-w", "json").stdout)["members"]
    assert sorted(m["name"] for m in members) == lab.nodes


def test_plain_http_is_refused_by_members(lab: RunningLab) -> None:
    status = etcdtui("lab", "status", "--dir", str(lab.root), "--json")
    client_url = json.loads(status.stdout)["members_status"][0]["client_url"]
    plain = subprocess.run(
        [str(resolve_etcd(None).etcdctl), f"--endpoints={client_url.replace('https', 'http')}", "--command-timeout=1s",
         "--dial-timeout=1s", "endpoint", "health"],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert plain.returncode != 0  # client-cert-auth over TLS, like kubeadm


def test_nodes_and_static_pods_look_like_kubeadm(lab: RunningLab) -> None:
    nodes = kubectl_json(lab.kubeconfig, "get", "nodes")["items"]
    ips = {n["metadata"]["name"]: n["status"]["addresses"][0]["address"] for n in nodes}
    assert ips == {f"lab-cp-{i}": f"127.0.1.{i}" for i in (1, 2, 3)}
    assert all("node-role.kubernetes.io/control-plane" in n["metadata"]["labels"] for n in nodes)

    pods = kubectl_json(lab.kubeconfig, "get", "pods", "-n", "kube-system", "-l", "component=etcd")["items"]
    assert len(pods) == 3
    for pod in pods:
        node = pod["spec"]["nodeName"]
        assert pod["metadata"]["name"] == f"etcd-{node}"
        assert pod["metadata"]["labels"] == {"component": "etcd", "tier": "control-plane"}
        assert "kubernetes.io/config.mirror" in pod["metadata"]["annotations"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Node"
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["hostIP"] == pod["status"]["podIP"] == ips[node]
        container = pod["spec"]["containers"][0]
        assert container["image"] == "registry.k8s.io/etcd:3.5.1-0"
        command = container["command"]
        assert command[0] == "etcd"
        assert "--cert-file=/etc/kubernetes/pki/etcd/server.crt" in command
        assert "--data-dir=/var/lib/etcd" in command
        assert f"--name={node}" in command
        assert not any("experimental-corrupt-check-time" in arg for arg in command)  # checks start off
        assert not any(str(lab.root) in arg for arg in command)  # only kubeadm paths are shown
        status = pod["status"]["containerStatuses"][0]
        assert status["ready"] and "running" in status["state"]


def test_kubectl_wide_listing(lab: RunningLab) -> None:
    result = kubectl(lab.kubeconfig, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "wide")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 3 and all("Running" in r and "1/1" in r for r in rows)


def test_status_command(lab: RunningLab) -> None:
    result = etcdtui("lab", "status", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    for node in lab.nodes:
        assert node in result.stdout
    assert "running" in result.stdout
