"""What a lab member runs: its etcd flags, the argv the supervisor starts, the kubeadm-style command its static pod
shows, and how a command exec'd into its pod maps to this machine (binaries, cert files, ports)."""

from __future__ import annotations

import os
from collections.abc import Callable

from etcdtui.lab.etcd_binary import EtcdBinaries
from etcdtui.lab.objects import ExecRefused
from etcdtui.lab.ring_member import SNAPSHOT_COUNT, Member

KUBEADM_PKI = "/etc/kubernetes/pki/etcd"
KUBEADM_DATA = "/var/lib/etcd"
CLUSTER_TOKEN = "etcdtui-lab"


def member_flags(m: Member, binaries: EtcdBinaries, quota_backend_bytes: int) -> dict[str, str]:
    """The member's etcd flags by name (the lab's own paths and ports)."""
    pki = m.pki_dir
    flags = {
        "advertise-client-urls": m.client_url,
        "cert-file": str(pki / "server.crt"),
        "client-cert-auth": "true",
        "data-dir": str(m.data_dir),
        "initial-advertise-peer-urls": m.peer_url,
        "initial-cluster": m.initial_cluster,
        "initial-cluster-state": m.initial_state,
        "initial-cluster-token": CLUSTER_TOKEN,
        "key-file": str(pki / "server.key"),
        "listen-client-urls": f"https://127.0.0.1:{m.client_port},{m.client_url}",
        "listen-metrics-urls": f"http://127.0.0.1:{m.metrics_port}",
        "listen-peer-urls": m.peer_url,
        "log-outputs": "stderr",
        "logger": "zap",
        "name": m.node,
        "peer-cert-file": str(pki / "peer.crt"),
        "peer-client-cert-auth": "true",
        "peer-key-file": str(pki / "peer.key"),
        "peer-trusted-ca-file": str(pki / "ca.crt"),
        "snapshot-count": SNAPSHOT_COUNT,
        "trusted-ca-file": str(pki / "ca.crt"),
    }
    if binaries.supports("--experimental-watch-progress-notify-interval"):
        flags["experimental-watch-progress-notify-interval"] = "5s"
    if quota_backend_bytes:
        flags["quota-backend-bytes"] = str(quota_backend_bytes)
    for f in m.flags:
        key, _, value = f.lstrip("-").partition("=")
        flags[key] = value or "true"
    return flags


def real_argv(m: Member, binaries: EtcdBinaries, quota_backend_bytes: int) -> list[str]:
    """What the supervisor runs."""
    flags = member_flags(m, binaries, quota_backend_bytes)
    return [str(binaries.etcd)] + [f"--{k}={v}" for k, v in sorted(flags.items())]


def display_command(m: Member, binaries: EtcdBinaries, quota_backend_bytes: int) -> list[str]:
    """The command line the static pod shows: the same flags with kubeadm's paths."""

    def kubeadm_path(value: str) -> str:
        return value.replace(str(m.pki_dir), KUBEADM_PKI).replace(str(m.data_dir), KUBEADM_DATA)

    flags = member_flags(m, binaries, quota_backend_bytes)
    return ["etcd"] + [f"--{k}={kubeadm_path(v)}" for k, v in sorted(flags.items())]


def exec_resolver(m: Member, binaries: EtcdBinaries) -> Callable[[list[str]], tuple[list[str], dict[str, str]]]:
    """How `kubectl exec` into the member's pod runs here."""

    def resolve(argv: list[str]) -> tuple[list[str], dict[str, str]]:
        return resolve_exec(m, binaries, argv)

    return resolve


def resolve_exec(m: Member, binaries: EtcdBinaries, argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Map a command run in the etcd container to this machine: its binaries, its cert files, its ports."""
    if m.container is None or not m.container.running:
        raise ExecRefused('container not found ("etcd")')
    if not argv:
        raise ExecRefused("command must not be empty")
    program = argv[0].rsplit("/", 1)[-1]
    programs = {"etcdctl": str(binaries.etcdctl), "etcd": str(binaries.etcd)}
    if program not in programs or (program == "etcd" and argv[1:] not in (["--version"], ["--help"])):
        raise ExecRefused(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f'"{argv[0]}": executable file not found in $PATH: unknown'
        )

    def host_path(arg: str) -> str:
        arg = arg.replace(KUBEADM_PKI, str(m.pki_dir)).replace(KUBEADM_DATA, str(m.data_dir))
        for local in ("127.0.0.1:2379", "localhost:2379", f"{m.ip}:2379"):
            arg = arg.replace(local, f"127.0.0.1:{m.client_port}")
        return arg

    args = [host_path(a) for a in argv[1:]]
    if program == "etcdctl" and not any(a.startswith("--endpoints") for a in args):
        args.insert(0, f"--endpoints=127.0.0.1:{m.client_port}")  # etcdctl's default is 127.0.0.1:2379
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ETCDCTL_API": "3"}
    return [programs[program], *args], env
