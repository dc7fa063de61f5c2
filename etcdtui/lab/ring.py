"""The lab's etcd ring: real etcd member processes on loopback, and the Kubernetes objects that show them.

Each node `lab-cp-K` gets its own loopback address 127.0.1.K (Linux routes all of 127/8 to `lo`), so node,
member and pod map to each other by IP exactly as on a real cluster. Members run with TLS on client and peer
URLs, zap logs and `--snapshot-count=10` (so the startup corruption check really compares peers), under a
kubelet-like supervisor (`supervisor.Container`). The static pod `etcd-lab-cp-K` shows the member's real
command line with kubeadm's paths. All methods run on the lab daemon's event loop. A member's model is in
`ring_member`, what it runs (flags, argv, the pod's command, exec) in `member_command`, program runs in `run_argv`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
from typing import Any

import aiohttp

from etcdtui.lab import kube_objects as ko
from etcdtui.lab.corrupt import patch_value_in_file, wait_for_bytes
from etcdtui.lab.etcd_binary import EtcdBinaries
from etcdtui.lab.layout import NAMESPACE, LabLayout, etcd_pod_name, node_name
from etcdtui.lab.member_command import display_command, exec_resolver, real_argv
from etcdtui.lab.objects import NotFound, Obj, ObjectStore, PodRuntime
from etcdtui.lab.ports import PortInUse, ensure_free, free_port
from etcdtui.lab.ring_member import (
    SNAPSHOT_COUNT,
    Member,
    MemberInfo,
    RingError,
    UnknownNode,
    corrupt_check_flags,
    last_fatal_message,
    node_ip,
    port_free_on,
)
from etcdtui.lab.run_argv import last_line, run_argv
from etcdtui.lab.supervisor import Container

log = logging.getLogger(__name__)

HEALTH_POLL = 0.25
MEMBER_START_TIMEOUT = 30.0
# Stopping every member at once: the leader may wait for a leadership transfer that cannot happen any more,
# so it gets a short grace before SIGKILL (etcd is crash-safe; `down` usually deletes the data anyway).
STOP_GRACE_ALL = 2.0
SERVING_PEERS = b'"msg":"serving peer traffic"'
RECONFIG_PATIENCE = 15.0


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
        self._members: dict[str, Member] = {}
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
            command=display_command(m, self.binaries, self.quota_backend_bytes), host_ip=m.ip,
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

    async def _ensure_snapshot(self, m: Member) -> None:
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
    def _member(self, node: str) -> Member:
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

    def _allocate(self, node: str, index: int) -> Member:
        ip = node_ip(index)
        m = Member(
            node=node, index=index, ip=ip, client_port=0, peer_port=0, metrics_port=0,
            data_dir=self.layout.etcd_data_dir(node), pki_dir=self.layout.node_pki_dir(node),
            flags=list(self._default_flags),
        )
        m.client_port = port_free_on(ip, "127.0.0.1")
        m.peer_port = free_port(ip)
        m.metrics_port = port_free_on("127.0.0.1")
        return m

    def _ensure_ports_free(self, m: Member) -> None:
        try:
            for host, port in (("127.0.0.1", m.client_port), (m.ip, m.client_port), (m.ip, m.peer_port),
                               ("127.0.0.1", m.metrics_port)):
                ensure_free(host, port)
        except PortInUse:
            m.client_port = port_free_on(m.ip, "127.0.0.1")
            m.peer_port = free_port(m.ip)
            m.metrics_port = port_free_on("127.0.0.1")

    def _start_member(self, m: Member, *, fresh_pod: bool) -> None:
        pod = etcd_pod_name(m.node)
        logs_dir = self.layout.container_logs_dir(pod)
        if fresh_pod:
            shutil.rmtree(logs_dir, ignore_errors=True)
            with contextlib.suppress(NotFound):
                self.store.delete("Pod", NAMESPACE, pod)
            self.store.create(ko.etcd_pod(
                node=m.node, node_uid=m.node_uid, ip=m.ip, image=self.image,
                command=display_command(m, self.binaries, self.quota_backend_bytes), advertise_client_url=m.client_url,
            ))
        container = Container("etcd", logs_dir, lambda: real_argv(m, self.binaries, self.quota_backend_bytes),
                              lambda: self._sync_pod(m))
        m.container = container
        self.store.runtimes[(NAMESPACE, pod)] = PodRuntime(exec_resolver=exec_resolver(m, self.binaries))
        container.start()

    def _sync_pod(self, m: Member) -> None:
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

    def _ensure_node_object(self, m: Member) -> None:
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

    async def _serving_peers(self, m: Member, within: float = 3.0) -> None:
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

    def _startup_failure(self, m: Member) -> str | None:
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

    async def _probe(self, m: Member) -> bool:
        if m.container is None or not m.container.running:
            return False
        assert self._session is not None
        try:
            async with self._session.get(f"http://127.0.0.1:{m.metrics_port}/health") as resp:
                body = await resp.json(content_type=None)
                return bool(resp.status == 200 and body.get("health") == "true")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False


