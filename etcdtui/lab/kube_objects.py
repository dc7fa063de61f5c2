"""Builders for the lab's Kubernetes objects, shaped like what a kubeadm cluster's API server returns."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from etcdtui.lab.layout import NAMESPACE
from etcdtui.lab.objects import ContainerRun, Obj, now_rfc3339

KUBELET_VERSION = "v1.32.4"  # same as the lab API server's /version (api/discovery.py GIT_VERSION)
CONTAINERD = "containerd://1.7.13"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node_object(node: str, ip: str, index: int) -> Obj:
    uid_seed = hashlib.sha256(f"{node}-{secrets.token_hex(4)}".encode()).hexdigest()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": node,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
                "node.kubernetes.io/exclude-from-external-load-balancers": "",
            },
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": f"10.244.{index - 1}.0/24", "podCIDRs": [f"10.244.{index - 1}.0/24"],
                 "taints": [dict(CONTROL_PLANE_TAINT)]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": node}],
            "allocatable": {"cpu": "2", "ephemeral-storage": "46779129369", "memory": "3927080Ki", "pods": "110"},
            "capacity": {"cpu": "2", "ephemeral-storage": "50758604Ki", "memory": "4029480Ki", "pods": "110"},
            "conditions": node_conditions(ready=True),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": uid_seed[:8] + "-" + uid_seed[8:12] + "-" + uid_seed[12:16] + "-" + uid_seed[16:20] + "-" + uid_seed[20:32],
                "containerRuntimeVersion": CONTAINERD,
                "kernelVersion": "5.15.0-105-generic",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": uid_seed[32:64],
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS",
                "systemUUID": uid_seed[:8] + "-" + uid_seed[8:12] + "-" + uid_seed[12:16] + "-" + uid_seed[16:20] + "-" + uid_seed[20:32],
            },
        },
    }


def node_conditions(*, ready: bool) -> list[dict[str, str]]:
    now = now_rfc3339()

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": now}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        if ready
        else cond("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
    ]


def etcd_pod(
    *, node: str, node_uid: str, ip: str, image: str, command: list[str], advertise_client_url: str
) -> Obj:
    config_hash = hashlib.md5(" ".join(command).encode(), usedforsecurity=False).hexdigest()
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"etcd-{node}",
            "namespace": NAMESPACE,
            "labels": {"component": "etcd", "tier": "control-plane"},
            "annotations": {
                "kubeadm.kubernetes.io/etcd.advertise-client-urls": advertise_client_url,
                "kubernetes.io/config.hash": config_hash,
                "kubernetes.io/config.mirror": config_hash,
                "kubernetes.io/config.seen": now_rfc3339(),
                "kubernetes.io/config.source": "file",
            },
            "ownerReferences": [{"apiVersion": "v1", "controller": True, "kind": "Node", "name": node, "uid": node_uid}],
        },
        "spec": {
            "containers": [
                {
                    "name": "etcd",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "volumeMounts": [
                        {"mountPath": "/var/lib/etcd", "name": "etcd-data"},
                        {"mountPath": "/etc/kubernetes/pki/etcd", "name": "etcd-certs"},
                    ],
                }
            ],
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": True,
            "hostNetwork": True,
            "nodeName": node,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "terminationGracePeriodSeconds": 30,
            "tolerations": [{"effect": "NoExecute", "operator": "Exists"}],
            "volumes": [
                {"hostPath": {"path": "/etc/kubernetes/pki/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-certs"},
                {"hostPath": {"path": "/var/lib/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-data"},
            ],
        },
        "status": {"phase": "Pending", "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "qosClass": "Burstable", "startTime": now_rfc3339(), "conditions": [], "containerStatuses": []},
    }


def container_status(
    *, name: str, image: str, image_id: str, restart_count: int, current: ContainerRun | None,
    previous: ContainerRun | None, waiting_reason: str | None, running: bool, ready: bool,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name, "image": image, "imageID": image_id, "restartCount": restart_count,
        "ready": ready, "started": running, "lastState": {}, "state": {},
    }
    if current is not None:
        status["containerID"] = f"containerd://{current.container_id}"
    if running and current is not None:
        status["state"] = {"running": {"startedAt": current.started_at}}
    elif waiting_reason == "CrashLoopBackOff" and current is not None:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": f"back-off restarting failed container {name}"}}
    elif waiting_reason:
        status["state"] = {"waiting": {"reason": waiting_reason}}
    elif current is not None and current.finished_at is not None:
        status["state"] = {"terminated": _terminated(current)}
    ended = current if (not running and current is not None and current.finished_at) else previous
    if ended is not None and ended.finished_at is not None and (running or waiting_reason == "CrashLoopBackOff"):
        status["lastState"] = {"terminated": _terminated(ended)}
    return status


def _terminated(run: ContainerRun) -> dict[str, Any]:
    return {"exitCode": run.exit_code if run.exit_code is not None else 0, "reason": run.reason or "Error",
            "startedAt": run.started_at, "finishedAt": run.finished_at,
            "containerID": f"containerd://{run.container_id}"}


def pod_conditions(*, scheduled: bool, initialized: bool, ready: bool) -> list[dict[str, Any]]:
    now = now_rfc3339()
    conds = [
        ("PodReadyToStartContainers", initialized), ("Initialized", initialized), ("Ready", ready),
        ("ContainersReady", ready), ("PodScheduled", scheduled),
    ]
    return [{"type": t, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": now}
            for t, ok in conds]
