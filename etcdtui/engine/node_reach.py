"""How etcdtui reaches a control-plane node over ssh, in the cluster's flavour (engine/flavour.py).

KubeOne: the host kubeone.yaml/tf.json maps the node to (its ssh user, key and bastion). kubeadm: the Node's
InternalIP (or an address journaled earlier, for when the Node is gone) with the context's `ssh` settings.
Shared by the backup, the dead-machine repair and the quorum-loss recovery.
"""

from __future__ import annotations

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh_target import SshTarget
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths, SshSettings
from etcdtui.engine.flavour import Flavour, NodeSsh, decide
from etcdtui.engine.kubeadm_context import node_address
from etcdtui.engine.replace_context import gather_context
from etcdtui.engine.snapshot import RingSnapshot


def flavour_of(kubeone: KubeOneSettings, ssh: SshSettings | None, flavour: str | None) -> Flavour:
    """The context's flavour from its resolved settings: the `flavour` setting, else detection."""
    return decide(ClusterSettings(KubeOnePaths(manifest=kubeone.manifest), ssh or SshSettings(), flavour))


async def node_ssh_target(
    conn: ClusterConnection, snap: RingSnapshot, node: str, kubeone: KubeOneSettings, ssh: SshSettings | None, *,
    flavour: Flavour, namespace: str = "kube-system", known_address: str | None = None,
) -> tuple[SshTarget | None, tuple[str, ...]]:
    """(the ssh target, None when there is none; the problems found on the way)."""
    if flavour.is_kubeadm:
        address = node_address(snap, node) or known_address
        if address is None:
            return None, (f"node {node} has no InternalIP: no address to ssh to",)
        return NodeSsh.of(ssh or SshSettings()).target(node, address), ()
    ctx = await gather_context(conn, snap, node, kubeone, ssh_settings=ssh, namespace=namespace)
    return ctx.ssh, ctx.problems
