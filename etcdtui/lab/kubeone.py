"""The lab's side of `kubeone`: the files KubeOne reads (`kubeone.yaml`, `tf.json`), the `bin/kubeone`
launcher, and the daemon's `/kubeone/` control routes that do the work `kubeone apply` asks for
(re-join a reset node, force-upgrade members with KubeOne's corruption-check flags).

The client half (argument parsing, plan text, prompt) is `kubeone_cli.py`; it reaches these routes over the
daemon's unix control socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh
import yaml
from aiohttp import web

import etcdtui
from etcdtui.lab.api_endpoint import api_endpoint
from etcdtui.lab.kube_objects import KUBELET_VERSION
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.member_join import join_with_retries
from etcdtui.lab.objects import NotFound

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring
    from etcdtui.lab.sshd import NodeAccess

log = logging.getLogger(__name__)

CLUSTER_NAME = "etcdtui-lab"
KUBERNETES_VERSION = KUBELET_VERSION.removeprefix("v")  # kubeone.yaml's versions.kubernetes has no `v`
JOIN_SETTLE = 1.0  # KubeOne waits 15 s before each join; the lab's components are up at once
PROGRESS_QUEUE = 1000  # progress records kept for a slow reader; more are dropped and counted

RING_KEY: web.AppKey[Ring] = web.AppKey("kubeone_ring")
# The apply in progress (at most one per lab); also keeps a reference so the task is not collected.
RUNNING_KEY: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("kubeone_running")


# == files ==================================================================================================
def _openssh_public(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 AAAA...` without the comment, as KubeOne's sshHostPublicKey fields hold it."""
    algo, data = key.export_public_key("openssh").decode().split()[:2]
    return f"{algo} {data}"


def _public_key(access: NodeAccess, node: str) -> str:
    return _openssh_public(access.nodes[node].host_key)


def kubeone_manifest(ring: Ring, layout: LabLayout, access: NodeAccess) -> dict[str, Any]:
    """A KubeOneCluster (v1beta2, the apiVersion every KubeOne from 1.4 to 1.14 accepts)."""
    host, port = api_endpoint(layout)
    hosts: list[dict[str, Any]] = []
    for node in ring.nodes:
        ep = access.nodes[node]
        entry: dict[str, Any] = {
            "publicAddress": ep.host,
            "privateAddress": ep.host,
            "sshPort": ep.port,
            "sshUsername": access.user,
            "sshPrivateKeyFile": str(access.client_key_path),
            "sshHostPublicKey": _public_key(access, node),
            "hostname": node,
        }
        if access.bastion is not None:
            entry.update(
                bastion=access.bastion.host,
                bastionPort=access.bastion.port,
                bastionUser=access.user,
                bastionHostPublicKey=_openssh_public(access.bastion.host_key),
            )
        hosts.append(entry)
    return {
        "apiVersion": "kubeone.k8c.io/v1beta2",
        "kind": "KubeOneCluster",
        "name": CLUSTER_NAME,
        "versions": {"kubernetes": KUBERNETES_VERSION},
        "cloudProvider": {"none": {}},
        "controlPlane": {"hosts": hosts},
        "apiEndpoint": {"host": host, "port": port},
    }


def _tf_type(value: Any) -> Any:
    """Terraform's JSON type expression for a value, as `terraform output -json` writes it."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "dynamic"
    if isinstance(value, list):
        return ["tuple", [_tf_type(v) for v in value]]
    return ["object", {k: _tf_type(v) for k, v in value.items()}]


def _tf_output(value: Any) -> dict[str, Any]:
    return {"sensitive": False, "type": _tf_type(value), "value": value}


def terraform_output(ring: Ring, layout: LabLayout, access: NodeAccess) -> dict[str, Any]:
    """KubeOne's terraform output (`kubeone_api`, `kubeone_hosts`): hosts by index, one ssh_port for all."""
    host, _port = api_endpoint(layout)
    endpoints = [access.nodes[n] for n in ring.nodes]
    control_plane: dict[str, Any] = {
        "cluster_name": CLUSTER_NAME,
        "cloud_provider": "none",
        "private_address": [ep.host for ep in endpoints],
        "public_address": [ep.host for ep in endpoints],
        "hostnames": list(ring.nodes),
        "operating_system": "ubuntu",
        "ssh_user": access.user,
        "ssh_port": endpoints[0].port,
        "ssh_private_key_file": str(access.client_key_path),
        "ssh_agent_socket": "",
        "ssh_hosts_keys": [_public_key(access, n) for n in ring.nodes],
    }
    if access.bastion is not None:
        control_plane.update(
            bastion=access.bastion.host,
            bastion_port=access.bastion.port,
            bastion_user=access.user,
            bastion_host_key=_openssh_public(access.bastion.host_key),
        )
    return {
        "kubeone_api": _tf_output({"endpoint": host}),
        "kubeone_hosts": _tf_output({"control_plane": control_plane}),
    }


