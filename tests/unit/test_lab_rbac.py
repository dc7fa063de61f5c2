"""The lab's RBAC for the exporter's service account: request attributes as the apiserver derives them,
the real 403 message, and the rules equal to what deploy/kubernetes/rbac.yaml grants."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from etcdtui.lab.api.rbac import (
    EXPORTER_RULES,
    SA_NAME,
    SA_NAMESPACE,
    SA_USER,
    Rule,
    ServiceAccount,
    request_attributes,
)

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/kube-system/pods", {}, ("list", "", "pods", None, "kube-system", None)),
    ("GET", "/api/v1/namespaces/kube-system/pods", {"watch": "true"}, ("watch", "", "pods", None, "kube-system", None)),
    ("GET", "/api/v1/namespaces/kube-system/pods/etcd-a/exec", {"command": "etcdctl"},
     ("create", "", "pods", "exec", "kube-system", "etcd-a")),
    ("GET", "/api/v1/namespaces/kube-system/pods/etcd-a/log", {}, ("get", "", "pods", "log", "kube-system", "etcd-a")),
    ("GET", "/api/v1/nodes", {}, ("list", "", "nodes", None, None, None)),
    ("PATCH", "/api/v1/nodes/cp-1", {}, ("patch", "", "nodes", None, None, "cp-1")),
    ("DELETE", "/apis/apps/v1/namespaces/default/deployments", {},
     ("deletecollection", "apps", "deployments", None, "default", None)),
    ("GET", "/api/v1/namespaces/kube-system", {}, ("get", "", "namespaces", None, "kube-system", "kube-system")),
])
def test_request_attributes(method: str, path: str, query: dict[str, str], expected: tuple[object, ...]) -> None:
    a = request_attributes(method, path, query)
    assert a is not None
    assert (a.verb, a.group, a.resource, a.subresource, a.namespace, a.name) == expected


@pytest.mark.parametrize("path", ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/healthz"])
def test_discovery_is_not_a_resource(path: str) -> None:
    assert request_attributes("GET", path, {}) is None
    assert ServiceAccount("t").check("GET", path, {}) is None


def test_the_exporter_may_do_what_it_needs_and_nothing_else() -> None:
    sa = ServiceAccount("t")
    for method, path, query in (("GET", "/api/v1/namespaces/kube-system/pods", {"watch": "1"}),
                                ("GET", "/api/v1/namespaces/kube-system/pods/etcd-a/exec", {}),
                                ("POST", "/api/v1/namespaces/kube-system/pods/etcd-a/exec", {}),
                                ("GET", "/api/v1/nodes", {"watch": "true"})):
        assert sa.check(method, path, query) is None, path
    assert sa.check("GET", "/api/v1/namespaces/kube-system/pods/etcd-a/log", {"follow": "true"}) is None
    denied = sa.check("POST", "/api/v1/namespaces/kube-system/pods/etcd-a/eviction", {})
    assert denied is not None and denied.code == 403
    assert denied.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "etcd-a" is forbidden: User "system:serviceaccount:kube-system:etcdtui" cannot create '
                   'resource "pods/eviction" in API group "" in the namespace "kube-system"',
        "reason": "Forbidden", "details": {"name": "etcd-a", "kind": "pods"}, "code": 403,
    }
    other_ns = sa.check("GET", "/api/v1/namespaces/default/pods", {})
    assert other_ns is not None and other_ns.body["message"] == (
        'pods is forbidden: User "system:serviceaccount:kube-system:etcdtui" cannot list resource "pods" in API '
        'group "" in the namespace "default"')
    cluster = sa.check("GET", "/apis/apps/v1/deployments", {})
    assert cluster is not None and cluster.body["message"] == (
        'deployments.apps is forbidden: User "system:serviceaccount:kube-system:etcdtui" cannot list resource '
        '"deployments" in API group "apps" at the cluster scope')
    assert cluster.body["details"] == {"group": "apps", "kind": "deployments"}
    assert sa.check("DELETE", "/api/v1/nodes/cp-1", {}) is not None


def test_lab_rules_are_the_shipped_role_and_cluster_role() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "rbac.yaml").read_text()) if d]
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    shipped: set[Rule] = set()
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA_NAME, "namespace": SA_NAMESPACE}]
        role = by_kind[(binding["roleRef"]["kind"], binding["roleRef"]["name"])]
        namespace = role["metadata"].get("namespace") if role["kind"] == "Role" else None
        for r in role["rules"]:
            shipped.add(Rule(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"]), namespace))
    assert shipped == set(EXPORTER_RULES)
    assert SA_USER == f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"
