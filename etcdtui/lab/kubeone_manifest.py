"""kubeone.yaml and the terraform output as KubeOne reads them: the cluster's hosts, with KubeOne's errors."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from etcdtui.lab.kubeone_errors import config_error, runtime_error

SUPPORTED_API_VERSIONS = {"kubeone.k8c.io/v1beta2", "kubeone.k8c.io/v1beta3"}


# == manifest and terraform output ==========================================================================
@dataclass
class Host:
    hostname: str
    private_address: str
    public_address: str
    ssh_port: int
    ssh_user: str
    ssh_key_file: str
    ssh_host_key: str | None
    bastion: str
    bastion_port: int
    bastion_user: str
    bastion_host_key: str | None


@dataclass
class Cluster:
    name: str
    kubernetes: str
    hosts: list[Host]


def _read(path: str, op: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise runtime_error(op, f"read {path}: is a directory") from None
    except OSError as exc:
        raise runtime_error(op, f"open {path}: {(exc.strerror or str(exc)).lower()}") from None


def load_cluster(manifest_path: str, tf_path: str) -> Cluster:
    raw = _read(manifest_path, "reading cluster configuration")
    if tf_path == "-":
        tf_raw: bytes | None = sys.stdin.buffer.read()
    else:
        tf_raw = _read(tf_path, "reading terraform output file") if tf_path else None
    try:
        manifest = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise config_error(f"configuration unmarshal cluster typeMeta\n{exc}") from None
    if not isinstance(manifest, dict) or not manifest.get("apiVersion") or not manifest.get("kind"):
        raise config_error("apiVersion and kind must be present in the manifest")
    if manifest["kind"] != "KubeOneCluster":
        raise config_error(f'provided object "{manifest["kind"]}" is not KubeOneCluster object')
    if manifest["apiVersion"] not in SUPPORTED_API_VERSIONS:
        raise config_error(f'provided apiVersion "{manifest["apiVersion"]}" is not supported')
    kubernetes = str((manifest.get("versions") or {}).get("kubernetes") or "")
    if not kubernetes:
        raise config_error("versions.kubernetes: Required value: kubernetes version is required")
    hosts = [_host_from_manifest(h) for h in (manifest.get("controlPlane") or {}).get("hosts") or []]
    if tf_raw is not None:
        try:
            tf = json.loads(tf_raw)
        except ValueError as exc:
            raise config_error(f"configuration unmarshalling terraform output\n{exc}") from None
        tf_hosts = _hosts_from_terraform(tf)
        if tf_hosts:
            hosts = tf_hosts  # tf.json control-plane hosts replace the manifest's entirely, like KubeOne
    if not hosts:
        raise config_error("controlPlane.hosts: Required value: no control plane hosts are given")
    return Cluster(str(manifest.get("name") or ""), kubernetes, hosts)


def _host_from_manifest(h: dict[str, Any]) -> Host:
    private = str(h.get("privateAddress") or h.get("publicAddress") or "")
    user = str(h.get("sshUsername") or "root")
    return Host(
        hostname=str(h.get("hostname") or ""),
        private_address=private,
        public_address=str(h.get("publicAddress") or private),
        ssh_port=int(h.get("sshPort") or 22),
        ssh_user=user,
        ssh_key_file=str(h.get("sshPrivateKeyFile") or ""),
        ssh_host_key=h.get("sshHostPublicKey") or None,
        bastion=str(h.get("bastion") or ""),
        bastion_port=int(h.get("bastionPort") or 22),
        bastion_user=str(h.get("bastionUser") or user),
        bastion_host_key=h.get("bastionHostPublicKey") or None,
    )


def _hosts_from_terraform(tf: Any) -> list[Host]:
    try:
        cp = tf["kubeone_hosts"]["value"]["control_plane"]
    except (KeyError, TypeError):
        return []
    private = list(cp.get("private_address") or [])
    public = list(cp.get("public_address") or private)
    names = list(cp.get("hostnames") or [])
    host_keys = list(cp.get("ssh_hosts_keys") or [])
    user = str(cp.get("ssh_user") or "root")
    hosts = []
    for i, addr in enumerate(public):
        hosts.append(Host(
            hostname=names[i] if i < len(names) else "",
            private_address=private[i] if i < len(private) else addr,
            public_address=addr,
            ssh_port=int(cp.get("ssh_port") or 22),
            ssh_user=user,
            ssh_key_file=str(cp.get("ssh_private_key_file") or ""),
            ssh_host_key=host_keys[i] if i < len(host_keys) else None,
            bastion=str(cp.get("bastion") or ""),
            bastion_port=int(cp.get("bastion_port") or 22),
            bastion_user=str(cp.get("bastion_user") or user),
            bastion_host_key=cp.get("bastion_host_key") or None,
        ))
    return hosts