LAUNCHER = """#!{python}
# kubeone for the etcdtui lab in {lab_dir} (written by `etcdtui lab`)
import sys
sys.path.insert(0, {package_parent!r})
from etcdtui.lab.kubeone_cli import main
sys.exit(main(sys.argv[1:], lab_dir={lab_dir!r}))
"""


def write_kubeone_files(ring: Ring, layout: LabLayout, ssh: NodeAccess) -> None:
    from etcdtui.lab.sshd import write_private

    manifest = yaml.safe_dump(kubeone_manifest(ring, layout, ssh), sort_keys=False)
    write_private(layout.kubeone_yaml, manifest.encode(), 0o644)
    tf = json.dumps(terraform_output(ring, layout, ssh), indent=2) + "\n"
    write_private(layout.tf_json, tf.encode(), 0o644)
    launcher = LAUNCHER.format(
        python=sys.executable,
        lab_dir=str(layout.root),
        package_parent=str(Path(etcdtui.__file__).resolve().parent.parent),
    )
    write_private(layout.kubeone_bin, launcher.encode(), 0o755)
    os.chmod(layout.kubeone_bin, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


# == control routes =========================================================================================
def _node_ready(node_obj: dict[str, Any] | None) -> bool:
    if node_obj is None:
        return False
    conditions = node_obj.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def cluster_state(ring: Ring) -> dict[str, Any]:
    """What KubeOne's probes would find on each host: Node object, kubelet, etcd member health."""
    hosts = []
    for node in ring.nodes:
        m = ring.member(node)
        node_obj = ring.store.find("Node", "", node)
        kubelet = node_obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion") if node_obj else None
        hosts.append({
            "hostname": node,
            "private_address": m.host_ip,
            "node_exists": node_obj is not None,
            "node_ready": _node_ready(node_obj),
            "kubelet_version": kubelet,
            "reset": m.reset,
            "running": m.running,
            # KubeOne probes the API server, which stays healthy on a member that serves reads, even under a
            # CORRUPT alarm (etcd's own /health then says false): a running member is what counts.
            "healthy": m.running and not m.reset,
            "etcd_health": bool(ring.healthy(node)) if hasattr(ring, "healthy") else m.running,
            "member_id": m.member_id,
        })
    return {
        "etcd_version": ring.etcd_version,
        "kubernetes_version": KUBERNETES_VERSION,
        "corrupt_checks_flags": ring.corrupt_checks_flags(),
        "hosts": hosts,
    }


def merge_flags(base: list[str], extra: list[str]) -> list[str]:
    """`extra` wins per flag name, so KubeOne's `--experimental-corrupt-check-time=240m` replaces the lab's."""
    names = {f.split("=", 1)[0] for f in extra}
    return [f for f in base if f.split("=", 1)[0] not in names] + list(extra)


Emit = Callable[..., Awaitable[None]]


async def _etcd_member_names(ring: Ring) -> set[str]:
    rc, out, err = await ring.run_etcdctl("member", "list", "-w", "json")
    if rc != 0:
        raise RuntimeError(f"etcd member list failed: {err.strip() or out.strip()}")
    return {str(m.get("name", "")) for m in json.loads(out).get("members", [])}


async def _repair_then_join(ring: Ring, nodes: list[str], emit: Emit) -> None:
    await emit("info", "Check if cluster needs any repairs...")
    names = await _etcd_member_names(ring)
    for node in nodes:
        if node in names and not ring.member(node).running:
            # kubeadm reset could not remove it (it only warns): KubeOne removes members that are not alive.
            await emit("info", f'removing etcd member "{node}", for it\'s not alive')
            await ring.remove_member(node)
    await emit("info", "Joining controlplane node...")
    for node in nodes:
        ip = ring.member(node).host_ip
        await emit("info", f"Waiting {JOIN_SETTLE:.0f}s to ensure main control plane components are up...", node=ip)
        await asyncio.sleep(JOIN_SETTLE)
        await emit("info", "Joining control plane node", node=ip)
        await join_with_retries(ring, node)
    await emit("info", "Approving pending CSRs...")


def _set_unschedulable(ring: Ring, node: str, value: bool) -> None:
    def mutate(obj: dict[str, Any]) -> None:
        if value:
            obj.setdefault("spec", {})["unschedulable"] = True
        else:
            obj.get("spec", {}).pop("unschedulable", None)

    with contextlib.suppress(NotFound):
        ring.store.update("Node", "", node, mutate)


async def _force_upgrade(ring: Ring, nodes: list[str], kubeone_flags: list[str], emit: Emit) -> None:
    binaries = getattr(ring, "binaries", None)
    for flag in kubeone_flags:
        if binaries is not None and not binaries.supports(flag):
            # A real KubeOne would render it and etcd would exit on the unknown flag; the lab leaves it out.
            await emit("warn", f"etcd {ring.etcd_version} does not know {flag.split('=', 1)[0]}; the lab leaves it out")
    if binaries is not None:
        kubeone_flags = [f for f in kubeone_flags if binaries.supports(f)]
    flags = merge_flags(ring.corrupt_checks_flags(), kubeone_flags)
    for i, node in enumerate(nodes):
        role = "leader" if i == 0 else "follower"
        ip = ring.member(node).host_ip
        await emit("info", f"Cordoning {role} control plane...", node=ip)
        _set_unschedulable(ring, node, True)
        await emit("info", f"Running 'kubeadm upgrade' on {role} control plane node...", node=ip)
        started = time.monotonic()
        await ring.restart_with_flags(node, flags)
        await emit("info", f"Uncordoning {role} control plane...", node=ip)
        _set_unschedulable(ring, node, False)
        await emit("info", f"etcd member is healthy again after {time.monotonic() - started:.1f}s", node=ip)
    ring.set_default_flags(flags)


async def _run_apply(ring: Ring, body: dict[str, Any], emit: Emit) -> None:
    action, nodes = body["action"], body["nodes"]
    if action == "join":
        await _repair_then_join(ring, nodes, emit)
    else:
        await _force_upgrade(ring, nodes, [str(f) for f in body.get("flags", [])], emit)


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _state(request: web.Request) -> web.Response:
    return web.json_response(cluster_state(request.app[RING_KEY]))


async def _apply(request: web.Request) -> web.StreamResponse:
    ring = request.app[RING_KEY]
    running = request.app[RUNNING_KEY]
    try:
        body = await request.json()
    except ValueError:
        return _bad_request("body must be JSON")
    if not isinstance(body, dict) or body.get("action") not in {"join", "force-upgrade"}:
        return _bad_request('"action" must be "join" or "force-upgrade"')
    nodes = body.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        return _bad_request('"nodes" must be a non-empty list of node names')
    unknown = [n for n in nodes if n not in ring.nodes]
    if unknown:
        return _bad_request(f"unknown node {unknown[0]!r} (lab nodes: {', '.join(ring.nodes)})")

    if running:
        return web.json_response({"error": "another kubeone apply is still running on this lab"}, status=409)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(PROGRESS_QUEUE)
    dropped = 0

    def offer(record: dict[str, Any] | None) -> None:
        nonlocal dropped
        try:
            queue.put_nowait(record)
        except asyncio.QueueFull:
            dropped += 1

    async def emit(level: str, msg: str, **fields: str) -> None:
        log.info("kubeone %s: %s %s", body["action"], msg, fields or "")
        offer({"level": level, "msg": msg, **fields})

    async def work() -> None:
        try:
            await _run_apply(ring, body, emit)
            offer({"done": True, "ok": True, "dropped": dropped})
        except Exception as exc:  # reported to the client as KubeOne's task failure
            log.exception("kubeone %s failed", body["action"])
            offer({"done": True, "ok": False, "error": str(exc), "dropped": dropped})
        finally:
            offer(None)

    # The work is a task of its own: a client that goes away must not stop a join half done.
    task = asyncio.create_task(work(), name=f"kubeone-{body['action']}")
    running.add(task)
    task.add_done_callback(running.discard)

    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    while (record := await queue.get()) is not None:
        await response.write((json.dumps(record) + "\n").encode())
    await response.write_eof()
    return response


def add_kubeone_routes(app: web.Application, ring: Ring) -> None:
    app[RING_KEY] = ring
    app[RUNNING_KEY] = set()
    app.router.add_get("/kubeone/state", _state)
    app.router.add_post("/kubeone/apply", _apply)
