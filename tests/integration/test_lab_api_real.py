"""The API server inside a real lab (`etcdtui lab up`: real etcd ring, real logs), through kubectl and the
official async python client, using the lab's own kubeconfig. Read-only: it uses the session lab.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from conftest import RunningLab
from kubernetes.aio import client, config
from kubernetes.aio.stream import WsApiClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KUBECTL = shutil.which("kubectl")
PKI = "/etc/kubernetes/pki/etcd"
ETCDCTL_TLS = [f"--cacert={PKI}/ca.crt", f"--cert={PKI}/healthcheck-client.crt", f"--key={PKI}/healthcheck-client.key"]


def _kubectl(lab: RunningLab, *args: str) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine (expected at /usr/bin/kubectl): kubectl tests not run")
    env = {**lab.env(), "HOME": str(lab.root)}  # kubectl's discovery cache stays inside the lab dir
    return subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60)


def test_kubectl_exec_etcdctl_endpoint_status_against_the_real_ring(lab: RunningLab) -> None:
    out = _kubectl(lab, "exec", "etcd-lab-cp-1", "-n", "kube-system", "--", "etcdctl",
                   "--endpoints=https://127.0.0.1:2379", *ETCDCTL_TLS, "endpoint", "status", "--cluster", "-w", "json")
    assert out.returncode == 0, out.stderr
    statuses = json.loads(out.stdout)
    assert len(statuses) == len(lab.nodes)
    leaders = {s["Status"]["leader"] for s in statuses}
    assert len(leaders) == 1 and leaders <= {s["Status"]["header"]["member_id"] for s in statuses}


def test_kubectl_get_and_logs_show_the_real_members(lab: RunningLab) -> None:
    wide = _kubectl(lab, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    rows = [line.split() for line in wide.stdout.splitlines()[1:]]
    assert [(r[0], r[2], r[6]) for r in rows] == [(f"etcd-{n}", "Running", n) for n in lab.nodes]
    logs = _kubectl(lab, "logs", "-n", "kube-system", "etcd-lab-cp-2")
    assert logs.returncode == 0, logs.stderr
    messages = [json.loads(line).get("msg") for line in logs.stdout.splitlines() if line.startswith("{")]
    assert "serving client traffic securely" in messages


async def test_python_client_lists_reads_logs_and_execs_through_the_lab_kubeconfig(lab: RunningLab) -> None:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(lab.kubeconfig), client_configuration=cfg)
    assert cfg.host.startswith("https://127.0.0.1:")
    async with client.ApiClient(configuration=cfg) as api:
        v1 = client.CoreV1Api(api)
        pods = await v1.list_namespaced_pod("kube-system", label_selector="component=etcd")
        assert sorted(p.spec.node_name for p in pods.items) == sorted(lab.nodes)
        nodes = await v1.list_node()
        assert sorted(n.metadata.name for n in nodes.items) == sorted(lab.nodes)
        text = await v1.read_namespaced_pod_log("etcd-lab-cp-1", "kube-system", tail_lines=5)
        assert len(text.splitlines()) == 5
    async with WsApiClient(configuration=cfg) as ws_api:
        v1 = client.CoreV1Api(api_client=ws_api)
        ws_ctx = await v1.connect_get_namespaced_pod_exec_without_preload_content(
            "etcd-lab-cp-2", "kube-system", command=["etcdctl", "--endpoints=https://127.0.0.1:2379", *ETCDCTL_TLS,
                                                      "member", "list", "-w", "json"],
            stderr=True, stdin=False, stdout=True, tty=False,
        )
        out = b""
        async with ws_ctx as ws:
            async for msg in ws:
                if msg.data[0] == 1:
                    out += msg.data[1:]
    names = sorted(m["name"] for m in json.loads(out)["members"])
    assert names == sorted(lab.nodes)


def test_kubectl_logs_follow_ends_when_lab_kill_ends_the_container(fresh_lab: Callable[..., RunningLab]) -> None:
    lab = fresh_lab()
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine (expected at /usr/bin/kubectl): kubectl tests not run")
    env = {**lab.env(), "HOME": str(lab.root)}
    with subprocess.Popen([KUBECTL, "logs", "-f", "-n", "kube-system", "etcd-lab-cp-3", "--tail=1"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as follow:
        try:
            assert follow.stdout is not None
            first = follow.stdout.readline()  # the stream is open and serving the current run
            assert json.loads(first)["msg"]
            kill = subprocess.run([sys.executable, "-m", "etcdtui", "lab", "kill", "lab-cp-3", "--dir", str(lab.root)],
                                  capture_output=True, text=True, timeout=60)
            assert kill.returncode == 0, kill.stderr
            started = time.monotonic()
            rc = follow.wait(timeout=15)  # the kubelet ends a follow when its container exits
            assert rc == 0 and time.monotonic() - started < 15
        finally:
            if follow.poll() is None:
                follow.kill()
