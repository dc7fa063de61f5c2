"""The etcd static pod manifest of a lab node, `/etc/kubernetes/manifests/etcd.yaml`, as kubeadm writes it.

`sudo cat` renders it from the member's real command line (kubeadm's paths); `sudo tee` writes it, and like the
kubelet watching the manifests directory the lab restarts the member with the new command's corruption-check
flags (the only part of the command the lab honours; other edits are logged and ignored). Like the kubelet, it
does so on its own time, after `tee` has returned (`KUBELET_SYNC` later), so a caller must wait for the new pod
itself. Root only, like the real 0600 file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

log = logging.getLogger(__name__)

Write = Callable[[str], Awaitable[None]]
MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
HONOURED = ("--experimental-initial-corrupt-check", "--experimental-corrupt-check-time",
            "--experimental-compact-hash-check-enabled", "--experimental-compact-hash-check-time")
MAX_MANIFEST = 256 * 1024
KUBELET_SYNC = 2.0  # the kubelet notices a changed static pod manifest on its next sync, not while tee writes
_RESTARTS: set[asyncio.Task[None]] = set()  # keeps the pending restarts referenced until they end


def handles(name: str, args: list[str]) -> bool:
    return name in {"cat", "tee"} and args == [MANIFEST]


def render(ring: Ring, node: str) -> str:
    m = ring.member(node)
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"annotations": {"kubeadm.kubernetes.io/etcd.advertise-client-urls": m.client_url},
                     "labels": {"component": "etcd", "tier": "control-plane"},
                     "name": "etcd", "namespace": "kube-system"},
        "spec": {"containers": [{
            "command": list(m.command), "image": ring.image, "imagePullPolicy": "IfNotPresent", "name": "etcd",
            "volumeMounts": [{"mountPath": "/var/lib/etcd", "name": "etcd-data"},
                             {"mountPath": "/etc/kubernetes/pki/etcd", "name": "etcd-certs"}]}],
            "hostNetwork": True, "priorityClassName": "system-node-critical",
            "volumes": [{"hostPath": {"path": "/etc/kubernetes/pki/etcd", "type": "DirectoryOrCreate"},
                         "name": "etcd-certs"},
                        {"hostPath": {"path": "/var/lib/etcd", "type": "DirectoryOrCreate"}, "name": "etcd-data"}]},
        "status": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


async def run(ring: Ring, node: str, name: str, *, root: bool, out: Write, err: Write, stdin: Any) -> int:
    m = ring.member(node)
    if m.reset:
        await err(f"{name}: {MANIFEST}: No such file or directory\n")
        return 1
    if not root:
        await err(f"{name}: {MANIFEST}: Permission denied\n")
        return 1
    if name == "cat":
        await out(render(ring, node))
        return 0
    data = await stdin.read(MAX_MANIFEST + 1)
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    await out(text)  # tee echoes its input
    try:
        doc = yaml.safe_load(text)
        container = next(c for c in doc["spec"]["containers"] if c.get("name") == "etcd")
        command = [str(w) for w in container["command"]]
    except (yaml.YAMLError, TypeError, KeyError, StopIteration):
        # The kubelet would log the parse error and keep the old pod: the member keeps running as it was.
        log.warning("etcd manifest on %s does not parse: the kubelet keeps the old pod", node)
        return 0
    if len(text) > MAX_MANIFEST:
        return 0
    if command == list(m.command):
        return 0  # same pod spec: the kubelet changes nothing
    extras = [w for w in command if w.split("=", 1)[0] in HONOURED]
    ignored = [w for w in command if w not in m.command and w.split("=", 1)[0] not in HONOURED]
    if ignored:
        log.info("etcd manifest on %s: the lab ignores %s", node, ", ".join(ignored))
    task = asyncio.create_task(_restart_later(ring, node, extras), name=f"kubelet-restart-{node}")
    _RESTARTS.add(task)
    task.add_done_callback(_RESTARTS.discard)
    return 0


async def _restart_later(ring: Ring, node: str, flags: list[str]) -> None:
    await asyncio.sleep(KUBELET_SYNC)
    try:
        await ring.restart_with_flags(node, flags)
    except Exception:  # the kubelet logs a failed pod start and keeps trying; the lab logs it
        log.exception("restarting etcd on %s with the manifest's flags failed", node)
