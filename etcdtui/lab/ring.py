"""The lab's etcd ring: real etcd member processes on loopback, and the Kubernetes objects that show them.

Each node `lab-cp-K` gets its own loopback address 127.0.1.K (Linux routes all of 127/8 to `lo`), so node,
member and pod map to each other by IP exactly as on a real cluster. Members run with TLS on client and peer
URLs, zap logs and `--snapshot-count=10` (so the startup corruption check really compares peers), under a
kubelet-like supervisor (`supervisor.Container`). The static pod `etcd-lab-cp-K` shows the member's real
command line with kubeadm's paths. All methods run on the lab daemon's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from etcdtui.lab import kube_objects as ko
from etcdtui.lab.corrupt import patch_value_in_file, wait_for_bytes
from etcdtui.lab.etcd_binary import EtcdBinaries
from etcdtui.lab.layout import NAMESPACE, LabLayout, etcd_pod_name, node_name
from etcdtui.lab.objects import ExecRefused, NotFound, Obj, ObjectStore, PodRuntime
from etcdtui.lab.ports import PortInUse, ensure_free, free_port
from etcdtui.lab.supervisor import Container

log = logging.getLogger(__name__)

KUBEADM_PKI = "/etc/kubernetes/pki/etcd"
KUBEADM_DATA = "/var/lib/etcd"
CLUSTER_TOKEN = "etcdtui-lab"
SNAPSHOT_COUNT = "10"  # a .snap file early, or the startup corruption check asks no peer (etcd-lab.md §4.4)
LAB_CHECK_INTERVAL = "5s"  # periodic corruption check when `--corrupt-checks on` (KubeOne uses 240m)
HEALTH_POLL = 0.25
MEMBER_START_TIMEOUT = 30.0
ETCDCTL_TIMEOUT = 20.0
MAX_ETCDCTL_OUTPUT = 4 * 1024 * 1024
# Stopping every member at once: the leader may wait for a leadership transfer that cannot happen any more,
# so it gets a short grace before SIGKILL (etcd is crash-safe; `down` usually deletes the data anyway).
STOP_GRACE_ALL = 2.0
SERVING_PEERS = b'"msg":"serving peer traffic"'
RECONFIG_PATIENCE = 15.0


class RingError(Exception):
    """A ring operation failed (message is a one-line error for the user)."""


class UnknownNode(RingError):
    pass


def node_ip(index: int) -> str:
    return f"127.0.1.{index}"


def corrupt_check_flags(enabled: bool) -> list[str]:
    if not enabled:
        return []
    return ["--experimental-initial-corrupt-check=true", f"--experimental-corrupt-check-time={LAB_CHECK_INTERVAL}"]


@dataclass
class MemberInfo:
    node: str
    name: str
    member_id: str | None  # hex, as etcd logs it
    client_url: str
    peer_url: str
    client_port: int
    peer_port: int
    pid: int | None
    running: bool
    reset: bool
    data_dir: Path
    command: list[str]  # the kubeadm-style argv shown in the pod
    host_ip: str  # the node's own loopback address, 127.0.1.K (distinct per node)


@dataclass
class _Member:
    node: str
    index: int
    ip: str
    client_port: int
    peer_port: int
    metrics_port: int
    data_dir: Path
    pki_dir: Path
    flags: list[str]
    initial_cluster: str = ""
    initial_state: str = "new"
    member_id: str | None = None
    reset: bool = False
    healthy: bool = False
    container: Container | None = None
    node_uid: str = ""

    @property
    def client_url(self) -> str:
        return f"https://{self.ip}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.ip}:{self.peer_port}"


class Ring:
    def __init__(
        self, layout: LabLayout, store: ObjectStore, binaries: EtcdBinaries, *, members: int = 3,
        corrupt_checks: bool = False, quota_backend_bytes: int = 0,
    ) -> None:
        self.layout = layout
        self.store = store
        self.binaries = binaries
        self.etcd_version = binaries.version
        self.etcdctl_path = binaries.etcdctl
        self.nodes: list[str] = [node_name(i) for i in range(1, members + 1)]
        self.image = f"registry.k8s.io/etcd:{binaries.version}-0"
        self._default_flags = self._supported(corrupt_check_flags(corrupt_checks))
        self.quota_backend_bytes = quota_backend_bytes  # 0: etcd's default (2 GiB); small makes NOSPACE reachable
        self._members: dict[str, _Member] = {}
        self._health_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._changed = asyncio.Event()  # set whenever a member's state changes (health, runs)
        self._lock = asyncio.Lock()  # one membership change (remove/join/restart) at a time
        self._corruptions = 0

    # == contract used by the API server and node access ===============================================
    def member(self, node: str) -> MemberInfo:
        m = self._member(node)
        c = m.container
        return MemberInfo(
            node=m.node, name=m.node, member_id=m.member_id, client_url=m.client_url, peer_url=m.peer_url,
            client_port=m.client_port, peer_port=m.peer_port, pid=c.pid if c else None,
            running=bool(c and c.running), reset=m.reset, data_dir=m.data_dir,
            command=self._display_command(m), host_ip=m.ip,
        )

    def corrupt_checks_flags(self) -> list[str]:
        return list(self._default_flags)

    def set_default_flags(self, flags: list[str]) -> None:
        self._default_flags = self._supported(flags)

    def etcdctl_argv(self, node: str, *args: str) -> list[str]:
        m = self._member(node)
        return [
            str(self.etcdctl_path), f"--endpoints={m.client_url}", f"--cacert={m.pki_dir / 'ca.crt'}",
            f"--cert={m.pki_dir / 'healthcheck-client.crt'}", f"--key={m.pki_dir / 'healthcheck-client.key'}",
            "--dial-timeout=2s", *args,
        ]

    async def run_etcdctl(self, *args: str, via: str | None = None) -> tuple[int, str, str]:
        node = via or self._healthy_node()
        if node is None:
            return 1, "", "no healthy etcd member to run etcdctl against\n"
        return await run_argv(self.etcdctl_argv(node, *args))

    async def kill(self, node: str) -> None:
        m = self._member(node)
        if m.reset or m.container is None or not m.container.running:
            raise RingError(f"etcd on {node} is not running")
        m.container.kill()

    async def corrupt(self, node: str) -> None:
        """Make this member's data really diverge from its peers, in place, while it runs.

        A unique value is written through the ring; once it is in this member's bbolt file, its bytes are
        overwritten there (same length, so bbolt and the protobuf stay valid, and bbolt has no page checksum).
        etcd reads bbolt through a shared mmap, so the running member now serves and hashes different data:
        with checks on the leader's periodic check raises CORRUPT, and the next restart of this member fails
        etcd's startup check (`found different hash values from remote peer`).
        """
        m = self._member(node)
        if m.reset or m.container is None or not m.container.running:
            raise RingError(f"etcd on {node} is not running")
        await self._ensure_snapshot(m)
        self._corruptions += 1
        token = secrets.token_hex(12)
        good = f"LAB-MARKER-{token}".encode()
        bad = f"LAB-CORRPT-{token}".encode()
        rc, _, err = await self.run_etcdctl("put", f"/etcdtui-lab/marker-{self._corruptions}", good.decode())
        if rc != 0:
            raise RingError(f"cannot write the corruption marker: {last_line(err)}")
        db = m.data_dir / "member" / "snap" / "db"
        if not await wait_for_bytes(db, good, within=10.0):
            raise RingError(f"the marker never reached {node}'s database file")
        patched = await asyncio.to_thread(patch_value_in_file, db, good, bad)
        log.warning("corrupted %s: %d occurrence(s) of the marker patched in %s", node, patched, db)

    async def _ensure_snapshot(self, m: _Member) -> None:
        """Writes until this member has a raft snapshot file: without one, etcd's startup check asks no peer
        and passes whatever the data (etcd-lab.md §4.4), so a corruption would go unnoticed on restart."""
        snap_dir = m.data_dir / "member" / "snap"
        for i in range(3 * int(SNAPSHOT_COUNT)):
            if any(snap_dir.glob("*.snap")):
                return
            rc, _, err = await self.run_etcdctl("put", f"/etcdtui-lab/snapshot-{i % 4}", str(i), via=m.node)
            if rc != 0:
                raise RingError(f"cannot write to {m.node}: {last_line(err)}")
        await asyncio.sleep(0.2)  # the snapshot is saved asynchronously after the apply

    async def remove_member(self, node: str) -> bool:
        m = self._member(node)
        async with self._lock:
            via = self._healthy_node(exclude=node)
            if via is None:
                raise RingError("no healthy etcd member left to remove it through")
            members = await self._member_list(via)
            for entry in members:
                if entry.get("name") == node or m.peer_url in entry.get("peerURLs", []):
                    rc, _, err = await self._reconfigure("member", "remove", format(int(entry["ID"]), "x"), via=via)
                    if rc != 0:
                        raise RingError(f"etcdctl member remove failed: {last_line(err)}")
                    m.member_id = None
                    return True
            return False

    async def stop_and_wipe(self, node: str) -> None:
        m = self._member(node)
        if m.container is not None:
            await m.container.stop()
            m.container = None
        m.healthy = False
        m.reset = True
        m.member_id = None
        await asyncio.to_thread(shutil.rmtree, m.data_dir, True)
        self._set_node_ready(node, False)  # first, so nothing re-creates the mirror pod of a stopped kubelet
        self.store.runtimes.pop((NAMESPACE, etcd_pod_name(node)), None)
        with contextlib.suppress(NotFound):
            self.store.delete("Pod", NAMESPACE, etcd_pod_name(node))

    async def stop_for_good(self, node: str, *, lose_data: bool) -> None:
        """The machine (or its disk) is gone: etcd stops and never restarts, the Node goes NotReady. The member
        stays in etcd's member list, as it does when a real machine dies; `lose_data` also deletes its data dir."""
        m = self._member(node)
        if m.container is not None:
            await m.container.stop()
            m.container = None
        m.healthy = False
        if lose_data:
            await asyncio.to_thread(shutil.rmtree, m.data_dir, True)
        self._set_node_ready(node, False)
        self.store.runtimes.pop((NAMESPACE, etcd_pod_name(node)), None)  # exec: `container not found`

        def not_ready(obj: Obj) -> None:
            obj["status"]["conditions"] = ko.pod_conditions(scheduled=True, initialized=True, ready=False)

        with contextlib.suppress(NotFound):
            self.store.update("Pod", NAMESPACE, etcd_pod_name(node), not_ready)
        self._changed.set()

    def static_pod_running(self, node: str) -> bool:
        """Whether the node's kubelet runs the etcd static pod (its manifest is in /etc/kubernetes/manifests)."""
        m = self._member(node)
        return m.container is not None and not m.reset

    async def stop_static_pod(self, node: str) -> None:
        """The etcd manifest was moved out of /etc/kubernetes/manifests: the kubelet stops the container and
        the mirror pod goes away. The data dir and the member entry stay."""
        m = self._member(node)
        if m.container is not None:
            await m.container.stop()
            m.container = None
        m.healthy = False
        self.store.runtimes.pop((NAMESPACE, etcd_pod_name(node)), None)
        with contextlib.suppress(NotFound):
            self.store.delete("Pod", NAMESPACE, etcd_pod_name(node))
        self._changed.set()

    async def start_static_pod(self, node: str) -> None:
        """The manifest is back: the kubelet starts etcd on whatever the data dir holds (for a restored data
        dir, the one-member cluster `etcdutl snapshot restore` wrote: etcd ignores --initial-cluster then)."""
        m = self._member(node)
        async with self._lock:
            if m.container is not None:
                return
            m.reset = False
            self._ensure_node_object(m)
            self._start_member(m, fresh_pod=True)
        await asyncio.sleep(0)

    async def refresh_member_ids(self) -> None:
        await self._refresh_member_ids()

    def fresh_machine(self, node: str) -> None:
        """A new, empty machine at this node's address: no etcd, no data dir, nothing left of the old one."""
        m = self._member(node)
        if m.container is not None and m.container.running:
            raise RingError(f"etcd on {node} is running: destroy the node first")
        shutil.rmtree(m.data_dir, ignore_errors=True)
        m.container = None
        m.healthy = False
        m.reset = True
        m.member_id = None

    async def join(self, node: str) -> None:
        m = self._member(node)
        async with self._lock:
            if m.container is not None and m.container.running:
                raise RingError(f"etcd on {node} is already running")
            via = self._healthy_node(exclude=node)
            if via is None:
                raise RingError("no healthy etcd member to add the new member through")
            self._ensure_ports_free(m)
            rc, out, err = await self._reconfigure("member", "add", node, f"--peer-urls={m.peer_url}", via=via)
            if rc != 0:
                raise RingError(f"etcdctl member add failed: {last_line(err or out)}")
            found = re.search(r'ETCD_INITIAL_CLUSTER="([^"]+)"', out)
            if not found:
                raise RingError(f"unexpected etcdctl member add output: {out.strip()[:200]}")
            await asyncio.to_thread(shutil.rmtree, m.data_dir, True)
            m.initial_cluster = found.group(1)
            m.initial_state = "existing"
            m.flags = list(self._default_flags)
            m.reset = False
            self._ensure_node_object(m)
            self._set_node_ready(node, True)
            self._start_member(m, fresh_pod=True)
        await self._wait_joined(node, MEMBER_START_TIMEOUT)
        await self._refresh_member_ids()

    async def _wait_joined(self, node: str, within: float) -> None:
        """What kubeadm join waits for: the new member started and answers the etcd client (`endpoint status`)
        with its raft applied index caught up with a peer's. Not `/health`: that stays false while any alarm
        (a leftover CORRUPT) is active, although the member works, and the join would time out."""
        m = self._member(node)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        mine = peer = None
        while True:
            failure = self._startup_failure(m)
            if failure:
                raise RingError(f"etcd on {node} failed to start: {failure}")
            via = self._healthy_node(exclude=node)
            peer = await self._applied_index(via) if via else None  # the peer first: ours must reach it
            mine = await self._applied_index(node)
            if mine is not None and peer is not None and mine >= peer:
                return
            if loop.time() >= deadline:
                raise RingError(f"etcd on {node} did not catch up within {within:.0f} s "
                                f"(applied index {mine}, a peer's {peer})")
            await asyncio.sleep(0.2)

    async def _applied_index(self, node: str) -> int | None:
        rc, out, _ = await run_argv(self.etcdctl_argv(node, "endpoint", "status", "--command-timeout=2s", "-w", "json"))
        if rc != 0:
            return None
        try:
            status = json.loads(out)[0]["Status"]
            return int(status.get("raftAppliedIndex") or status["raftIndex"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    async def restart_with_flags(self, node: str, flags: list[str]) -> None:
        """Like kubelet after a static pod manifest changed: stop the old pod, start a new one."""
        m = self._member(node)
        async with self._lock:
            if m.reset:
                raise RingError(f"{node} has been reset; join it first")
            if m.container is not None:
                await m.container.stop()
            m.flags = self._supported(flags)
            m.healthy = False
            self._start_member(m, fresh_pod=True)
        await self._wait_healthy([node], MEMBER_START_TIMEOUT)

    # == lifecycle (used by the daemon) =================================================================
    async def start(self) -> None:
        """Certificates, ports, objects, members; returns once every member is healthy."""
        from etcdtui.lab.pki import write_lab_pki  # noqa: PLC0415 - keeps `import ring` cheap for readers

        ips = {n: node_ip(i) for i, n in enumerate(self.nodes, 1)}
        await asyncio.to_thread(write_lab_pki, self.layout, ips)
        for i, n in enumerate(self.nodes, 1):
            self._members[n] = self._allocate(n, i)
        cluster = ",".join(f"{m.node}={m.peer_url}" for m in self._members.values())
        self._create_cluster_objects()
        for m in self._members.values():
            m.initial_cluster = cluster
            self._start_member(m, fresh_pod=True)
            await self._serving_peers(m)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0))
        self._health_task = asyncio.create_task(self._poll_health(), name="ring-health")
        await self._wait_healthy(self.nodes, MEMBER_START_TIMEOUT)
        await self._refresh_member_ids()

    async def stop(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        await asyncio.gather(
            *(m.container.stop(grace=STOP_GRACE_ALL) for m in self._members.values() if m.container is not None),
            return_exceptions=True,
        )
        if self._session is not None:
            await self._session.close()

    def pids(self) -> dict[str, int | None]:
        return {n: (m.container.pid if m.container else None) for n, m in self._members.items()}

    def ports(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for m in self._members.values():
            out += [("127.0.0.1", m.client_port), (m.ip, m.client_port), (m.ip, m.peer_port),
                    ("127.0.0.1", m.metrics_port)]
        return out

    def healthy(self, node: str) -> bool:
        return self._member(node).healthy

    def status(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for n, m in self._members.items():
            c = m.container
            rows.append({
                "node": n, "ip": m.ip, "member_id": m.member_id, "client_url": m.client_url, "peer_url": m.peer_url,
                "pid": c.pid if c else None, "running": bool(c and c.running), "healthy": m.healthy,
                "reset": m.reset, "restart_count": c.restart_count if c else 0,
                "waiting": c.waiting_reason if c else None, "flags": m.flags,
                "dropped_log_lines": c.dropped_lines if c else 0,
            })
        return rows

    def validate_node(self, node: str) -> None:
        self._member(node)

    def any_member(self) -> str | None:
        return self._healthy_node()

    # == internals ======================================================================================
    def _member(self, node: str) -> _Member:
        m = self._members.get(node)
        if m is None:
            raise UnknownNode(f"unknown node {node!r} (lab nodes: {', '.join(self.nodes)})")
        return m

    def _supported(self, flags: list[str]) -> list[str]:
        kept = [f for f in flags if self.binaries.supports(f)]
        for f in flags:
            if f not in kept:
                log.warning("etcd %s does not know %s; leaving it out", self.etcd_version, f.split("=", 1)[0])
        return kept

    def _allocate(self, node: str, index: int) -> _Member:
        ip = node_ip(index)
        m = _Member(
            node=node, index=index, ip=ip, client_port=0, peer_port=0, metrics_port=0,
            data_dir=self.layout.etcd_data_dir(node), pki_dir=self.layout.node_pki_dir(node),
            flags=list(self._default_flags),
        )
        m.client_port = _port_free_on(ip, "127.0.0.1")
        m.peer_port = free_port(ip)
        m.metrics_port = _port_free_on("127.0.0.1")
        return m

    def _ensure_ports_free(self, m: _Member) -> None:
        try:
            for host, port in (("127.0.0.1", m.client_port), (m.ip, m.client_port), (m.ip, m.peer_port),
                               ("127.0.0.1", m.metrics_port)):
                ensure_free(host, port)
        except PortInUse:
            m.client_port = _port_free_on(m.ip, "127.0.0.1")
            m.peer_port = free_port(m.ip)
            m.metrics_port = _port_free_on("127.0.0.1")

    def _flag_map(self, m: _Member) -> dict[str, str]:
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
        if self.binaries.supports("--experimental-watch-progress-notify-interval"):
            flags["experimental-watch-progress-notify-interval"] = "5s"
        if self.quota_backend_bytes:
            flags["quota-backend-bytes"] = str(self.quota_backend_bytes)
        for f in m.flags:
            key, _, value = f.lstrip("-").partition("=")
            flags[key] = value or "true"
        return flags

    def _real_argv(self, m: _Member) -> list[str]:
        return [str(self.binaries.etcd)] + [f"--{k}={v}" for k, v in sorted(self._flag_map(m).items())]

    def _display_command(self, m: _Member) -> list[str]:
        def kubeadm_path(value: str) -> str:
            return value.replace(str(m.pki_dir), KUBEADM_PKI).replace(str(m.data_dir), KUBEADM_DATA)

        return ["etcd"] + [f"--{k}={kubeadm_path(v)}" for k, v in sorted(self._flag_map(m).items())]

    def _start_member(self, m: _Member, *, fresh_pod: bool) -> None:
        pod = etcd_pod_name(m.node)
        logs_dir = self.layout.container_logs_dir(pod)
        if fresh_pod:
            shutil.rmtree(logs_dir, ignore_errors=True)
            with contextlib.suppress(NotFound):
                self.store.delete("Pod", NAMESPACE, pod)
            self.store.create(ko.etcd_pod(
                node=m.node, node_uid=m.node_uid, ip=m.ip, image=self.image, command=self._display_command(m),
                advertise_client_url=m.client_url,
            ))
        container = Container("etcd", logs_dir, lambda: self._real_argv(m), lambda: self._sync_pod(m))
        m.container = container
        self.store.runtimes[(NAMESPACE, pod)] = PodRuntime(exec_resolver=self._exec_resolver(m))
        container.start()

    def _exec_resolver(self, m: _Member) -> Callable[[list[str]], tuple[list[str], dict[str, str]]]:
        def resolve(argv: list[str]) -> tuple[list[str], dict[str, str]]:
            return self._resolve_exec(m, argv)

        return resolve

    def _resolve_exec(self, m: _Member, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """Map a command run in the etcd container to this machine: its binaries, its cert files, its ports."""
        if m.container is None or not m.container.running:
            raise ExecRefused('container not found ("etcd")')
        if not argv:
            raise ExecRefused("command must not be empty")
        program = argv[0].rsplit("/", 1)[-1]
        binaries = {"etcdctl": str(self.etcdctl_path), "etcd": str(self.binaries.etcd)}
        if program not in binaries or (program == "etcd" and argv[1:] not in (["--version"], ["--help"])):
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
        return [binaries[program], *args], env

    def _sync_pod(self, m: _Member) -> None:
        """Mirror the container's state into the static pod's status (the kubelet's status manager)."""
        self._changed.set()
        c = m.container
        if c is None or m.reset:
            return
        pod = etcd_pod_name(m.node)
        runtime = self.store.runtimes.get((NAMESPACE, pod))
        if runtime is not None:
            runtime.current, runtime.previous = c.current, c.previous
        ready = c.running and m.healthy
        status = ko.container_status(
            name="etcd", image=self.image, image_id=self.image, restart_count=c.restart_count, current=c.current,
            previous=c.previous, waiting_reason=c.waiting_reason, running=c.running, ready=ready,
        )

        def mutate(obj: Obj) -> None:
            st = obj["status"]
            st["phase"] = "Running" if c.current is not None else "Pending"
            st["containerStatuses"] = [status]
            st["conditions"] = ko.pod_conditions(scheduled=True, initialized=True, ready=ready)

        try:
            self.store.update("Pod", NAMESPACE, pod, mutate)
        except NotFound:
            pass  # deleted through the API; the reconciler re-creates mirror pods

    def _set_node_ready(self, node: str, ready: bool) -> None:
        def mutate(obj: Obj) -> None:
            obj["status"]["conditions"] = ko.node_conditions(ready=ready)

        with contextlib.suppress(NotFound):
            self.store.update("Node", "", node, mutate)

    def _ensure_node_object(self, m: _Member) -> None:
        if self.store.find("Node", "", m.node) is None:
            created = self.store.create(ko.node_object(m.node, m.ip, m.index))
            m.node_uid = created["metadata"]["uid"]

    def _create_cluster_objects(self) -> None:
        # Workloads (kube-proxy DaemonSet, a Deployment with a PDB) and their controllers belong to the API
        # server's `Workloads`; the ring owns nodes and static etcd pods only.
        for m in self._members.values():
            created = self.store.create(ko.node_object(m.node, m.ip, m.index))
            m.node_uid = created["metadata"]["uid"]

    def _healthy_node(self, exclude: str | None = None) -> str | None:
        """A member to talk to: a healthy one, else any running one (an active alarm makes /health false)."""
        candidates = [(n, m) for n, m in self._members.items() if n != exclude and not m.reset]
        for n, m in candidates:
            if m.healthy:
                return n
        for n, m in candidates:
            if m.container is not None and m.container.running:
                return n
        return None

    async def _reconfigure(self, *args: str, via: str) -> tuple[int, str, str]:
        """`member add/remove`, retried while etcd's strict reconfig check says "unhealthy cluster": it counts
        a peer as active only once connected for 5 s, so right after a start or restart it refuses for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECONFIG_PATIENCE
        while True:
            rc, out, err = await self.run_etcdctl(*args, via=via)
            if rc == 0 or "unhealthy cluster" not in err or loop.time() > deadline:
                return rc, out, err
            await asyncio.sleep(0.5)

    async def _member_list(self, via: str) -> list[dict[str, Any]]:
        rc, out, err = await self.run_etcdctl("member", "list", "-w", "json", via=via)
        if rc != 0:
            raise RingError(f"etcdctl member list failed: {last_line(err)}")
        return list(json.loads(out).get("members", []))

    async def _refresh_member_ids(self) -> None:
        via = self._healthy_node()
        if via is None:
            return
        try:
            members = await self._member_list(via)
        except (RingError, ValueError) as exc:
            log.warning("cannot read the member list: %s", exc)
            return
        by_peer = {url: format(int(e["ID"]), "x") for e in members for url in e.get("peerURLs", [])}
        for m in self._members.values():
            m.member_id = by_peer.get(m.peer_url) if not m.reset else None

    async def _wait_healthy(self, nodes: list[str], within: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            pending = [n for n in nodes if not self._members[n].healthy]
            if not pending:
                return
            for n in pending:
                failure = self._startup_failure(self._members[n])
                if failure:
                    raise RingError(f"etcd on {n} failed to start: {failure}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RingError(f"etcd not healthy within {within:.0f} s on: {', '.join(pending)}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, HEALTH_POLL))

    async def _serving_peers(self, m: _Member, within: float = 3.0) -> None:
        """Wait until this member serves its peer port before starting the next one.

        A new member first asks every peer's `/members` with a 1 s timeout; a peer whose port is bound but not
        yet served makes that wait the full second (etcd-lab.md §7), while a closed port answers at once.
        Starting members one after another, each once its predecessor serves peers, avoids both stalls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline and m.container is not None:
            run = m.container.current
            if run is not None:
                try:
                    data = run.log_path.read_bytes()  # a few kB at this point
                except OSError:
                    data = b""
                if SERVING_PEERS in data:
                    return
                if run.finished_at is not None:
                    return  # it died; _wait_healthy reports why
            await asyncio.sleep(0.02)

    def _startup_failure(self, m: _Member) -> str | None:
        """The reason etcd gave for exiting, if its first run already ended (e.g. address in use)."""
        c = m.container
        if c is None or c.current is None or c.current.finished_at is None:
            return None
        return last_fatal_message(c.current.log_path) or f"exit code {c.current.exit_code}"

    async def _poll_health(self) -> None:
        assert self._session is not None
        while True:
            checks = [m for m in self._members.values() if m.container is not None and not m.reset]
            results = await asyncio.gather(*(self._probe(m) for m in checks))
            for m, ok in zip(checks, results, strict=True):
                if ok != m.healthy:
                    m.healthy = ok
                    self._sync_pod(m)
            await asyncio.sleep(HEALTH_POLL)

    async def _probe(self, m: _Member) -> bool:
        if m.container is None or not m.container.running:
            return False
        assert self._session is not None
        try:
            async with self._session.get(f"http://127.0.0.1:{m.metrics_port}/health") as resp:
                body = await resp.json(content_type=None)
                return bool(resp.status == 200 and body.get("health") == "true")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False


def last_line(text: str) -> str:
    """etcdctl prints zap warnings before its `Error: ...` line; errors shown to users are one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "etcdctl failed"


def _port_free_on(*hosts: str) -> int:
    """A port free on every host given (members listen on 127.0.0.1 and their node address)."""
    for _ in range(50):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                ensure_free(host, port)
        except PortInUse:
            continue
        return port
    raise PortInUse(f"no free port on {', '.join(hosts)}")


def last_fatal_message(log_path: Path) -> str | None:
    """The `msg` + `error` of the last fatal/error zap line in a CRI log file."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 64 * 1024))  # the tail is enough; logs can be large
            lines = fh.read().decode(errors="replace").splitlines()[-50:]
    except OSError:
        return None
    for line in reversed(lines):
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        try:
            entry = json.loads(parts[3])
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("fatal", "panic", "error"):
            msg = str(entry.get("msg", ""))
            err = entry.get("error")
            return f"{msg}: {err}" if err else msg
    return None


async def run_argv(argv: list[str], limit_s: float = ETCDCTL_TIMEOUT) -> tuple[int, str, str]:
    """Run a program (argv list, no shell) and return (rc, stdout, stderr), output capped in size."""
    return await run_argv_input(argv, None, limit_s)


async def run_argv_input(argv: list[str], stdin: bytes | None, limit_s: float = ETCDCTL_TIMEOUT) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), limit_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return 124, "", f"{argv[0]}: timed out after {limit_s:.0f} s\n"
    return (proc.returncode or 0, out[:MAX_ETCDCTL_OUTPUT].decode(errors="replace"),
            err[:MAX_ETCDCTL_OUTPUT].decode(errors="replace"))
