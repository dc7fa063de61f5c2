"""A cluster's flavour, decided once per context: KubeOne or plain kubeadm.

* `contexts.<name>.flavour: kubeone|kubeadm` in config.yaml wins;
* else KubeOne when a kubeone manifest is configured (flag, config) or found (next to a lab's kubeconfig);
* else kubeadm.

A kubeadm cluster has no kubeone.yaml to say how its hosts are reached, so nodes are reached at their Node's
InternalIP with `contexts.<name>.ssh` (user, port, identity_file, known_hosts, bastion `user@host:port`).

Read straight from config.yaml (the UI's loader validates the same keys) so the headless commands and the app
decide alike; issue 17 moves per-context settings to one loader, and this module is where to re-point it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from etcdtui.cluster.ssh import DEFAULT_KNOWN_HOSTS, SshHop, SshTarget
from etcdtui.engine.checks import KubeOneSettings

KUBEONE = "kubeone"
KUBEADM = "kubeadm"
FLAVOURS = (KUBEONE, KUBEADM)


class FlavourConfigError(ValueError):
    """One line: the flavour or ssh settings of a context are wrong."""


@dataclass(frozen=True)
class NodeSsh:
    """How a kubeadm cluster's nodes are reached (at the Node's InternalIP)."""

    user: str = "root"
    port: int = 22
    identity_file: str | None = None  # None: ssh-agent and the default ~/.ssh keys
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    bastion: SshHop | None = None

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


@dataclass(frozen=True)
class ContextFlavourSettings:
    flavour: str | None = None
    ssh: NodeSsh | None = None


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "etcdtui" / "config.yaml"


def context_settings(context: str, path: Path | None = None) -> ContextFlavourSettings:
    """`contexts.<context>.flavour` and `.ssh` of config.yaml (none when the file or the keys are absent)."""
    path = path or config_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ContextFlavourSettings()
    except (OSError, yaml.YAMLError) as exc:
        raise FlavourConfigError(f"{path}: {str(exc).splitlines()[0]}") from None
    entry = ((data or {}).get("contexts") or {}).get(context) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        return ContextFlavourSettings()
    return parse_context(context, entry)


def parse_context(context: str, entry: dict[str, Any]) -> ContextFlavourSettings:
    flavour = entry.get("flavour")
    if flavour is not None and flavour not in FLAVOURS:
        raise FlavourConfigError(f"contexts.{context}.flavour must be kubeone or kubeadm, not {flavour!r}")
    raw = entry.get("ssh")
    return ContextFlavourSettings(flavour, parse_ssh(f"contexts.{context}.ssh", raw) if raw is not None else None)


def parse_ssh(where: str, raw: Any) -> NodeSsh:
    if not isinstance(raw, dict):
        raise FlavourConfigError(f"{where} must be a mapping (user, port, identity_file, known_hosts, bastion)")
    unknown = set(raw) - {"user", "port", "identity_file", "known_hosts", "bastion"}
    if unknown:
        raise FlavourConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    port = raw.get("port", 22)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise FlavourConfigError(f"{where}.port must be a port number")
    user = str(raw.get("user") or "root")
    bastion = None
    if raw.get("bastion"):
        text = str(raw["bastion"])
        b_user, _, hostport = text.rpartition("@")
        host, _, b_port = hostport.partition(":")
        if not host or (b_port and not b_port.isdigit()):
            raise FlavourConfigError(f"{where}.bastion must be [user@]host[:port], not {text!r}")
        bastion = SshHop(host, int(b_port or 22), b_user or user, _path(raw.get("identity_file")))
    return NodeSsh(user, port, _path(raw.get("identity_file")),
                   _path(raw.get("known_hosts")) or DEFAULT_KNOWN_HOSTS, bastion)


def _path(value: Any) -> str | None:
    return os.path.expanduser(str(value)) if value else None


def decide(configured: str | None, kubeone: KubeOneSettings) -> Flavour:
    if configured in FLAVOURS:
        return Flavour(str(configured), "set in config")
    if kubeone.manifest:
        return Flavour(KUBEONE, f"kubeone manifest {kubeone.manifest}")
    if kubeone.lab_dir is not None and (kubeone.lab_dir / "kubeone.yaml").exists():
        return Flavour(KUBEONE, f"kubeone manifest {kubeone.lab_dir / 'kubeone.yaml'} found")
    return Flavour(KUBEADM, "no kubeone manifest configured or found")
