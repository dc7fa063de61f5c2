"""The dead-machine variant of `etcdtui replace NODE` (KubeOne's "Manual Cluster Repair"), journaled and resumable.

When the machine is gone (ssh unreachable, and its member unreachable or its Node NotReady/gone) there is nothing
to drain or reset. Steps: evidence, quorum gate (the dead member counts as lost), backup from a healthy member,
`etcdctl member remove` of the dead member, delete the Node, wait for the replacement machine (it must answer ssh
with a host key known_hosts holds, and hold no etcd state), `kubeone apply` (the plan may only join NODE) or, on a
kubeadm cluster, the replace procedure's kubeadm join (`KubeadmJoin`: token and certificate key on a healthy
control-plane node, never shown; the token deleted at the end), verify. On kubeadm the machine is reached at the
Node's InternalIP, journaled at the start for when the Node is gone. Each step looks at what is already done, so
a resume re-runs the step that was running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdtui.cluster.backup import BackupError
from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, target_from_pod
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshError, SshHostKeyError, SshTarget
from etcdtui.core.checklist import quorum_gate
from etcdtui.engine.backups import new_own_backup_path, take_backup
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.kubeone_apply import ApplyFailed, apply_argv, run_apply
from etcdtui.engine.node_reach import flavour_of, node_ssh_target
from etcdtui.engine.replace.model import StepFailed as JoinFailed
from etcdtui.engine.replace.step_kubeadm_join import (
    JOIN_STARTED,
    KubeadmJoin,
    delete_journaled_tokens,
    healthy_control_plane,
    journaled_join,
)
from etcdtui.engine.replace_context import delete_node, member_facts, read_node, target_row
from etcdtui.engine.snapshot import RingSnapshot
from etcdtui.engine.step_journal import StepFailed, StepJournal, StepObserver

SSH_PROBE_TIMEOUT = 10.0
VERIFY_TIMEOUT = 120.0
STEPS = ("evidence", "quorum", "backup", "member-remove", "delete-node", "wait-machine", "apply", "verify")
STEP_TITLES = {
    "evidence": "Evidence: the machine is gone",
    "quorum": "Quorum gate (the dead member counts as lost)",
    "backup": "Backup: etcd snapshot from a healthy member",
    "member-remove": "etcdctl member remove (the dead member)",
    "delete-node": "Delete the Node object",
    "wait-machine": "Wait for the replacement machine (ssh, host key, no old state)",
    "apply": "kubeone apply (joins the fresh machine)",  # kubeadm: KUBEADM_APPLY_TITLE
    "verify": "Verify: members healthy, hashes equal, old ID gone, Node Ready",
}
KUBEADM_APPLY_TITLE = "kubeadm join (joins the fresh machine)"
DESTRUCTIVE = frozenset({"member-remove", "delete-node", "apply"})  # each asks for the node name
PROCEDURE = "repair"  # the journal: repair-<cluster>.jsonl
OLD_STATE = ("/var/lib/etcd/member", "/etc/kubernetes/manifests/etcd.yaml")


@dataclass(frozen=True)
class Diagnosis:
    dead: bool
    reasons: tuple[str, ...]  # what was found, one line each
    member_id: str | None
    ssh: SshTarget | None


async def ssh_answer(target: SshTarget) -> str | None:
    """None when the machine answers ssh with a verified host key; else why not (one line)."""
    try:
        async with asyncio.timeout(SSH_PROBE_TIMEOUT):
            node = await connect(target)
    except SshHostKeyError as exc:
        return f"host key verification failed: {exc}"
    except (SshError, OSError, TimeoutError) as exc:
        return f"ssh unreachable: {str(exc) or type(exc).__name__}"
    await node.close()
    return None


async def diagnose(conn: ClusterConnection, snap: RingSnapshot, node: str, kubeone: KubeOneSettings,
                   ssh: SshSettings | None, namespace: str = "kube-system", *, flavour: str | None = None) -> Diagnosis:
    """Which variant: dead when ssh does not answer and the member is unreachable or the Node NotReady/gone.

    `flavour` is the context's setting (None: detected): it says how the machine is reached over ssh."""
    row = target_row(snap, node)
    info = next((n for n in snap.nodes if n.name == node), None)
    reasons: list[str] = []
    node_down = info is None or info.ready is not True
    reasons.append(f"Node {node} is gone" if info is None else f"Node {node} is {'Ready' if info.ready else 'NotReady'}")
    member_down = row is None or row.healthy is not True
    reasons.append(f"member {row.member_id or '?'} is {'healthy' if not member_down else 'unreachable'}" if row
                   else f"no etcd member on {node}")
    target, problems = await node_ssh_target(conn, snap, node, kubeone, ssh, flavour=flavour_of(kubeone, ssh, flavour),
                                             namespace=namespace)
    probe = await ssh_answer(target) if target else "no kubeone.yaml/tf.json host for it"
    if target is None and problems and flavour_of(kubeone, ssh, flavour).is_kubeadm:
        probe = problems[0]
    reasons.append(f"ssh {target.hop.address}: {probe or 'answers'}" if target else f"ssh: {probe}")
    dead = bool(probe and probe.startswith("ssh unreachable") and (member_down or node_down))
    return Diagnosis(dead, tuple(reasons), row.member_id if row else None, target)


