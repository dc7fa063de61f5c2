"""Step 0 of the replace procedure: who is the target, where is it, how to reach it (no change to anything).

Sources: the ring engine's snapshot (pods, nodes, members, findings), `kubeone version` and kubeone.yaml/tf.json
(KubeOne's own formats, via `ChecksService.kubeone_facts` and the core parsers), and the known_hosts file the
host keys are verified against (the context's `ssh.known_hosts`, else `~/.ssh/known_hosts`).
Also the few raw API calls the procedure makes (node, pod, logs, delete), through `ApiClient` like `rawapi.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.objects import NodeInfo, node_from_dict
from etcdtui.cluster.rawapi import get_raw
from etcdtui.cluster.ssh_target import DEFAULT_KNOWN_HOSTS, SshHop, SshTarget
from etcdtui.core.checklist import MemberFacts
from etcdtui.core.findings import Severity
from etcdtui.core.kubeone import ControlPlaneHost, effective_hosts, host_for_node, parse_tf_output
from etcdtui.core.names import InvalidNameError, validate_node_name
from etcdtui.engine.checks import ChecksService, KubeOneFacts, KubeOneSettings
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.snapshot import MemberRow, RingSnapshot

API_TIMEOUT = 15.0


@dataclass(frozen=True)
class ReplaceContext:
    node: str
    context: str
    server: str
    namespace: str
    row: MemberRow | None  # the target's row in the ring view
    node_ip: str | None  # the Node's InternalIP (or the host's private address when the Node is gone)
    host: ControlPlaneHost | None
    hosts: tuple[ControlPlaneHost, ...]  # every control-plane host of kubeone.yaml/tf.json
    ssh: SshTarget | None
    kubeone: KubeOneFacts
    kubelet_version: str | None
    problems: tuple[str, ...]  # anything here stops the procedure (one line each)
    warnings: tuple[str, ...] = ()
    lines: tuple[str, ...] = field(default=())  # what step 0 shows

    @property
    def pod(self) -> str:
        return self.row.pod_name if self.row and self.row.pod_name else f"etcd-{self.node}"


# Corruption findings a member logs about the ring, not about itself: under a CORRUPT alarm every member logs
# the health-check refusals and `corrupt cluster` errors alike, and the leader logs the periodic check's
# mismatch about a peer. Evidence against a member is its hash or revision, or its own startup check.
CLUSTER_WIDE_KINDS = frozenset({
    "corruption.alarm_active", "corruption.alarm_raised", "corruption.alarm_corrupt",
    "corruption.corrupt_cluster_error", "corruption.periodic_hash_mismatch",
})


def member_facts(snap: RingSnapshot) -> list[MemberFacts]:
    """The gates' view of each member: name, health, learner, corruption evidence (from the core's findings)."""
    facts = []
    for row in snap.rows:
        if row.member_id is None:
            continue  # a pod without a member (e.g. the reset target's leftover pod)
        evidence = tuple(f.message for f in row.findings if f.is_corruption and f.severity >= Severity.WARNING
                         and f.kind not in CLUSTER_WIDE_KINDS)
        if row.hash_agrees is False and not evidence:
            evidence = (f"{row.member_name or row.key}: KV hash differs from its peers",)
        facts.append(MemberFacts(row.member_name or row.node_name or row.key, row.member_id, row.healthy,
                                 row.is_learner, evidence))
    return facts


def target_row(snap: RingSnapshot, node: str) -> MemberRow | None:
    return next((r for r in snap.rows if r.node_name == node or r.member_name == node), None)


def ssh_target(node: str, host: ControlPlaneHost, ssh: SshSettings) -> SshTarget:
    """KubeOne's way to the host (§7.2): the public (else private) address as sshUsername, bastion as a jump.

    The context's ssh settings override the user and the bastion; host keys come from its known_hosts."""
    key = host.ssh_private_key_file or None
    user = ssh.user or host.ssh_username
    bastion = None
    if ssh.bastion:
        b_user, b_host, b_port = ssh.bastion_hop()
        bastion = SshHop(b_host, b_port, b_user or user, key)
    elif host.bastion:
        bastion = SshHop(host.bastion, host.bastion_port, host.bastion_user or user, key)
    return SshTarget(node, SshHop(host.ssh_address, host.ssh_port, user, key), bastion,
                     ssh.known_hosts or DEFAULT_KNOWN_HOSTS)


