"""The exporter in-cluster, with exactly the service-account identity the lab holds to deploy/kubernetes/rbac.yaml.

`lab up` writes the token, CA and namespace a pod would see; the exporter runs with KUBERNETES_SERVICE_HOST/
PORT and those files. The one seam: the kubernetes client reads them from fixed paths under
/var/run/secrets/kubernetes.io/serviceaccount/, which this machine does not have (and parallel tests must not
share), so the launcher points the client's two path constants at the lab's files; everything else (the
client's in-cluster loader, TLS, the RBAC answers of the lab API server, the exporter) is real.
"""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _alerting import PROMTOOL, start_exporter, stop_exporter, wait_until
from _lab_cli import kubectl
from conftest import RunningLab
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LAUNCHER = (
    "-c",
    "import sys, kubernetes.aio.config.incluster_config as ic; "
    "ic.SERVICE_TOKEN_FILENAME, ic.SERVICE_CERT_FILENAME = sys.argv.pop(1), sys.argv.pop(1); "
    "from etcdtui.cli import main; raise SystemExit(main(sys.argv[1:]))",
)


def sa_files(lab: RunningLab) -> Path:
    return lab.root / "serviceaccount"


def in_cluster_env(lab: RunningLab) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(lab.state["api"]["port"]),
                "HOME": str(lab.root / "no-home"), "PYTHONPATH": os.pathsep.join(sys.path)})
    return env


def launcher(lab: RunningLab) -> tuple[str, ...]:
    d = sa_files(lab)
    return (*LAUNCHER, str(d / "token"), str(d / "ca.crt"))


def api_get(lab: RunningLab, path: str) -> tuple[int, dict[str, object]]:
    d = sa_files(lab)
    ctx = ssl.create_default_context(cafile=str(d / "ca.crt"))
    req = urllib.request.Request(f"https://127.0.0.1:{lab.state['api']['port']}{path}",
                                 headers={"Authorization": f"Bearer {(d / 'token').read_text()}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_lab_writes_the_service_account_as_a_pod_sees_it_and_enforces_its_rules(lab: RunningLab) -> None:
    d = sa_files(lab)
    assert (d / "namespace").read_text() == "kube-system"
    assert stat.S_IMODE((d / "token").stat().st_mode) == 0o600
    token = (d / "token").read_text()
    assert token and token not in lab.kubeconfig.read_text()  # a second identity, not the admin's
    assert api_get(lab, "/api/v1/namespaces/kube-system/pods")[0] == 200
    assert api_get(lab, "/api/v1/nodes")[0] == 200
    code, body = api_get(lab, "/api/v1/namespaces/kube-system/secrets")
    assert code == 403 and body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'secrets is forbidden: User "system:serviceaccount:kube-system:etcdtui" cannot list resource '
                   '"secrets" in API group "" in the namespace "kube-system"',
        "reason": "Forbidden", "details": {"kind": "secrets"}, "code": 403}
    # kubectl shows the same Status message as for a real cluster.
    server = f"https://127.0.0.1:{lab.state['api']['port']}"
    empty = lab.root / "no-kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    result = kubectl(empty, "--server", server, "--token", token, "--certificate-authority", str(d / "ca.crt"),
                     "-n", "kube-system", "delete", "pod", "etcd-lab-cp-1")
    assert result.returncode == 1
    assert ('Error from server (Forbidden): pods "etcd-lab-cp-1" is forbidden: User '
            '"system:serviceaccount:kube-system:etcdtui" cannot delete resource "pods" in API group "" in the '
            'namespace "kube-system"') in result.stderr


def test_exporter_in_cluster_with_the_shipped_rbac_sees_the_whole_ring(lab: RunningLab, tmp_path: Path) -> None:
    exporter = start_exporter(None, tmp_path / "exporter.log", env=in_cluster_env(lab), launcher=launcher(lab))
    try:
        wait_until(lambda: exporter.get("/readyz")[0] == 200, 90, "in-cluster exporter ready")
        status, text = exporter.get("/metrics")
        assert status == 200
    finally:
        assert stop_exporter(exporter) == 0
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted({"context": "in-cluster", **labels}.items())))]

    assert value("etcdtui_check_success") == 1 and value("etcdtui_api_live") == 1
    assert value("etcdtui_ring_members") == 3
    agrees = [v for (name, _), v in samples.items() if name == "etcdtui_member_hash_agrees"]
    assert agrees == [1.0, 1.0, 1.0]
    assert not [k for k in samples if k[0] == "etcdtui_etcdctl_errors_total"]  # no exec was refused
    kinds = {dict(labels)["kind"] for (name, labels) in samples if name == "etcdtui_findings"}
    assert "cluster.nodes_unavailable" not in kinds  # the ClusterRole on nodes is enough
    if PROMTOOL:
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_permission_outside_the_role_fails_and_the_message_names_it(lab: RunningLab) -> None:
    """The Role is namespaced: pointed at another namespace the exporter's identity may not list pods."""
    result = subprocess.run(
        [sys.executable, *launcher(lab), "check", "--namespace", "default", "--timeout", "20"],
        capture_output=True, text=True, timeout=60, check=False, env=in_cluster_env(lab))
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "403" in result.stderr and "list" in result.stderr and "pods" in result.stderr, result.stderr
    assert "default" in result.stderr, result.stderr
