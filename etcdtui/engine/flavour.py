"""A cluster's flavour, decided once per context: KubeOne or plain kubeadm.

From the context's resolved `ClusterSettings` (etcdtui.engine.context_settings, the one settings path):

* `flavour: kubeone|kubeadm` (flag, config.yaml `contexts.<name>.flavour`, or the kubeconfig extension) wins;
* else KubeOne when a kubeone manifest is set (a lab's arrives through the extension `lab up` writes);
* else kubeadm.

A kubeadm cluster has no kubeone.yaml to say how its hosts are reached, so nodes are reached at their Node's
InternalIP with the context's `ssh` settings (user, port, identity_file, known_hosts, bastion `user@host:port`).
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdtui.cluster.ssh_target import DEFAULT_KNOWN_HOSTS, SshHop, SshTarget
from etcdtui.engine.context_settings import FLAVOURS, ClusterSettings, SshSettings

KUBEONE, KUBEADM = FLAVOURS


@dataclass(frozen=True)
class NodeSsh:
    """How a kubeadm cluster's nodes are reached (at the Node's InternalIP)."""

    user: str = "root"
    port: int = 22
    identity_file: str | None = None  # None: ssh-agent and the default ~/.ssh keys
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    bastion: SshHop | None = None

    @classmethod
    def of(cls, ssh: SshSettings) -> NodeSsh:
        """The context's ssh settings with the kubeadm defaults (root, port 22, ~/.ssh/known_hosts)."""
        user = ssh.user or "root"
        bastion = None
        if ssh.bastion:
            b_user, host, b_port = ssh.bastion_hop()
            bastion = SshHop(host, b_port, b_user or user, ssh.identity_file)
        return cls(user, ssh.port or 22, ssh.identity_file, ssh.known_hosts or DEFAULT_KNOWN_HOSTS, bastion)

    def target(self, node: str, address: str) -> SshTarget:
        return SshTarget(node, SshHop(address, self.port, self.user, self.identity_file), self.bastion,
                         self.known_hosts)


@dataclass(frozen=True)
class Flavour:
    name: str  # "kubeone" | "kubeadm"
    reason: str  # how it was decided, shown in the header and the plan

    @property
    def is_kubeadm(self) -> bool:
        return self.name == KUBEADM

    def describe(self) -> str:
        return f"{self.name} ({self.reason})"


def decide(settings: ClusterSettings) -> Flavour:
    if settings.flavour in FLAVOURS:
        return Flavour(settings.flavour, "set in the context's settings")
    if settings.kubeone.manifest:
        return Flavour(KUBEONE, f"kubeone manifest {settings.kubeone.manifest}")
    return Flavour(KUBEADM, "no kubeone manifest configured or found")