def _load_tf(path: str | None) -> tuple[tuple[ControlPlaneHost, ...], str | None]:
    if not path:
        return (), None
    try:
        with open(path, encoding="utf-8") as fh:
            return parse_tf_output(json.load(fh)), None
    except OSError as exc:
        return (), f"tf.json {path}: {exc.strerror or exc}"
    except ValueError as exc:
        return (), f"tf.json {path}: {str(exc).splitlines()[0]}"


async def gather_context(
    conn: ClusterConnection, snap: RingSnapshot, node: str, settings: KubeOneSettings, *,
    ssh_settings: SshSettings | None = None, namespace: str = "kube-system",
) -> ReplaceContext:
    problems: list[str] = []
    warnings: list[str] = []
    lines: list[str] = [f"context {conn.context} ({conn.server})"]
    try:
        validate_node_name(node)
    except InvalidNameError as exc:
        problems.append(str(exc))
    row = target_row(snap, node)
    node_info = next((n for n in snap.nodes if n.name == node), None)
    node_ip = node_info.address("InternalIP") if node_info else None
    if row is None:
        problems.append(f"{node} runs no etcd member of this cluster (rows: "
                        f"{', '.join(r.node_name or r.key for r in snap.rows) or 'none'})")
    else:
        lines.append(f"target: node {node} ↔ member {row.member_name or '?'} ({row.member_id or 'no member id'}) "
                     f"↔ pod {row.pod_name or '?'}")
    facts = await ChecksService(conn, settings, namespace=namespace).kubeone_facts()
    problems += [p for p in (facts.binary_error, facts.version_error, facts.manifest_error, facts.tfjson_error) if p]
    if facts.version is not None:
        lines.append(f"kubeone {facts.version.git_version} ({facts.binary})")
        if facts.support is not None and facts.support.supported is not True:
            warnings.append(facts.support.reason)  # < 1.4.1: the re-joined member gets no corruption checks
    tf_hosts, tf_error = await asyncio.to_thread(_load_tf, facts.tfjson) if facts.tfjson else ((), None)
    if tf_error:
        problems.append(tf_error)
    host = None
    hosts: tuple[ControlPlaneHost, ...] = ()
    if facts.cluster is not None:
        hosts = effective_hosts(facts.cluster, tf_hosts)
        host = host_for_node(hosts, node, [node_ip] if node_ip else [])
        lines.append(f"kubeone.yaml {facts.manifest}" + (f", tf.json {facts.tfjson}" if facts.tfjson else "") +
                     f": {len(hosts)} control-plane hosts, Kubernetes {facts.cluster.kubernetes_version}")
        if host is None:
            problems.append(f"no control-plane host in kubeone.yaml/tf.json is {node} (by hostname or InternalIP)")
        if row is not None:
            for other in snap.rows:
                name = other.node_name
                if name and host_for_node(hosts, name, [a for a in [_ip(snap, name)] if a]) is None:
                    warnings.append(f"node {name} maps to no kubeone.yaml/tf.json host: KubeOne may misjudge it")
    if host is not None and node_ip is None:
        node_ip = host.private_address or None
    if host is not None and node_ip and node_ip not in (host.private_address, host.public_address):
        problems.append(f"the Node's InternalIP {node_ip} is not the host's address in kubeone.yaml/tf.json "
                        f"({host.private_address})")
    kubelet = node_info.kubelet_version if node_info else None
    cp_kubelets = {n.kubelet_version for n in snap.nodes if n.kubelet_version and
                   any(r.node_name == n.name for r in snap.rows)}
    if facts.cluster is not None and cp_kubelets:
        want = facts.cluster.kubernetes_version.lstrip("v")
        have = sorted(v.lstrip("v") for v in cp_kubelets if v)
        lines.append(f"kubelet {', '.join(have)} vs versions.kubernetes {want}")
        if any(v != want for v in have):
            problems.append(f"versions.kubernetes {want} differs from the control-plane kubelets ({', '.join(have)}): "
                            "kubeone apply would refuse (repair and upgrade at once) or upgrade")
    ssh = None
    if host is not None:
        ssh = ssh_target(node, host, ssh_settings or SshSettings())
        bastion = f" via bastion {ssh.bastion.user}@{ssh.bastion.address}" if ssh.bastion else ""
        lines.append(f"ssh {ssh.hop.user}@{ssh.hop.address}{bastion}, host keys from {ssh.known_hosts}")
        if not await asyncio.to_thread(_exists, ssh.known_hosts):
            problems.append(f"known_hosts {ssh.known_hosts} does not exist: host keys cannot be verified")
    return ReplaceContext(node, conn.context, conn.server, namespace, row, node_ip, host, hosts, ssh, facts, kubelet,
                          tuple(dict.fromkeys(problems)), tuple(dict.fromkeys(warnings)), tuple(lines))


