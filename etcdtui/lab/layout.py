"""Where everything of a lab lives inside its directory: one place, so every part agrees on the names.

The user-facing names (`kubeconfig`, `ssh_config`, `known_hosts`, `kubeone.yaml`, `tf.json`, `bin/kubeone`)
are a stable interface for users and scripts; the rest is the lab's own business.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

NODE_PREFIX = "lab-cp-"
NAMESPACE = "kube-system"


DEFAULT_NAME = "lab"
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")  # fits a kubeconfig context and a directory name


def _state_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "etcdtui"


def default_lab_dir(name: str = DEFAULT_NAME) -> Path:
    """The default lab keeps its historic place; named labs live side by side under `labs/`."""
    return _state_dir() / "lab" if name == DEFAULT_NAME else labs_dir() / name


def labs_dir() -> Path:
    return _state_dir() / "labs"


def valid_lab_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def lab_context(name: str = DEFAULT_NAME) -> str:
    """The kubeconfig context of a lab: `etcdtui-lab` for the default one, `etcdtui-NAME` otherwise."""
    return f"etcdtui-{name}"


def node_name(index: int) -> str:
    """1-based node index -> node name (`lab-cp-1`)."""
    return f"{NODE_PREFIX}{index}"


def etcd_pod_name(node: str) -> str:
    return f"etcd-{node}"


@dataclass(frozen=True)
class LabLayout:
    root: Path

    # -- stable, user-facing -------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def kubeone_yaml(self) -> Path:
        return self.root / "kubeone.yaml"

    @property
    def tf_json(self) -> Path:
        return self.root / "tf.json"

    @property
    def kubeone_bin(self) -> Path:
        return self.root / "bin" / "kubeone"

    # -- internal ------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        """JSON written by the daemon once everything is up: ports, pids, token (0600)."""
        return self.root / "lab.json"

    @property
    def pid_file(self) -> Path:
        return self.root / "lab.pid"

    @property
    def daemon_log(self) -> Path:
        return self.root / "lab.log"

    @property
    def control_socket(self) -> Path:
        """Unix socket (0600) of the daemon's control API, used by the CLI and bin/kubeone."""
        return self.root / "control.sock"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def service_account_dir(self) -> Path:
        """token, ca.crt, namespace of the exporter's service account, as a pod sees them (etcdtui/lab/api/rbac.py)."""
        return self.root / "serviceaccount"

    @property
    def ssh_dir(self) -> Path:
        """Host keys, the client key (`id_ed25519`) and authorized keys."""
        return self.root / "ssh"

    def node_dir(self, node: str) -> Path:
        return self.root / "nodes" / node

    def etcd_data_dir(self, node: str) -> Path:
        return self.node_dir(node) / "var-lib-etcd"

    def node_pki_dir(self, node: str) -> Path:
        """What the node has at /etc/kubernetes/pki/etcd (ca.crt, server.*, peer.*, healthcheck-client.*)."""
        return self.node_dir(node) / "pki-etcd"

    def container_logs_dir(self, pod: str) -> Path:
        return self.root / "logs" / pod


def layout_of(directory: str | None, name: str | None = None) -> LabLayout:
    """The lab a subcommand means: `--dir DIR`, else the default place of `--name NAME` (or of the default lab)."""
    if directory:
        return LabLayout(Path(directory).expanduser().resolve())
    return LabLayout(default_lab_dir(name or DEFAULT_NAME))
