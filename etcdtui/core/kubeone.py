"""KubeOne: `kubeone version` output, the ≥ 1.4.1 rule, and the control-plane hosts of kubeone.yaml / tf.json.

Pure: the callers decode YAML/JSON files in an adapter and hand the decoded objects here. Malformed input
raises ValueError with a message that names the offending field (kubeone-procedure §1, §2.6, §7).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etcdtui.core.findings import Finding, Severity

# --- kubeone version ----------------------------------------------------------------------------

_TRIPLE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
MIN_CORRUPTION_CHECKS = (1, 4, 1)


@dataclass(frozen=True)
class KubeOneVersion:
    git_version: str
    version: tuple[int, int, int] | None  # None for `dev` or anything unparseable
    machine_controller: str | None

    def __str__(self) -> str:
        return self.git_version


def parse_kubeone_version_text(text: str) -> KubeOneVersion:
    """`kubeone version` stdout (pretty JSON). ValueError when it is not that JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"kubeone version: output is not JSON ({exc.msg})") from None
    return parse_kubeone_version(data)


def parse_kubeone_version(data: Any) -> KubeOneVersion:
    """The decoded `{"kubeone": {"gitVersion": …}, "machine_controller": {"gitVersion": …}}`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("kubeone"), Mapping):
        raise ValueError("kubeone version: expected an object with a `kubeone` object")
    git_version = data["kubeone"].get("gitVersion")
    if not isinstance(git_version, str):
        raise ValueError("kubeone version: `kubeone.gitVersion` is missing or not a string")
    mc = data.get("machine_controller")
    mc_version = mc.get("gitVersion") if isinstance(mc, Mapping) else None
    # Not semver ordering: `v1.4.1-12-gabc` (git describe) is built after 1.4.1, so only the triple counts.
    match = _TRIPLE.match(git_version.strip())
    triple = (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None
    return KubeOneVersion(
        git_version, triple, mc_version if isinstance(mc_version, str) and mc_version else None
    )


@dataclass(frozen=True)
class CorruptionCheckSupport:
    supported: bool | None  # None: unknown version, ask the operator
    compaction_check: bool | None  # does its `apply --force-upgrade` also set the compaction hash check?
    reason: str


def corruption_check_support(v: KubeOneVersion) -> CorruptionCheckSupport:
    """Does `kubeone apply --force-upgrade` of this KubeOne enable the etcd corruption checks? (§2.6)."""
    if v.version is None:
        return CorruptionCheckSupport(
            None,
            None,
            f"KubeOne version {v.git_version!r} is not a release version; cannot tell whether it sets the etcd "
            "corruption checks (1.4.1 or later does): check the binary's origin",
        )
    ver = v.version
    text = ".".join(map(str, ver))
    if ver >= MIN_CORRUPTION_CHECKS or (1, 3, 4) <= ver < (1, 4, 0):
        compaction = (1, 4, 12) <= ver < (1, 5, 0) or ver >= (1, 5, 4)
        note = (
            ""
            if ver >= MIN_CORRUPTION_CHECKS
            else " (1.3.4/1.3.5 also set them; 1.4.1+ is the documented minimum)"
        )
        return CorruptionCheckSupport(
            True,
            compaction,
            f"KubeOne {text} sets the etcd corruption checks on `apply --force-upgrade`{note}"
            + ("" if compaction else "; it does not set the compaction hash check"),
        )
    return CorruptionCheckSupport(
        False,
        False,
        f"KubeOne {text} does not set the etcd corruption checks; upgrade KubeOne to 1.4.1 or later",
    )


def kubeone_version_findings(v: KubeOneVersion) -> list[Finding]:
    support = corruption_check_support(v)
    if support.supported is True:
        return []
    kind = "kubeone.version_unknown" if support.supported is None else "kubeone.too_old"
    return [Finding(kind, Severity.WARNING, support.reason, None, {"gitVersion": v.git_version})]


# --- hosts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlPlaneHost:
    """One control-plane machine and how KubeOne reaches it over SSH (defaults applied as KubeOne does)."""

    public_address: str
    private_address: str
    hostname: str
    ssh_username: str = "root"
    ssh_port: int = 22
    ssh_private_key_file: str = ""
    ssh_agent_socket: str = ""
    bastion: str = ""
    bastion_port: int = 22
    bastion_user: str = ""

    @property
    def ssh_address(self) -> str:
        """KubeOne dials the public address, which is the private one when no public address is given."""
        return self.public_address or self.private_address

    @property
    def ssh_summary(self) -> str:
        target = f"{self.ssh_username}@{self.ssh_address}" + (
            f":{self.ssh_port}" if self.ssh_port != 22 else ""
        )
        if self.bastion:
            jump = f"{self.bastion_user or self.ssh_username}@{self.bastion}" + (
                f":{self.bastion_port}" if self.bastion_port != 22 else ""
            )
            return f"ssh -J {jump} {target}"
        return f"ssh {target}"


@dataclass(frozen=True)
class KubeOneCluster:
    name: str
    kubernetes_version: str
    api_endpoint_host: str
    api_endpoint_port: int
    hosts: tuple[ControlPlaneHost, ...]


def _field_str(obj: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _field_port(obj: Mapping[str, Any], key: str, where: str, default: int = 22) -> int:
    value = obj.get(key, default)
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{where}.{key}: expected a port number, got {value!r}")
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"{where}.{key}: expected a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{where}.{key}: port {port} out of range 1-65535")
    return port


def _host(
    where: str,
    *,
    public: str,
    private: str,
    hostname: str,
    user: str,
    port: int,
    key: str,
    agent: str,
    bastion: str,
    bastion_port: int,
    bastion_user: str,
) -> ControlPlaneHost:
    if not public and not private:
        raise ValueError(f"{where}: neither a public nor a private address")
    user = user or "root"
    return ControlPlaneHost(
        public_address=public or private,
        private_address=private or public,
        hostname=hostname,
        ssh_username=user,
        ssh_port=port,
        ssh_private_key_file=key,
        ssh_agent_socket=agent or ("" if key else "env:SSH_AUTH_SOCK"),
        bastion=bastion,
        bastion_port=bastion_port,
        bastion_user=bastion_user or user,
    )


def parse_kubeone_manifest(doc: Any) -> KubeOneCluster:
    """A decoded kubeone.yaml (KubeOneCluster, apiVersion kubeone.k8c.io/v1beta2|v1beta3 or kubeone.io/v1beta1)."""
    if not isinstance(doc, Mapping):
        raise ValueError("kubeone.yaml: expected a mapping at the top level")
    kind = doc.get("kind")
    if kind != "KubeOneCluster":
        raise ValueError(f"kubeone.yaml: kind is {kind!r}, expected 'KubeOneCluster'")
    api_version = doc.get("apiVersion")
    if not isinstance(api_version, str) or not api_version.startswith(("kubeone.k8c.io/", "kubeone.io/")):
        raise ValueError(f"kubeone.yaml: apiVersion {api_version!r} is not a KubeOne API version")
    versions = doc.get("versions") or {}
    if not isinstance(versions, Mapping):
        raise ValueError("kubeone.yaml: versions: expected a mapping")
    k8s = _field_str(versions, "kubernetes", "kubeone.yaml: versions")
    api = doc.get("apiEndpoint") or {}
    if not isinstance(api, Mapping):
        raise ValueError("kubeone.yaml: apiEndpoint: expected a mapping")
    cp = doc.get("controlPlane") or {}
    if not isinstance(cp, Mapping):
        raise ValueError("kubeone.yaml: controlPlane: expected a mapping")
    raw_hosts = cp.get("hosts") or []
    if not isinstance(raw_hosts, Sequence) or isinstance(raw_hosts, str):
        raise ValueError("kubeone.yaml: controlPlane.hosts: expected a list")
    hosts = []
    for i, raw in enumerate(raw_hosts):
        where = f"kubeone.yaml: controlPlane.hosts[{i}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: expected a mapping")
        hosts.append(
            _host(
                where,
                public=_field_str(raw, "publicAddress", where),
                private=_field_str(raw, "privateAddress", where),
                hostname=_field_str(raw, "hostname", where),
                user=_field_str(raw, "sshUsername", where),
                port=_field_port(raw, "sshPort", where),
                key=_field_str(raw, "sshPrivateKeyFile", where),
                agent=_field_str(raw, "sshAgentSocket", where),
                bastion=_field_str(raw, "bastion", where),
                bastion_port=_field_port(raw, "bastionPort", where),
                bastion_user=_field_str(raw, "bastionUser", where),
            )
        )
    return KubeOneCluster(
        name=_field_str(doc, "name", "kubeone.yaml"),
        kubernetes_version=k8s,
        api_endpoint_host=_field_str(api, "host", "kubeone.yaml: apiEndpoint"),
        api_endpoint_port=_field_port(api, "port", "kubeone.yaml: apiEndpoint", 6443),
        hosts=tuple(hosts),
    )


def _str_items(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{where}: expected a list")
    items = []
    for j, item in enumerate(value):
        if item is None:
            items.append("")
        elif isinstance(item, str):
            items.append(item)
        else:
            raise ValueError(f"{where}[{j}]: expected a string, got {item!r}")
    return items


def parse_tf_output(doc: Any) -> tuple[ControlPlaneHost, ...]:
    """Control-plane hosts from a decoded tf.json (`terraform output -json`): `kubeone_hosts.value.control_plane`.

    Hosts are built by index across public_address/private_address/hostnames; `bastion` is one value for all.
    """
    if not isinstance(doc, Mapping):
        raise ValueError("tf.json: expected a JSON object at the top level")
    outputs: Mapping[str, Any] = doc
    if "kubeone_hosts" not in doc and isinstance(doc.get("outputs"), Mapping):
        outputs = doc["outputs"]  # a terraform.tfstate: the same keys under `outputs`
    hosts_output = outputs.get("kubeone_hosts")
    if hosts_output is None:
        return ()
    if not isinstance(hosts_output, Mapping) or not isinstance(hosts_output.get("value"), Mapping):
        raise ValueError('tf.json: kubeone_hosts: expected {"value": {...}}')
    cp = hosts_output["value"].get("control_plane")
    if cp is None:
        return ()
    where = "tf.json: kubeone_hosts.value.control_plane"
    if not isinstance(cp, Mapping):
        raise ValueError(f"{where}: expected an object")
    public = _str_items(cp.get("public_address"), f"{where}.public_address")
    private = _str_items(cp.get("private_address"), f"{where}.private_address")
    names = _str_items(cp.get("hostnames"), f"{where}.hostnames")
    count = len(public) or len(private)
    if public and private and len(public) != len(private):
        raise ValueError(f"{where}: {len(public)} public but {len(private)} private addresses")
    user = _field_str(cp, "ssh_user", where)
    hosts = []
    for i in range(count):
        hosts.append(
            _host(
                f"{where}[{i}]",
                public=public[i] if i < len(public) else "",
                private=private[i] if i < len(private) else "",
                hostname=names[i] if i < len(names) else "",
                user=user,
                port=_field_port(cp, "ssh_port", where),
                key=_field_str(cp, "ssh_private_key_file", where),
                agent=_field_str(cp, "ssh_agent_socket", where),
                bastion=_field_str(cp, "bastion", where),
                bastion_port=_field_port(cp, "bastion_port", where),
                bastion_user=_field_str(cp, "bastion_user", where),
            )
        )
    return tuple(hosts)


def effective_hosts(
    manifest: KubeOneCluster, tf_hosts: Sequence[ControlPlaneHost]
) -> tuple[ControlPlaneHost, ...]:
    """tf.json control-plane hosts, when there are any, replace kubeone.yaml's entirely (as KubeOne does)."""
    return tuple(tf_hosts) if tf_hosts else manifest.hosts


def host_for_node(
    hosts: Sequence[ControlPlaneHost], node_name: str, internal_ips: Sequence[str] = ()
) -> ControlPlaneHost | None:
    """The host of a Kubernetes Node: by hostname, else by InternalIP == privateAddress (kubelet --node-ip)."""
    for host in hosts:
        if host.hostname and host.hostname == node_name:
            return host
    for host in hosts:
        if host.private_address in internal_ips or host.public_address in internal_ips:
            return host
    return None