def _exists(path: str) -> bool:
    return os.path.exists(os.path.expanduser(path))


def _ip(snap: RingSnapshot, node: str) -> str | None:
    info: NodeInfo | None = next((n for n in snap.nodes if n.name == node), None)
    return info.address("InternalIP") if info else None


# -- raw API calls --------------------------------------------------------------------------------------
async def _call(conn: ClusterConnection, method: str, path: str, params: dict[str, str],
                query: list[tuple[str, Any]] | None = None) -> tuple[int, bytes]:
    api: Any = conn.api
    serialized = await api.param_serialize(
        method=method, resource_path=path, path_params=params, query_params=query or [],
        header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
    )
    response = await api.call_api(*serialized, _preload_content=False, _request_timeout=API_TIMEOUT)
    raw = response.response
    try:
        return raw.status, await raw.read()
    finally:
        raw.release()


async def read_node(conn: ClusterConnection, node: str) -> NodeInfo | None:
    resp: Any = await get_raw(conn.api, "/api/v1/nodes/{name}", {"name": node}, [], API_TIMEOUT)
    try:
        status, body = resp.status, await resp.read()
    finally:
        resp.release()
    if status == 404:
        return None
    if status != 200:
        raise conn.error(RuntimeError(f"HTTP {status}"), f"get node {node}", "get nodes")
    return node_from_dict(json.loads(body))


async def delete_node(conn: ClusterConnection, node: str) -> bool:
    """DELETE the Node; False when it was already gone (idempotent)."""
    status, body = await _call(conn, "DELETE", "/api/v1/nodes/{name}", {"name": node})
    if status == 404:
        return False
    if status not in (200, 202):
        detail = ""
        try:
            detail = str(json.loads(body).get("message", ""))
        except ValueError:
            pass
        raise conn.error(RuntimeError(f"HTTP {status} {detail}".strip()), f"delete node {node}", "delete nodes")
    return True


async def read_pod(conn: ClusterConnection, namespace: str, pod: str) -> dict[str, Any] | None:
    resp: Any = await get_raw(conn.api, "/api/v1/namespaces/{namespace}/pods/{name}",
                              {"namespace": namespace, "name": pod}, [], API_TIMEOUT)
    try:
        status, body = resp.status, await resp.read()
    finally:
        resp.release()
    if status == 404:
        return None
    if status != 200:
        raise conn.error(RuntimeError(f"HTTP {status}"), f"get pod {namespace}/{pod}", "get pods")
    obj: dict[str, Any] = json.loads(body)
    return obj


async def pod_log_messages(conn: ClusterConnection, namespace: str, pod: str, limit_bytes: int = 1 << 20) -> list[str]:
    """The `msg` field of each JSON log line of the pod's etcd container (bounded read)."""
    resp: Any = await get_raw(conn.api, "/api/v1/namespaces/{namespace}/pods/{name}/log",
                              {"namespace": namespace, "name": pod},
                              [("container", "etcd"), ("limitBytes", limit_bytes)], API_TIMEOUT)
    try:
        status, body = resp.status, await resp.content.read(limit_bytes)
    finally:
        resp.release()
    if status != 200:
        return []
    messages = []
    for line in body.splitlines():
        start = line.find(b"{")
        if start < 0:
            continue
        try:
            obj = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("msg"), str):
            messages.append(obj["msg"])
    return messages