Confirm = Callable[[str, str], Awaitable[bool]]


class DeadMachineRepair:
    def __init__(
        self, conn: ClusterConnection, engine: Any, node: str, kubeone: KubeOneSettings, *,
        ssh: SshSettings | None, emit: Callable[[str], None], confirm: Confirm, state: Path | None = None,
        wait_machine_s: float = 1800.0, namespace: str = "kube-system", flavour: str | None = None,
    ) -> None:
        self.conn, self.engine, self.node, self.kubeone = conn, engine, node, kubeone
        self.ssh, self.emit, self.confirm = ssh, emit, confirm
        self.namespace, self.wait_machine_s = namespace, wait_machine_s
        self.journal, self.lock = StepJournal.with_lock(state, conn, PROCEDURE)
        self.state = state  # the journal's directory; the backup goes to its backups/ (etcdtui's own by default)
        self._exec = EtcdctlExec(conn)
        self.flavour = flavour_of(kubeone, ssh, flavour)  # kubeadm: the fresh machine joins with kubeadm join
        self.facts: dict[str, Any] = {}
        self.done: set[str] = set()
        self.on_step: StepObserver = lambda _step, _note: None  # the app's checklist follows the steps

    def resume(self) -> bool:
        begin, self.done = self.journal.replay()
        self.facts = dict(begin or {})
        return bool(self.facts)

    async def run(self, diagnosis: Diagnosis | None, voting: int) -> None:
        """`diagnosis` is None on a resume (the journal's first record holds the facts)."""
        if not self.facts:
            if diagnosis is None:
                raise StepFailed("nothing to resume and no diagnosis")
            self.facts = {"kind": "begin", "t": time.time(), "node": self.node, "member_id": diagnosis.member_id,
                          "members": voting, "reasons": list(diagnosis.reasons),
                          "address": diagnosis.ssh.hop.host if diagnosis.ssh else None}
            self.journal.append(self.facts)
        if self.facts.get("node") != self.node:
            raise StepFailed(f"an unfinished repair of {self.facts.get('node')} exists ({self.journal.path})")
        runners: dict[str, Callable[[], Awaitable[str]]] = {
            "evidence": self.step_evidence, "quorum": self.step_quorum, "backup": self.step_backup,
            "member-remove": self.step_member_remove, "delete-node": self.step_delete_node,
            "wait-machine": self.step_wait_machine, "apply": self.step_apply, "verify": self.step_verify,
        }
        await self.journal.run_steps(STEPS, self.done, lambda step: runners[step](), self.emit, "repaired",
                                     self.on_step)

    async def _snap(self) -> RingSnapshot:
        self.engine.refresh_now()
        await asyncio.sleep(0.5)
        snap: RingSnapshot = await self.engine.wait_complete(30.0)
        return snap

    def _healthy_row(self, snap: RingSnapshot) -> Any:
        rows = [r for r in snap.rows if r.pod and r.healthy and r.member_id and r.node_name != self.node]
        if not rows:
            raise StepFailed(f"no healthy etcd member other than {self.node}")
        return min(rows, key=lambda r: (not r.is_leader, r.key))

    async def _etcdctl(self, args: list[str], snap: RingSnapshot) -> str:
        row = self._healthy_row(snap)
        target = target_from_pod(row.pod.name, self.namespace, list(row.pod.command))
        argv = ["etcdctl", *target.connection.global_flags(), *args]
        self.emit(f"   in pod {row.pod.name}: etcdctl {' '.join(args)}")
        try:
            result = await self._exec.exec(row.pod.name, self.namespace, argv, container=target.container, limit_s=20.0)
        except EtcdctlExecError as exc:
            raise StepFailed(str(exc)) from None
        if result.rc not in (0, None):
            raise StepFailed(f"etcdctl {' '.join(args)}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
        return result.stdout

    # -- steps ---------------------------------------------------------------------------------------------
    async def step_evidence(self) -> str:
        for reason in self.facts.get("reasons", []):
            self.emit(f"   {reason}")
        return f"{self.node}'s machine is gone: the dead-machine repair applies"

    async def step_quorum(self) -> str:
        snap = await self._snap()
        gate, decision = quorum_gate(member_facts(snap), self.node)
        self.emit(f"   N={decision.voting}, quorum={decision.quorum_now}, after removal={decision.quorum_after}, "
                  f"healthy others={decision.healthy_others} ({self.node} counts as lost)")
        if not gate.passed:
            raise StepFailed(gate.detail)
        return gate.detail

    async def step_backup(self) -> str:
        snap = await self._snap()
        dest = await asyncio.to_thread(new_own_backup_path, self.conn.context, self.state)
        try:
            result = await take_backup(self.conn, snap, kubeone=self.kubeone, dest=dest, ssh=self.ssh,
                                       namespace=self.namespace, exclude_node=self.node, flavour=self.flavour.name)
        except BackupError as exc:
            raise StepFailed(f"backup failed: {exc.message}") from None
        return f"{result.path} (revision {result.revision}, {result.size} bytes, sha256 {result.sha256[:16]}…)"

    async def step_member_remove(self) -> str:
        member_id = str(self.facts.get("member_id") or "")
        snap = await self._snap()
        listed = json.loads(await self._etcdctl(["member", "list", "-w", "json"], snap)).get("members", [])
        if not member_id or all(format(int(m["ID"]), "x") != member_id for m in listed):
            return f"member {member_id or '?'} is not in the member list (already removed)"
        if not await self.confirm(f"remove the dead member {member_id} of {self.node} from etcd", self.node):
            raise StepFailed("not confirmed")
        await self._etcdctl(["member", "remove", member_id], snap)
        return f"member {member_id} removed"

    async def step_delete_node(self) -> str:
        if await read_node(self.conn, self.node) is None:
            return f"Node {self.node} is already gone"
        if not await self.confirm(f"delete the Node object {self.node}", self.node):
            raise StepFailed("not confirmed")
        await delete_node(self.conn, self.node)
        return f'node "{self.node}" deleted'

    async def step_wait_machine(self) -> str:
        deadline = time.monotonic() + self.wait_machine_s
        told, told_problem = False, ""
        while True:
            target = await self._machine_target()
            if not told:
                self.emit(f"   waiting for a fresh machine at {target.hop.address} (provision it, e.g. terraform "
                          f"apply, then refresh tf.json); host keys from {target.known_hosts}")
                told = True
            problem = await ssh_answer(target)
            if problem is None:
                break
            if problem != told_problem:  # what it waits for, said again only when it changes
                self.emit(f"   not yet: {problem}")
                told_problem = problem
            if problem.startswith("host key"):
                raise StepFailed(f"{self.node}: {problem} — verify the new machine's key out of band and add it "
                                 "to known_hosts, then run again")
            if time.monotonic() > deadline:
                raise StepFailed(f"no machine answered at {target.hop.address} within {self.wait_machine_s:.0f} s")
            await asyncio.sleep(2.0)
        async with await connect(target) as ssh:
            for path in OLD_STATE:
                result, _, _ = await ssh.capture(["sudo", "-n", "test", "-e", path])
                if result.exit_code == 0:
                    raise StepFailed(f"{self.node} is not a fresh machine: {path} exists")
        return f"{self.node} answers ssh with a verified host key and holds no etcd state"

    async def _machine_target(self) -> SshTarget:
        """The machine's ssh target (kubeadm: at the address journaled at the start when the Node is gone)."""
        snap = self.engine.latest or await self._snap()
        target, problems = await node_ssh_target(self.conn, snap, self.node, self.kubeone, self.ssh,
                                                 flavour=self.flavour, namespace=self.namespace,
                                                 known_address=self.facts.get("address"))
        if target is None:
            raise StepFailed(problems[0] if problems else f"no kubeone.yaml/tf.json host for {self.node}")
        return target

    async def step_apply(self) -> str:
        snap = await self._snap()
        if self.flavour.is_kubeadm:
            await self._delete_leftover_tokens(snap)
        names = {r.member_name for r in snap.rows if r.member_id}
        if self.node in names and await read_node(self.conn, self.node) is not None:
            return f"{self.node} is already a member again"
        if self.flavour.is_kubeadm:
            return await self._kubeadm_join(snap)
        argv = await apply_argv(self.conn, self.kubeone, self.namespace)
        if not await self.confirm(f"run `{' '.join(argv)}`: KubeOne joins {self.node}", self.node):
            raise StepFailed("not confirmed")
        try:
            seconds = await run_apply(argv, self.kubeone, [self.node], emit=self.emit,
                                      on_pid=lambda pid: self.journal.append({"kind": "note", "kubeone_pid": pid}))
        except ApplyFailed as exc:
            raise StepFailed(str(exc)) from None
        return f"kubeone apply joined {self.node} in {seconds:.0f} s"

    def _join(self, machine: Callable[[], Awaitable[SshNode]]) -> KubeadmJoin:
        return journaled_join(self.node, self.journal, self.emit, machine)

    async def _delete_leftover_tokens(self, snap: RingSnapshot) -> None:
        """A run killed during the join left its token: delete it (its public id is journaled)."""
        try:
            healthy, address = healthy_control_plane(snap, self.node)
            await delete_journaled_tokens(self.journal, self._join(_no_machine), healthy,
                                          NodeSsh.of(self.ssh or SshSettings()).target(healthy, address))
        except (JoinFailed, SshError) as exc:
            raise StepFailed(str(exc)) from None

    async def _kubeadm_join(self, snap: RingSnapshot) -> str:
        """The replace procedure's kubeadm join (`KubeadmJoin`), its output redacted before it is emitted."""
        try:
            healthy, address = healthy_control_plane(snap, self.node)
        except JoinFailed as exc:
            raise StepFailed(str(exc)) from None
        if not await self.confirm(f"run `sudo kubeadm join … --control-plane` on {self.node}: a bootstrap token and "
                                  f"a certificate key are created on {healthy} (never shown), the token is deleted "
                                  "when the step ends", self.node):
            raise StepFailed("not confirmed")
        target = await self._machine_target()
        sessions: list[SshNode] = []

        async def machine() -> SshNode:
            if not sessions:
                try:
                    sessions.append(await connect(target))
                except SshHostKeyError as exc:
                    raise StepFailed(f"host key verification failed, the procedure stops: {exc}") from None
            return sessions[0]

        join = self._join(machine)
        try:
            seconds = await self._join_once(join, machine, healthy, address)
        except (JoinFailed, SshError) as exc:
            raise StepFailed(str(exc)) from None
        finally:
            for session in sessions:
                await session.close()
        return f"kubeadm join joined {self.node} in {seconds:.0f} s; the join token is deleted"

    async def _join_once(self, join: KubeadmJoin, machine: Callable[[], Awaitable[SshNode]], healthy: str,
                         address: str) -> float:
        records = await asyncio.to_thread(self.journal.records)
        if any(r.get(JOIN_STARTED) for r in records):
            join.out(f"an earlier join attempt ran on {self.node}: `sudo kubeadm reset --force` first")
            code, _ = await join.run(await machine(), ["sudo", "kubeadm", "reset", "--force"], self.node, show=True)
            if code != 0:
                raise StepFailed(f"kubeadm reset before the new join exited with {code}")
        return await join.via(healthy, NodeSsh.of(self.ssh or SshSettings()).target(healthy, address))

    async def step_verify(self) -> str:
        expected = int(self.facts.get("members") or 3)
        dead = str(self.facts.get("member_id") or "")
        deadline = time.monotonic() + VERIFY_TIMEOUT
        last = "not checked"
        while time.monotonic() < deadline:
            with contextlib.suppress(StepFailed):
                snap = await self._snap()
                ids = [r.member_id for r in snap.rows if r.member_id]
                healthy = [r for r in snap.rows if r.member_id and r.healthy]
                info = next((n for n in snap.nodes if n.name == self.node), None)
                hashes = {r.hash_agrees for r in snap.rows if r.member_id}
                if len(ids) == expected and len(healthy) == expected and dead not in ids and hashes == {True} \
                        and info is not None and info.ready:
                    return (f"{expected} members healthy, hashes equal, {dead} gone from the member list, "
                            f"Node {self.node} Ready")
                last = (f"{len(ids)} members, {len(healthy)} healthy, hash agreement {sorted(map(str, hashes))}, "
                        f"dead id {'gone' if dead not in ids else 'still listed'}, Node "
                        f"{'Ready' if info and info.ready else 'not Ready'}")
            await asyncio.sleep(2.0)
        raise StepFailed(f"the ring is not whole within {VERIFY_TIMEOUT:.0f} s: {last}")

    async def close(self) -> None:
        await self._exec.close()


async def _no_machine() -> SshNode:
    raise JoinFailed("only the tokens are deleted here: no session to the machine")
