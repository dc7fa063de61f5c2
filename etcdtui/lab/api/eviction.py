"""policy/v1 Eviction: delete a pod unless a PodDisruptionBudget forbids it (429), like the real handler."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from etcdtui.lab.api.errors import ApiError, Obj, bad_request, not_found
from etcdtui.lab.api.workload_objects import controller_of, pod_ready
from etcdtui.lab.objects import ObjectStore

PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTI_PDB = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


@dataclass
class Budget:
    healthy: int
    desired: int
    expected: int


def _selects(pdb: Obj, pod: Obj) -> bool:
    if pdb["metadata"].get("namespace") != pod["metadata"].get("namespace"):
        return False
    selector = pdb.get("spec", {}).get("selector") or {}
    wanted = selector.get("matchLabels") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def _expected(store: ObjectStore, pods: list[Obj]) -> int:
    """Replicas wanted by the pods' controllers (what the disruption controller calls expectedPods)."""
    total, seen = 0, set()
    for pod in pods:
        ref = controller_of(pod)
        if ref is None or ref["uid"] in seen:
            continue
        seen.add(ref["uid"])
        owner = store.find(ref["kind"], pod["metadata"].get("namespace", ""), ref["name"])
        total += int((owner or {}).get("spec", {}).get("replicas", 1))
    return total or len(pods)


def budget(store: ObjectStore, pdb: Obj) -> Budget:
    pods = [
        p
        for p in store.list("Pod", pdb["metadata"].get("namespace"))
        if _selects(pdb, p) and not _terminal(p) and not p["metadata"].get("deletionTimestamp")
    ]
    healthy = sum(1 for p in pods if pod_ready(p))
    expected = _expected(store, pods)
    spec = pdb.get("spec", {})
    if "minAvailable" in spec:
        desired = _scaled(spec["minAvailable"], expected, round_up=True)
    else:
        desired = max(expected - _scaled(spec.get("maxUnavailable", 0), expected, round_up=True), 0)
    return Budget(healthy=healthy, desired=desired, expected=expected)


def check_eviction(store: ObjectStore, namespace: str, name: str, body: Any) -> Obj:
    """Validates the Eviction and the budget; returns the pod to delete or raises the real API error."""
    if isinstance(body, dict):
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise bad_request("name in URL does not match name in Eviction object")
    pod = store.find("Pod", namespace, name)
    if pod is None:
        raise not_found("pods", name)
    if _terminal(pod):
        return pod
    pdbs = [p for p in store.list("PodDisruptionBudget", namespace) if _selects(p, pod)]
    if len(pdbs) > 1:
        raise ApiError(500, MULTI_PDB, "InternalError")
    if not pdbs:
        return pod
    pdb = pdbs[0]
    b = budget(store, pdb)
    # An unready pod does not count as healthy: evicting it only needs the budget to hold as it is.
    after = b.healthy - 1 if pod_ready(pod) else b.healthy
    if after < b.desired:
        pdb_name = pdb["metadata"]["name"]
        raise ApiError(
            429,
            PDB_MESSAGE,
            "TooManyRequests",
            {
                "causes": [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb_name} needs {b.desired} healthy pods "
                        f"and has {b.healthy} currently",
                    }
                ]
            },
        )
    return pod
