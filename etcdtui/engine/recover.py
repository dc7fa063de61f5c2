"""Quorum lost: restore etcd from a snapshot, as a journaled, resumable procedure (`etcdtui recover`).

Follows etcd's disaster recovery (op-guide/recovery: `etcdutl snapshot restore` into a fresh data dir, one
member first) and KubeOne's "Manual Cluster Recovery" (stop etcd on every control-plane node by moving its
static pod manifest aside, restore on one node, re-join the others with `kubeone apply`):

  stop:NODE   every control-plane node: `sudo mv /etc/kubernetes/manifests/etcd.yaml <aside>`
  restore     on the restore node: upload the snapshot (`sudo dd of=...`), `sudo etcdutl snapshot restore`
              into a fresh dir as a one-member cluster, old /var/lib/etcd moved aside, the fresh dir in place
  start       the manifest back; the member must answer alone, at the snapshot's revision or later
  reset:NODE  each other node: `sudo kubeadm reset --force`, then its Node object deleted
  rejoin      `kubeone apply` (the plan may only join the reset nodes); on a kubeadm cluster each reset node
              joins in turn with the replace procedure's kubeadm join (recover_kubeadm.py)
  verify      every node a member, all healthy, hashes equal

Every step is idempotent (each looks at what is already done), so a resume re-runs the step that was
running. The journal (`recover-<cluster>.jsonl`, 0600) and the lock are the replace procedure's machinery.
On kubeadm the nodes are reached at the address their etcd advertises to its peers (`--initial-advertise-peer-urls`,
the node's address in a kubeadm cluster) with the context's ssh settings: the Node objects go away on reset.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, target_from_pod
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshError, SshHostKeyError, SshTarget
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.kubeone_apply import APPLY_TIMEOUT, ApplyFailed, apply_argv, run_apply
from etcdtui.engine.node_reach import flavour_of
from etcdtui.engine.recover_kubeadm import kubeadm_rejoin
from etcdtui.engine.recover_plan import (
    NodePlan,
    RecoverPlan,
    Refused,
    SnapshotFacts,
    plan_from_record,
    plan_record,
)
from etcdtui.engine.replace.model import StepFailed as JoinFailed
from etcdtui.engine.replace_context import delete_node, gather_context
from etcdtui.engine.snapshot import RingSnapshot, Verdict
from etcdtui.engine.step_journal import Confirm, Print, StepFailed, StepJournal, StepObserver

MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
ASIDE = "/etc/kubernetes/etcd.yaml.etcdtui-recover"
REMOTE_SNAPSHOT = "/var/lib/etcdtui-restore.db"
DATA_DIR = "/var/lib/etcd"
START_TIMEOUT = 60.0
VERIFY_TIMEOUT = 120.0
MAX_LOST_KEYS_SHOWN = 20
MEMBERS_QUIET = 10.0
SETTLE_TIMEOUT = 180.0


def _flag(command: Sequence[str], name: str) -> str | None:
    for arg in command:
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def quorum_lost(snap: RingSnapshot) -> bool:
    return snap.verdict is Verdict.QUORUM_LOST



class RecoverProcedure:
    def __init__(
        self, conn: ClusterConnection, kubeone: KubeOneSettings, *, ssh: SshSettings | None, emit: Print,
        confirm: Confirm, state: Path | None = None, namespace: str = "kube-system", flavour: str | None = None,
    ) -> None:
        self.conn = conn
        self.kubeone = kubeone
        self.ssh = ssh
        self.emit = emit
        self.confirm = confirm
        self.namespace = namespace
        self.journal, self.lock = StepJournal.with_lock(state, conn, "recover")
        self.flavour = flavour_of(kubeone, ssh, flavour)
        self._exec = EtcdctlExec(conn)
        self._ssh: dict[str, SshNode] = {}
        self.plan: RecoverPlan | None = None
        self.done: set[str] = set()
        self.on_step: StepObserver = lambda _step, _note: None  # the app's checklist follows the steps

    # -- planning (read-only) ------------------------------------------------------------------------------
    def resume_plan(self) -> RecoverPlan | None:
        begin, self.done = self.journal.replay()
        self.plan = plan_from_record(begin) if begin else None
        return self.plan

    async def make_plan(self, snap: RingSnapshot, snapshot: SnapshotFacts) -> RecoverPlan:
        if not quorum_lost(snap):
            raise Refused(f"quorum is intact (ring verdict {snap.verdict.value}): restoring a snapshot would throw "
                          "away data; replace single members with `etcdtui replace NODE` instead")
        rows = [r for r in snap.rows if r.pod is not None and r.node_name]
        if not rows:
            raise Refused("no etcd pods found: etcdtui needs the static pods' commands to know the members")
        nodes = [NodePlan(r.node_name or "", _flag(r.pod.command, "--name") or r.node_name or "",  # type: ignore[union-attr]
                          _flag(r.pod.command, "--initial-advertise-peer-urls"), tuple(r.pod.command))  # type: ignore[union-attr]
                 for r in sorted(rows, key=lambda r: r.node_name or "")]
        running = [r.node_name for r in rows if r.pod is not None and r.pod.phase == "Running" and r.pod.ready]
        running = running or [r.node_name for r in rows if r.pod is not None and r.pod.phase == "Running"]
        restore = next((n.node for n in nodes if n.node in running and n.peer_url), None) or nodes[0].node
        plan = RecoverPlan(self.conn.context, self.conn.server, snapshot, nodes, restore)
        if next(n for n in nodes if n.node == restore).peer_url is None:
            raise Refused(f"the etcd pod of {restore} has no --initial-advertise-peer-urls")
        await self._lost_writes(plan, [n for n in running if n])
        return plan

    async def _lost_writes(self, plan: RecoverPlan, running: Sequence[str]) -> None:
        """What the snapshot lacks: on a member that still runs, its revision and the keys changed after the
        snapshot's revision (serializable reads: they need no quorum)."""
        rev = plan.snapshot.revision
        for node in running:
            np = next(n for n in plan.nodes if n.node == node)
            try:
                status = json.loads(await self._etcdctl(np, ["endpoint", "status", "-w", "json"]))
                plan.survivor_revision = int(status[0]["Status"]["header"]["revision"])
                listed = json.loads(await self._etcdctl(
                    np, ["get", "", "--prefix", "--keys-only", "--consistency=s", "-w", "json"]))
                found = sorted(base64.b64decode(kv["key"]).decode(errors="replace")
                               for kv in listed.get("kvs") or [] if int(kv.get("mod_revision", 0)) > rev)
            except (StepFailed, ValueError, KeyError, IndexError, TypeError):
                continue
            plan.lost_keys_total = len(found)
            plan.lost_keys = found[:MAX_LOST_KEYS_SHOWN]
            return
        plan.notes.append("no member answers: the writes after the snapshot cannot be listed")

    async def _etcdctl(self, np: NodePlan, args: list[str], limit_s: float = 15.0) -> str:
        pod = f"etcd-{np.node}"
        target = target_from_pod(pod, self.namespace, list(np.pod_command))
        argv = ["etcdctl", *target.connection.global_flags(), *args]
        try:
            result = await self._exec.exec(pod, self.namespace, argv, container=target.container, limit_s=limit_s)
        except EtcdctlExecError as exc:
            raise StepFailed(str(exc)) from None
        if result.rc not in (0, None):
            raise StepFailed(f"etcdctl {' '.join(args)} in {pod}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
        return result.stdout

    # -- running ---------------------------------------------------------------------------------------------
    async def run(self, plan: RecoverPlan) -> None:
        self.plan = plan
        if not self.journal.exists():
            self.journal.append({"kind": "begin", "t": time.time(), **plan_record(plan)})
        await self.journal.run_steps(plan.steps(), self.done, lambda step: self._run_step(plan, step), self.emit,
                                     "recovered", self.on_step)

    async def _run_step(self, plan: RecoverPlan, step: str) -> str:
        name, _, node = step.partition(":")
        if name == "stop":
            return await self.step_stop(node)
        if name == "restore":
            return await self.step_restore(plan)
        if name == "start":
            return await self.step_start(plan)
        if name == "reset":
            return await self.step_reset(node)
        if name == "rejoin":
            return await self.rejoin(plan)
        return await self.step_verify(plan)

    async def ssh_target(self, node: str) -> SshTarget:
        if self.flavour.is_kubeadm:
            np = next((n for n in self.plan.nodes if n.node == node), None) if self.plan else None
            address = urlsplit(np.peer_url).hostname if np and np.peer_url else None
            if address is None:
                raise StepFailed(f"no address for {node}: its etcd pod has no --initial-advertise-peer-urls")
            return NodeSsh.of(self.ssh or SshSettings()).target(node, address)
        ctx = await gather_context(self.conn, _EMPTY, node, self.kubeone, ssh_settings=self.ssh,
                                   namespace=self.namespace)
        if ctx.ssh is None:
            raise StepFailed(f"no ssh way to {node}: {ctx.problems[0] if ctx.problems else 'no kubeone host'}")
        return ctx.ssh

    async def node_ssh(self, node: str) -> SshNode:
        if node not in self._ssh:
            self._ssh[node] = await _connect(await self.ssh_target(node))
        return self._ssh[node]

    async def _sh(self, node: str, argv: list[str], *, check: bool = True, limit: float = 120.0) -> bool:
        ssh = await self.node_ssh(node)
        self.emit(f"   {node}$ {shlex.join(argv)}")
        try:
            result, out, err = await ssh.capture(argv, time_limit=limit)
        except SshError as exc:
            raise StepFailed(f"{node}: {exc}") from None
        for line in [*out, *err][-15:]:
            self.emit(f"     {line}")
        if check and not result.ok:
            raise StepFailed(f"{node}: `{shlex.join(argv)}` failed ({result.describe()})")
        return result.ok

    async def ask(self, what: str, node: str) -> None:
        if not await self.confirm(what, node):
            raise StepFailed(f"not confirmed: {what}")

    async def step_stop(self, node: str) -> str:
        if not await self._sh(node, ["sudo", "test", "-e", MANIFEST], check=False):
            return f"etcd is not running on {node} (no manifest in /etc/kubernetes/manifests)"
        await self.ask(f"stop etcd on {node}: move its static pod manifest aside", node)
        await self._sh(node, ["sudo", "mv", MANIFEST, ASIDE])
        return f"etcd stopped on {node} (manifest at {ASIDE})"

    async def step_restore(self, plan: RecoverPlan) -> str:
        node = plan.restore_node
        np = next(n for n in plan.nodes if n.node == node)
        tag = str(int(_begin_time(self.journal)))
        restored, old = f"{DATA_DIR}-etcdtui-restored-{tag}", f"{DATA_DIR}.before-recover-{tag}"
        if await self._sh(node, ["sudo", "test", "-e", old], check=False) and \
                await self._sh(node, ["sudo", "test", "-e", f"{DATA_DIR}/member"], check=False):
            return f"already restored on {node} ({old} kept)"
        await self.ask(f"restore the snapshot on {node} into a fresh data dir; {DATA_DIR} is moved to {old}", node)
        ssh = await self.node_ssh(node)
        self.emit(f"   {node}$ sudo dd of={REMOTE_SNAPSHOT} status=none < {plan.snapshot.path}")
        try:
            up = await ssh.connection.run(shlex.join(["sudo", "dd", f"of={REMOTE_SNAPSHOT}", "status=none"]),
                                          stdin=str(plan.snapshot.path), encoding=None, check=False, timeout=600)
        except (OSError, SshError, Exception) as exc:  # asyncssh raises its own errors on a lost connection
            raise StepFailed(f"upload to {node}: {exc}") from None
        if up.exit_status != 0:
            err = up.stderr.decode(errors="replace") if isinstance(up.stderr, bytes) else str(up.stderr or "")
            raise StepFailed(f"upload to {node} failed: {err.strip()[-200:]}")
        if await self._sh(node, ["sudo", "test", "-e", restored], check=False):  # a crash mid-restore left it
            await self._sh(node, ["sudo", "mv", restored, f"{restored}.partial-{int(time.time())}"])
        await self._sh(node, ["sudo", "etcdutl", "snapshot", "restore", REMOTE_SNAPSHOT, "--data-dir", restored,
                              "--name", np.member_name, f"--initial-cluster={np.member_name}={np.peer_url}",
                              f"--initial-advertise-peer-urls={np.peer_url}"])
        if not await self._sh(node, ["sudo", "test", "-e", old], check=False) and \
                await self._sh(node, ["sudo", "test", "-e", DATA_DIR], check=False):
            await self._sh(node, ["sudo", "mv", DATA_DIR, old])
        await self._sh(node, ["sudo", "mv", restored, DATA_DIR])
        return f"snapshot revision {plan.snapshot.revision} restored on {node} as a one-member cluster"

    async def step_start(self, plan: RecoverPlan) -> str:
        node = plan.restore_node
        np = next(n for n in plan.nodes if n.node == node)
        if not await self._sh(node, ["sudo", "test", "-e", MANIFEST], check=False):
            await self.ask(f"start etcd on {node} from the restored data dir (manifest back)", node)
            await self._sh(node, ["sudo", "mv", ASIDE, MANIFEST])
        deadline = time.monotonic() + START_TIMEOUT
        last = "not asked yet"
        while time.monotonic() < deadline:
            try:
                members = json.loads(await self._etcdctl(np, ["member", "list", "-w", "json"]))["members"]
                status = json.loads(await self._etcdctl(np, ["endpoint", "status", "-w", "json"]))
                revision = int(status[0]["Status"]["header"]["revision"])
                if len(members) == 1 and revision >= plan.snapshot.revision:
                    return f"{node} answers alone: 1 member, revision {revision}"
                last = f"{len(members)} members, revision {revision}"
            except (StepFailed, ValueError, KeyError, IndexError, TypeError) as exc:
                last = str(exc)
            await asyncio.sleep(1.0)
        raise StepFailed(f"the restored member on {node} did not come up within {START_TIMEOUT:.0f} s ({last})")

    async def step_reset(self, node: str) -> str:
        await self.ask(f"reset {node} (kubeadm reset --force) and delete its Node object", node)
        await self._sh(node, ["sudo", "kubeadm", "reset", "--force"], limit=300)
        deleted = await delete_node(self.conn, node)
        return f"{node} reset; Node {'deleted' if deleted else 'was already gone'}"

    async def members(self, plan: RecoverPlan) -> list[dict[str, Any]]:
        np = next(n for n in plan.nodes if n.node == plan.restore_node)
        return list(json.loads(await self._etcdctl(np, ["member", "list", "-w", "json"]))["members"])

    async def rejoin(self, plan: RecoverPlan) -> str:
        """Re-join every reset node: `kubeone apply`, whose plan may only join those nodes (KubeOne joins
        control-plane nodes one at a time). The one function a kubeadm flavour replaces."""
        if self.flavour.is_kubeadm:
            try:
                return await kubeadm_rejoin(self, plan)
            except (JoinFailed, SshError) as exc:
                raise StepFailed(str(exc)) from None
        await self._after_interrupted_apply(plan)
        names = {str(m.get("name", "")) for m in await self.members(plan)}
        missing = [n for n in plan.others if n not in names]
        if not missing:
            return "every node is a member again"
        argv = await apply_argv(self.conn, self.kubeone, self.namespace)
        await self.ask(f"run `{shlex.join(argv)}`: KubeOne re-joins {', '.join(missing)}", missing[0])

        def journal_pid(pid: int) -> None:  # a resume after a crash first waits for this kubeone and its joins
            self.journal.append({"kind": "note", "kubeone_pid": pid, "t": time.time()})

        try:
            seconds = await run_apply(argv, self.kubeone, missing, emit=self.emit, on_pid=journal_pid)
        except ApplyFailed as exc:
            raise StepFailed(str(exc)) from None
        return f"kubeone apply re-joined {', '.join(missing)} in {seconds:.0f} s"

    async def _after_interrupted_apply(self, plan: RecoverPlan) -> None:
        """After a crash during the re-join: wait for the kubeone that was running to exit, then for the
        membership to settle (every member started, no change for MEMBERS_QUIET s), so no join runs twice."""
        pids = [int(r["kubeone_pid"]) for r in self.journal.records() if r.get("kubeone_pid")]
        if not pids:
            return
        deadline = time.monotonic() + APPLY_TIMEOUT
        if _alive(pids[-1]):
            self.emit(f"   waiting for the interrupted kubeone (pid {pids[-1]}) to exit")
        while _alive(pids[-1]) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process: no event
            await asyncio.sleep(0.5)
        self.emit(f"   waiting until the member list is settled ({MEMBERS_QUIET:.0f} s without a change)")
        last: list[tuple[str, str]] | None = None
        since = time.monotonic()
        settle_deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < settle_deadline:
            try:
                now = sorted((str(m.get("ID")), str(m.get("name", ""))) for m in await self.members(plan))
            except StepFailed:
                now = None
            if now != last or now is None or any(not name for _, name in now):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= MEMBERS_QUIET:
                return
            await asyncio.sleep(1.0)

    async def step_verify(self, plan: RecoverPlan) -> str:
        np = next(n for n in plan.nodes if n.node == plan.restore_node)
        deadline = time.monotonic() + VERIFY_TIMEOUT
        last = "not checked"
        while time.monotonic() < deadline:
            try:
                members = await self.members(plan)
                names = sorted(str(m.get("name", "")) for m in members)
                health = json.loads(await self._etcdctl(np, ["endpoint", "health", "--cluster", "-w", "json"]))
                hashes = json.loads(await self._etcdctl(np, ["endpoint", "hashkv", "--cluster", "-w", "json"]))
                healthy = sum(1 for h in health if h.get("health"))
                distinct = {h["HashKV"]["hash"] for h in hashes}
                if len(members) == len(plan.nodes) and healthy == len(members) and len(distinct) == 1 \
                        and len(hashes) == len(members):
                    return f"{len(members)} members ({', '.join(names)}), all healthy, hashes equal"
                last = f"{len(members)} members, {healthy} healthy, {len(distinct)} distinct hashes"
            except (StepFailed, ValueError, KeyError, TypeError) as exc:
                last = str(exc)
            await asyncio.sleep(2.0)
        raise StepFailed(f"the ring is not whole within {VERIFY_TIMEOUT:.0f} s: {last}")

    async def close(self) -> None:
        for ssh in self._ssh.values():
            with contextlib.suppress(Exception):
                await ssh.close()
        self._ssh.clear()
        await self._exec.close()


async def _connect(target: SshTarget) -> SshNode:
    try:
        return await connect(target)
    except SshHostKeyError as exc:
        raise StepFailed(f"host key verification failed, the procedure stops: {exc}") from None
    except SshError as exc:
        raise StepFailed(str(exc)) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _begin_time(journal: StepJournal) -> float:
    return next((float(r.get("t", 0)) for r in journal.records() if r.get("kind") == "begin"), time.time())


class _EmptySnapshot:
    """gather_context needs a ring snapshot for the target row; the recovery maps hosts only."""

    rows: tuple[Any, ...] = ()
    nodes: tuple[Any, ...] = ()


_EMPTY: Any = _EmptySnapshot()
