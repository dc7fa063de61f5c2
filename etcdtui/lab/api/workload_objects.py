"""The objects of the lab's ordinary workloads (namespaces, kube-proxy DaemonSet, the lab-cache Deployment with
its ReplicaSet and PodDisruptionBudget), and the small helpers that shape pods like a kubelet reports them.
"""

from __future__ import annotations

import secrets
import string

from etcdtui.lab.api.discovery import GIT_VERSION
from etcdtui.lab.api.errors import Obj
from etcdtui.lab.objects import ObjectStore, now_rfc3339

MIRROR = "kubernetes.io/config.mirror"
K8S_VERSION = GIT_VERSION  # kube-proxy runs the cluster's version
DS_NAME, DS_NS = "kube-proxy", "kube-system"
DEPLOY_NAME, DEPLOY_NS = "lab-cache", "default"
TEMPLATE_HASH = "7d9f8c6b5d"


def name_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def node_ready(node: Obj) -> bool:
    conditions = node.get("status", {}).get("conditions", []) or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions", []) or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences", []) or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_ref(kind: str, owner: Obj) -> Obj:
    api = "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_status(running: bool, node: Obj | None, pod_ip: str, container: str, image: str) -> Obj:
    now = now_rfc3339()
    flag = "True" if running else "False"
    status: Obj = {
        "phase": "Running" if running else "Pending",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True" if node else "False", "lastTransitionTime": now},
        ],
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": container,
                "image": image,
                "imageID": "",
                "ready": running,
                "started": running,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}}
                if running
                else {"waiting": {"reason": "ContainerCreating"}},
            }
        ],
    }
    if node is not None:
        host_ip = internal_ip(node)
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        if running:
            status["podIP"] = pod_ip or host_ip
            status["podIPs"] = [{"ip": pod_ip or host_ip}]
            status["startTime"] = now
    return status


def internal_ip(node: Obj) -> str:
    for addr in node.get("status", {}).get("addresses", []) or []:
        if addr.get("type") == "InternalIP":
            return str(addr.get("address", ""))
    return ""


def seed(store: ObjectStore) -> None:
    """Create what is missing; a DaemonSet or Deployment someone else (the ring) made is kept as it is."""
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        _create_if_absent(
            store,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )
    if not store.list("DaemonSet"):
        _seed_daemonset(store)
    if not store.list("Deployment"):
        _seed_deployment(store)


def _seed_daemonset(store: ObjectStore) -> None:
    labels = {"k8s-app": DS_NAME}
    _create_if_absent(
        store,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": DS_NAME, "namespace": DS_NS, "labels": labels, "generation": 1},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "hostNetwork": True,
                        "containers": [
                            {"name": DS_NAME, "image": f"registry.k8s.io/kube-proxy:{K8S_VERSION}"}
                        ],
                    },
                },
            },
            "status": {},
        },
    )


def _seed_deployment(store: ObjectStore) -> None:
    app = {"app": DEPLOY_NAME}
    template = {
        "metadata": {"labels": app},
        "spec": {
            "containers": [
                {
                    "name": "cache",
                    "image": "registry.k8s.io/pause:3.9",
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                }
            ],
            "volumes": [{"name": "cache", "emptyDir": {}}],
        },
    }
    deployment = _create_if_absent(
        store,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": DEPLOY_NAME, "namespace": DEPLOY_NS, "labels": app, "generation": 1},
            "spec": {"replicas": 2, "selector": {"matchLabels": app}, "template": template},
            "status": {},
        },
    )
    rs_labels = {**app, "pod-template-hash": TEMPLATE_HASH}
    _create_if_absent(
        store,
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{DEPLOY_NAME}-{TEMPLATE_HASH}",
                "namespace": DEPLOY_NS,
                "labels": rs_labels,
                "ownerReferences": [owner_ref("Deployment", deployment)],
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": rs_labels},
                "template": {**template, "metadata": {"labels": rs_labels}},
            },
            "status": {},
        },
    )
    _create_if_absent(
        store,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": DEPLOY_NAME, "namespace": DEPLOY_NS},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": app}},
            "status": {},
        },
    )


def _create_if_absent(store: ObjectStore, obj: Obj) -> Obj:
    meta = obj["metadata"]
    existing = store.find(obj["kind"], meta.get("namespace", ""), meta["name"])
    if existing is not None:
        return existing
    return store.create(obj)
