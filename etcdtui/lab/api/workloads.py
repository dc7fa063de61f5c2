"""The lab's ordinary workloads and the tiny controllers that keep them, so a drain is real.

Seeded if absent: namespaces; DaemonSet `kube-system/kube-proxy` (one pod per Ready node); Deployment
`default/lab-cache` (2 replicas with an emptyDir, both on `workload_node`, `lab-cp-2` by default: the node the
guide's example replaces) and its PodDisruptionBudget (`minAvailable: 1`). Draining that node evicts the first
replica at once; the second gets 429 from the budget until the first one's replacement, scheduled on another
node, turns Ready after `ready_delay` seconds, so kubectl drain's 5 s retry path really runs.

Controllers (one asyncio task, woken by store events): DaemonSet pods follow Ready nodes and disappear with a
deleted node; Deployment pods are replaced on a schedulable node; pods bound to a deleted node are collected;
a mirror (static) pod deleted through the API comes back while its node's "kubelet" is Ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from etcdtui.lab.api.errors import Obj
from etcdtui.lab.api.eviction import budget
from etcdtui.lab.api.workload_objects import (
    MIRROR,
    controller_of,
    name_suffix,
    node_ready,
    owner_ref,
    pod_ready,
    pod_status,
    seed,
)
from etcdtui.lab.objects import Conflict, NotFound, ObjectStore

INITIAL_PLACEMENT_WAIT = 3.0  # seconds to wait for `workload_node` before placing replicas anywhere
MIRROR_RECREATE_DELAY = 1.0


class Workloads:
    def __init__(self, store: ObjectStore, *, workload_node: str | None = "lab-cp-2", ready_delay: float = 4.0):
        self.store = store
        self.workload_node = workload_node
        self.ready_delay = ready_delay
        self._started = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._ip_counter = 10
        self._placed: set[str] = set()  # ReplicaSets whose first pods were placed (or that had pods already)
        self._last_pod: dict[str, Obj] = {}  # owner uid -> a pod it owned: the template when the owner has none

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        seed(self.store)
        self._task = asyncio.create_task(self._run(), name="lab-workloads")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._timers] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- events from the API handlers ----------------------------------------------------------
    def pod_deleted(self, pod: Obj) -> None:
        """A pod was deleted through the API: a mirror pod comes back while its kubelet runs."""
        if MIRROR in (pod["metadata"].get("annotations") or {}):
            self._later(MIRROR_RECREATE_DELAY, lambda: self._recreate_mirror(pod))

    def _recreate_mirror(self, pod: Obj) -> None:
        meta = pod["metadata"]
        node = self.store.find("Node", "", pod.get("spec", {}).get("nodeName", ""))
        if node is None or not node_ready(node) or self.store.find("Pod", meta["namespace"], meta["name"]):
            return
        fresh = {**pod, "metadata": {k: v for k, v in meta.items() if k not in ("uid", "resourceVersion",
                                                                                 "creationTimestamp",
                                                                                 "deletionTimestamp")}}
        with contextlib.suppress(Conflict):
            self.store.create(fresh)

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            action()

        task = asyncio.create_task(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    # -- reconcile loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        queue = self.store.subscribe()
        try:
            while True:
                self.reconcile()
                try:
                    async with asyncio.timeout(1.0):
                        item = await queue.get()
                except TimeoutError:
                    continue
                if item is None:  # watches closed (api-outage): keep reconciling on a fresh queue
                    self.store.unsubscribe(queue)
                    queue = self.store.subscribe()
                await asyncio.sleep(0.05)  # let a burst of changes settle before one reconcile
                while not queue.empty():
                    queue.get_nowait()
        finally:
            self.store.unsubscribe(queue)

    def reconcile(self) -> None:
        nodes = {n["metadata"]["name"]: n for n in self.store.list("Node")}
        pods = self.store.list("Pod")
        for pod in pods:
            ref = controller_of(pod)
            if ref is not None:
                self._last_pod[ref["uid"]] = pod
        self._collect_orphans(pods, nodes)
        for ds in self.store.list("DaemonSet"):
            self._reconcile_daemonset(ds, pods, nodes)
        for rs in self.store.list("ReplicaSet"):
            self._reconcile_replicaset(rs, pods, nodes)
        self._update_pdb_status()

    def _collect_orphans(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        # Pod GC: pods of controllers bound to a node that no longer exists. Mirror pods are the ring's.
        for pod in pods:
            node_name = pod.get("spec", {}).get("nodeName")
            if node_name and node_name not in nodes and controller_of(pod) is not None:
                self._delete_pod(pod)

    def _delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(NotFound):
            self.store.delete("Pod", meta.get("namespace", ""), meta["name"])

    def _reconcile_daemonset(self, ds: Obj, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        uid = ds["metadata"]["uid"]
        owned = [p for p in pods if (controller_of(p) or {}).get("uid") == uid]
        covered = {p.get("spec", {}).get("nodeName") for p in owned}
        for name, node in sorted(nodes.items()):
            if name not in covered and node_ready(node):
                self._create_pod(ds, "DaemonSet", node, running=True)
        ready = sum(1 for p in owned if pod_ready(p))
        status = {"desiredNumberScheduled": sum(1 for n in nodes.values() if node_ready(n)),
                  "currentNumberScheduled": len(owned), "numberReady": ready, "numberAvailable": ready}
        self._set_status(ds, status)

    def _reconcile_replicaset(self, rs: Obj, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        uid = rs["metadata"]["uid"]
        owned = [p for p in pods if (controller_of(p) or {}).get("uid") == uid]
        replicas = int(rs.get("spec", {}).get("replicas", 1))
        first_placement = not owned and rs["metadata"]["uid"] not in self._placed
        if first_placement:
            target = nodes.get(self.workload_node or "")
            if target is None or not node_ready(target):
                if time.monotonic() - self._started < INITIAL_PLACEMENT_WAIT:
                    return
                target = next((n for _, n in sorted(nodes.items()) if node_ready(n)), None)
                if target is None:
                    return
            for _ in range(replicas):
                self._create_pod(rs, "ReplicaSet", target, running=True)
            owned = [p for p in self.store.list("Pod") if (controller_of(p) or {}).get("uid") == uid]
        else:
            for _ in range(replicas - len(owned)):
                created = self._create_pod(rs, "ReplicaSet", self._schedule(owned, nodes), running=False)
                if created is not None:
                    owned.append(created)
            for pod in owned:
                if not pod.get("spec", {}).get("nodeName"):
                    self._bind(pod, self._schedule(owned, nodes))
        if owned:
            self._placed.add(uid)
        ready = sum(1 for p in owned if pod_ready(p))
        self._set_status(rs, {"replicas": len(owned), "readyReplicas": ready, "availableReplicas": ready,
                              "observedGeneration": 1})
        owner = controller_of(rs)
        if owner is not None:
            deployment = self.store.find("Deployment", rs["metadata"].get("namespace", ""), owner["name"])
            if deployment is not None:
                self._set_status(deployment, {"replicas": len(owned), "readyReplicas": ready,
                                              "availableReplicas": ready, "updatedReplicas": len(owned),
                                              "observedGeneration": 1})

    def _schedule(self, siblings: list[Obj], nodes: dict[str, Obj]) -> Obj | None:
        """A Ready, schedulable node with the fewest siblings (the scheduler's spreading, simplified)."""
        candidates = [n for _, n in sorted(nodes.items()) if node_ready(n) and not n.get("spec", {}).get("unschedulable")]
        if not candidates:
            return None
        load = {name: 0 for name in nodes}
        for pod in siblings:
            node_name = pod.get("spec", {}).get("nodeName")
            if node_name in load:
                load[node_name] += 1
        return min(candidates, key=lambda n: load[n["metadata"]["name"]])

    def _template(self, owner: Obj) -> Obj | None:
        template = owner.get("spec", {}).get("template")
        if template and template.get("spec", {}).get("containers"):
            return dict(template)
        model = self._last_pod.get(owner["metadata"]["uid"])
        if model is None:
            return None
        spec = {k: v for k, v in model.get("spec", {}).items() if k != "nodeName"}
        labels = dict(model["metadata"].get("labels") or {})
        return {"metadata": {"labels": labels}, "spec": spec}

    def _create_pod(self, owner: Obj, owner_kind: str, node: Obj | None, *, running: bool) -> Obj | None:
        template = self._template(owner)
        if template is None:  # an owner without template whose pods we never saw: nothing to copy
            return None
        meta = owner["metadata"]
        container = template["spec"]["containers"][0]
        host_network = bool(template["spec"].get("hostNetwork"))
        pod_ip = "" if host_network else self._next_ip()
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{name_suffix()}",
                "namespace": meta.get("namespace", ""),
                "labels": dict(template["metadata"].get("labels", {})),
                "ownerReferences": [owner_ref(owner_kind, owner)],
            },
            "spec": {**template["spec"], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
            "status": pod_status(running, node, pod_ip, container["name"], container["image"]),
        }
        if node is not None:
            pod["spec"]["nodeName"] = node["metadata"]["name"]
        created = self.store.create(pod)
        if not running and node is not None:
            self._start_later(created, pod_ip)
        return created

    def _bind(self, pod: Obj, node: Obj | None) -> None:
        if node is None:
            return
        meta = pod["metadata"]

        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = node["metadata"]["name"]
            container = obj["spec"]["containers"][0]
            obj["status"] = pod_status(False, node, "", container["name"], container["image"])

        with contextlib.suppress(NotFound):
            self._start_later(self.store.update("Pod", meta["namespace"], meta["name"], bind), self._next_ip())

    def _start_later(self, pod: Obj, pod_ip: str) -> None:
        meta = pod["metadata"]

        def start() -> None:
            current = self.store.find("Pod", meta["namespace"], meta["name"])
            if current is None or current["metadata"]["uid"] != meta["uid"]:
                return
            node = self.store.find("Node", "", current["spec"].get("nodeName", ""))
            container = current["spec"]["containers"][0]

            def run(obj: Obj) -> None:
                obj["status"] = pod_status(True, node, pod_ip, container["name"], container["image"])

            with contextlib.suppress(NotFound):
                self.store.update("Pod", meta["namespace"], meta["name"], run)

        self._later(self.ready_delay, start)

    def _next_ip(self) -> str:
        self._ip_counter += 1
        return f"10.244.{self._ip_counter // 250}.{self._ip_counter % 250 + 2}"

    def _set_status(self, obj: Obj, status: Obj) -> None:
        if all(obj.get("status", {}).get(k) == v for k, v in status.items()):
            return
        meta = obj["metadata"]

        def apply(o: Obj) -> None:
            o.setdefault("status", {}).update(status)

        with contextlib.suppress(NotFound):
            self.store.update(obj["kind"], meta.get("namespace", ""), meta["name"], apply)

    def _update_pdb_status(self) -> None:
        for pdb in self.store.list("PodDisruptionBudget"):
            b = budget(self.store, pdb)
            self._set_status(pdb, {"currentHealthy": b.healthy, "desiredHealthy": b.desired,
                                   "disruptionsAllowed": max(b.healthy - b.desired, 0),
                                   "expectedPods": b.expected, "observedGeneration": 1})
