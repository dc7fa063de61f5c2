"""Step 0 of the replace procedure on a plain kubeadm cluster: target, node address and ssh, without kubeone.

The node is reached at its Node's InternalIP (from the ring engine's snapshot) with the context's ssh settings
(`etcdtui.engine.flavour.NodeSsh`); there is no kubeone.yaml/tf.json, so `hosts` is empty and `kubeone` holds
only "not used" facts.
"""

from __future__ import annotations

import asyncio

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.core.names import InvalidNameError, validate_node_name
from etcdtui.engine.checks import KubeOneFacts
from etcdtui.engine.flavour import Flavour, NodeSsh
from etcdtui.engine.replace_context import ReplaceContext, _exists, target_row
from etcdtui.engine.snapshot import RingSnapshot

NOT_USED = "not used on a kubeadm cluster"


def no_kubeone() -> KubeOneFacts:
    return KubeOneFacts(None, "", None, None, None, None, None, "", None, None, None, "", None)


def node_address(snap: RingSnapshot, node: str) -> str | None:
    info = next((n for n in snap.nodes if n.name == node), None)
    return info.address("InternalIP") if info else None


async def gather_kubeadm_context(
    conn: ClusterConnection, snap: RingSnapshot, node: str, flavour: Flavour, node_ssh: NodeSsh | None, *,
    namespace: str = "kube-system", known_ip: str | None = None,
) -> ReplaceContext:
    problems: list[str] = []
    lines = [f"context {conn.context} ({conn.server})", f"flavour: {flavour.describe()}"]
    try:
        validate_node_name(node)
    except InvalidNameError as exc:
        problems.append(str(exc))
    row = target_row(snap, node)
    if row is None:
        problems.append(f"{node} runs no etcd member of this cluster (rows: "
                        f"{', '.join(r.node_name or r.key for r in snap.rows) or 'none'})")
    else:
        lines.append(f"target: node {node} ↔ member {row.member_name or '?'} ({row.member_id or 'no member id'}) "
                     f"↔ pod {row.pod_name or '?'}")
    # After step 7 the Node is gone: the address journaled at step 0 still says where the machine is.
    node_ip = node_address(snap, node) or known_ip
    settings = node_ssh or NodeSsh()
    ssh = None
    if node_ip is None:
        problems.append(f"node {node} has no InternalIP: no address to ssh to")
    else:
        ssh = settings.target(node, node_ip)
        bastion = f" via bastion {ssh.bastion.user}@{ssh.bastion.address}" if ssh.bastion else ""
        source = ("contexts.<name>.ssh" if settings != NodeSsh()
                  else "defaults: set contexts.<name>.ssh in config.yaml")
        lines.append(f"ssh {ssh.hop.user}@{ssh.hop.address}{bastion} ({source}), host keys from {ssh.known_hosts}")
        if not await asyncio.to_thread(_exists, ssh.known_hosts):
            problems.append(f"known_hosts {ssh.known_hosts} does not exist: host keys cannot be verified")
    lines.append("re-join: kubeadm upload-certs + token create on a healthy control-plane node, "
                 "kubeadm join --control-plane on the target")
    node_info = next((n for n in snap.nodes if n.name == node), None)
    return ReplaceContext(node, conn.context, conn.server, namespace, row, node_ip, None, (), ssh, no_kubeone(),
                          node_info.kubelet_version if node_info else None, tuple(dict.fromkeys(problems)), (),
                          tuple(lines))
