"""The lab API server through the real `kubectl` (get/-o wide/jsonpath, logs, exec over WebSocket, cordon,
drain with the PodDisruptionBudget's 429 retry path, delete node, delete of a mirror pod).

/usr/bin/kubectl here is gcloud's dispatcher: it runs the kubectl minor that matches the server's
/version (1.32), whose exec uses WebSocket (v5.channel.k8s.io) by default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _api_lab import ApiLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else None)
GUIDE_JSONPATH = '{range .items[*]}{.metadata.name}: {range .spec.containers[0].command[*]}{}{"\\n"}{end}{"\\n"}{end}'


@pytest.fixture(scope="module", autouse=True)
def _need_kubectl() -> None:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed on this machine (expected at /usr/bin/kubectl): kubectl tests not run")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiLab]:
    lab = ApiLab(tmp_path_factory.mktemp("kubectl-lab"))
    yield lab
    lab.close()


@pytest.fixture
def fresh_lab(tmp_path: Path) -> Iterator[ApiLab]:
    lab = ApiLab(tmp_path, with_etcd=False, ready_delay=1.5)
    yield lab
    lab.close()


def kubectl(lab: ApiLab, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    # A HOME of its own keeps kubectl's discovery cache out of the user's ~/.kube.
    env = dict(os.environ, KUBECONFIG=str(lab.kubeconfig), HOME=str(lab.root))
    return subprocess.run([KUBECTL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout)


def test_get_etcd_pods_wide_shows_the_columns_the_guide_reads(lab: ApiLab) -> None:
    out = kubectl(lab, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "wide")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                              "READINESS", "GATES"]
    cells = {row.split()[0]: row.split() for row in rows}
    assert set(cells) == {"etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"}
    assert cells["etcd-lab-cp-2"][1:3] == ["1/1", "Running"]
    assert "lab-cp-2" in cells["etcd-lab-cp-2"] and "127.0.1.2" in cells["etcd-lab-cp-2"]
    assert out.stdout.count("(") == 1  # only etcd-lab-cp-1 restarted: "1 (..ago)"


def test_the_guides_jsonpath_lists_each_pods_command(lab: ApiLab) -> None:
    out = kubectl(lab, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", f"jsonpath={GUIDE_JSONPATH}")
    assert out.returncode == 0, out.stderr
    blocks = [b.splitlines() for b in out.stdout.strip().split("\n\n")]
    assert [b[0] for b in blocks] == ["etcd-lab-cp-1: etcd", "etcd-lab-cp-2: etcd", "etcd-lab-cp-3: etcd"]
    assert "--name=lab-cp-2" in blocks[1]


def test_get_nodes(lab: ApiLab) -> None:
    out = kubectl(lab, "get", "nodes")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [line.split()[:3] for line in lines[1:]] == [[f"lab-cp-{i}", "Ready", "control-plane"] for i in (1, 2, 3)]


def test_get_nodes_watch_prints_the_cordoned_row(fresh_lab: ApiLab) -> None:
    assert KUBECTL is not None
    env = dict(os.environ, KUBECONFIG=str(fresh_lab.kubeconfig), HOME=str(fresh_lab.root))
    with subprocess.Popen([KUBECTL, "get", "nodes", "-w"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(4)]  # header and the three nodes
            assert lines[0].split()[:2] == ["NAME", "STATUS"]
            cordon = kubectl(fresh_lab, "cordon", "lab-cp-1")
            assert cordon.stdout.strip() == "node/lab-cp-1 cordoned"
            row = proc.stdout.readline().split()
            assert row[:3] == ["lab-cp-1", "Ready,SchedulingDisabled", "control-plane"]
        finally:
            proc.kill()


def test_get_a_missing_pod_says_not_found(lab: ApiLab) -> None:
    out = kubectl(lab, "get", "pod", "etcd-lab-cp-9", "-n", "kube-system")
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): pods "etcd-lab-cp-9" not found'


def test_logs_and_previous_logs(lab: ApiLab) -> None:
    out = kubectl(lab, "logs", "-n", "kube-system", "etcd-lab-cp-1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == '{"level":"info","msg":"line 4 of lab-cp-1"}'
    prev = kubectl(lab, "logs", "-n", "kube-system", "etcd-lab-cp-1", "--previous")
    assert prev.returncode == 0 and "previous run of lab-cp-1" in prev.stdout
    none = kubectl(lab, "logs", "-n", "kube-system", "etcd-lab-cp-2", "--previous")
    assert none.returncode == 1
    assert 'previous terminated container "etcd" in pod "etcd-lab-cp-2" not found' in none.stderr


def test_logs_follow_ends_when_the_container_ends(fresh_lab: ApiLab) -> None:
    def finish() -> None:
        fresh_lab.append_log("etcd-lab-cp-2", "last words")
        fresh_lab.end_run("etcd-lab-cp-2")

    timer = threading.Timer(1.0, finish)
    timer.start()
    started = time.monotonic()
    out = kubectl(fresh_lab, "logs", "-f", "-n", "kube-system", "etcd-lab-cp-2", "--tail=1", "--timestamps", timeout=30)
    timer.join()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith('{"level":"info","msg":"line 4 of lab-cp-2"}') and lines[1].endswith(" last words")
    assert 1.0 <= time.monotonic() - started < 10


def test_exec_etcdctl_endpoint_status_json(lab: ApiLab) -> None:
    out = kubectl(lab, "exec", "etcd-lab-cp-1", "-n", "kube-system", "--", "etcdctl",
                  "--endpoints=https://127.0.0.1:2379", "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
                  "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
                  "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key", "endpoint", "status", "-w", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["Status"]["version"] == "3.5.1"


def test_exec_passes_the_exit_code_stdin_and_runtime_errors(lab: ApiLab) -> None:
    bad = kubectl(lab, "exec", "etcd-lab-cp-1", "-n", "kube-system", "--", "etcdctl", "get", "--bogus")
    assert bad.returncode == 1
    assert "unknown flag: --bogus" in bad.stderr and "command terminated with exit code 1" in bad.stderr
    cat = kubectl(lab, "exec", "-i", "etcd-lab-cp-1", "-n", "kube-system", "--", "cat", stdin="to stdin\n")
    assert (cat.returncode, cat.stdout) == (0, "to stdin\n")
    sh = kubectl(lab, "exec", "etcd-lab-cp-1", "-n", "kube-system", "--", "sh", "-c", "true")
    assert sh.returncode == 1
    assert 'exec: "sh": executable file not found in $PATH' in sh.stderr


def test_server_side_dry_run_drain_changes_nothing(fresh_lab: ApiLab) -> None:
    fresh_lab.wait_for(lambda: len(fresh_lab.store.list("Pod", "default")) == 2)
    before = sorted(p["metadata"]["uid"] for p in fresh_lab.call(fresh_lab.store.list, "Pod"))
    out = kubectl(fresh_lab, "drain", "lab-cp-2", "--ignore-daemonsets", "--delete-emptydir-data", "--dry-run=server")
    assert out.returncode == 0, out.stderr
    assert "node/lab-cp-2 drained (server dry run)" in out.stdout
    assert sorted(p["metadata"]["uid"] for p in fresh_lab.call(fresh_lab.store.list, "Pod")) == before
    assert not fresh_lab.call(fresh_lab.store.get, "Node", "", "lab-cp-2")["spec"].get("unschedulable")


def test_drain_retries_on_the_disruption_budget_then_drains(fresh_lab: ApiLab) -> None:
    fresh_lab.wait_for(lambda: len(fresh_lab.store.list("Pod", "default")) == 2)
    out = kubectl(fresh_lab, "drain", "lab-cp-2", "--ignore-daemonsets", "--delete-emptydir-data", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "node/lab-cp-2 cordoned"
    assert out.stdout.splitlines()[-1] == "node/lab-cp-2 drained"
    assert out.stdout.count(" evicted") == 2
    assert "Warning: ignoring DaemonSet-managed Pods: kube-system/kube-proxy-" in out.stderr
    assert ("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
            in out.stderr)
    node = fresh_lab.call(fresh_lab.store.get, "Node", "", "lab-cp-2")
    assert node["spec"]["unschedulable"] is True
    left = [p["metadata"]["name"] for p in fresh_lab.call(fresh_lab.store.list, "Pod")
            if p["spec"].get("nodeName") == "lab-cp-2"]
    assert sorted(n.rsplit("-", 1)[0] for n in left) == ["etcd-lab-cp", "kube-proxy"]

    deleted = kubectl(fresh_lab, "delete", "node", "lab-cp-2")
    assert (deleted.returncode, deleted.stdout.strip()) == (0, 'node "lab-cp-2" deleted')
    fresh_lab.wait_for(lambda: not any(
        p["metadata"]["name"].startswith("kube-proxy-") and p["spec"].get("nodeName") == "lab-cp-2"
        for p in fresh_lab.store.list("Pod")
    ))
    nodes = kubectl(fresh_lab, "get", "nodes", "-o", "name")
    assert nodes.stdout.split() == ["node/lab-cp-1", "node/lab-cp-3"]


def test_a_deleted_mirror_pod_comes_back(fresh_lab: ApiLab) -> None:
    uid = fresh_lab.call(fresh_lab.store.get, "Pod", "kube-system", "etcd-lab-cp-3")["metadata"]["uid"]
    out = kubectl(fresh_lab, "delete", "pod", "-n", "kube-system", "etcd-lab-cp-3")
    assert (out.returncode, out.stdout.strip()) == (0, 'pod "etcd-lab-cp-3" deleted')
    fresh_lab.wait_for(lambda: fresh_lab.store.find("Pod", "kube-system", "etcd-lab-cp-3") is not None)
    assert fresh_lab.call(fresh_lab.store.get, "Pod", "kube-system", "etcd-lab-cp-3")["metadata"]["uid"] != uid
