"""What every step uses: the journal, output, confirmations, the re-checked quorum gate, etcdctl and ssh."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, target_from_pod
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshHostKeyError, SshTarget
from etcdtui.core.checklist import (
    KUBEADM_TITLES,
    Checklist,
    GateResult,
    StepId,
    alarm_note,
    evidence_gate,
    quorum_gate,
)
from etcdtui.core.etcdctl import parse_member_list
from etcdtui.core.kubeone import host_for_node
from etcdtui.engine.checklist_run import ChecklistRun
from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths
from etcdtui.engine.flavour import Flavour, decide
from etcdtui.engine.kubeadm_context import gather_kubeadm_context, node_address
from etcdtui.engine.replace.commands import apply_argv, step_commands
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import (
    Interaction,
    Paused,
    Question,
    Refused,
    ReplaceSettings,
    StepFailed,
)
from etcdtui.engine.replace.step_kubeadm_join import rejoin_commands
from etcdtui.engine.replace_context import (
    ReplaceContext,
    gather_context,
    member_facts,
    ssh_target,
)
from etcdtui.engine.replace_journal import Journal, ProcedureLock
from etcdtui.engine.snapshot import RingSnapshot


class ProcedureBase(ChecklistRun):
    """The procedure's state and the helpers its steps share; `procedure.ReplaceProcedure` runs the steps.

    The journal side (write, flush, start/finish/fail a step, output) is `ChecklistRun`'s, shared with the
    defragment procedure."""

    def __init__(
        self,
        conn: ClusterConnection,
        engine: Any,
        settings: ReplaceSettings,
        interaction: Interaction,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self.engine = engine
        self.settings = settings
        self.node = settings.node
        self.ui = interaction
        journal = Journal.for_cluster(conn.context, conn.server, settings.state_dir)
        super().__init__(Checklist(self.node, conn.context, conn.server), journal,
                         ProcedureLock(journal.directory, journal.key), self._changed, clock)
        self.resumed = False
        self.ctx: ReplaceContext | None = None
        self.flavour: Flavour | None = None
        self.gates: dict[str, GateResult] = {}
        self._exec = EtcdctlExec(conn)
        self.ssh_node: SshNode | None = None

    @property
    def etcdctl_exec(self) -> EtcdctlExec:
        """The exec client, for etcdctl in a chosen pod (`engine.surgery`)."""
        return self._exec

    def _changed(self, step: int | None) -> None:
        self.ui.changed(None if step is None else StepId(step))

    async def confirm(self, step: StepId, what: str, command: Sequence[str] = ()) -> str:
        """Destructive steps: the node name typed; the question names the context. Raises Paused."""
        question = Question(
            "destructive", step, f"Step {int(step)}: {self.checklist.step(step).title}",
            f"{what}\n\nContext: {self.conn.context} ({self.conn.server})\nNode: {self.node}\n"
            f"Type the node name to confirm.", self.conn.context, self.node, tuple(command))
        answer = await self.ui.ask(question)
        if answer is None or answer.strip() != self.node:
            raise Paused()
        return f"typed {self.node!r} on context {self.conn.context}: {what}"

    async def gate_again(self, step: StepId) -> RingSnapshot:
        """The quorum gate on a fresh poll, immediately before a destructive step."""
        snap = await fresh_snapshot(self.engine)
        gate, _ = quorum_gate(member_facts(snap), self.node)
        self.gates["quorum"] = gate
        if not gate.passed:
            self.start_step(step, self.checklist.step(step).commands or ["etcdctl member list / endpoint health"])
            self.out(step, f"quorum gate: {gate.detail}")
            raise Refused(f"quorum gate (re-checked before step {int(step)}): {gate.detail}")
        return snap

    # -- plan for --dry-run and the screen -------------------------------------------------------------------
    async def evaluate(self) -> tuple[ReplaceContext, RingSnapshot]:
        """Step 0 facts and the gates, changing nothing (what --dry-run prints)."""
        snap = await fresh_snapshot(self.engine)
        flavour = self.decide_flavour()
        if flavour.is_kubeadm:
            known_ip = self.checklist.facts.get("node_ip")
            ctx = await gather_kubeadm_context(self.conn, snap, self.node, flavour, self.settings.node_ssh,
                                               namespace=self.settings.namespace,
                                               known_ip=known_ip if isinstance(known_ip, str) else None)
        else:
            ctx = await gather_context(self.conn, snap, self.node, self.settings.kubeone,
                                       ssh_settings=self.settings.ssh, namespace=self.settings.namespace)
        self.ctx = ctx
        facts = member_facts(snap)
        self.gates["evidence"] = evidence_gate(facts, self.node)
        self.gates["quorum"], _ = quorum_gate(facts, self.node)
        return ctx, snap

    def decide_flavour(self) -> Flavour:
        """Once per procedure, from the context's resolved settings: its flavour, else detection."""
        if self.flavour is None:
            self.flavour = decide(ClusterSettings(KubeOnePaths(manifest=self.settings.kubeone.manifest),
                                                  self.settings.ssh, self.settings.flavour))
            if self.flavour.is_kubeadm:
                for step, title in KUBEADM_TITLES.items():
                    self.checklist.step(step).title_override = title
        return self.flavour

    def commands(self, step: StepId) -> list[str]:
        """The exact commands and API calls of a step (shown before it runs, and by --dry-run)."""
        healthy = self.healthy_pod_name() or "etcd-<healthy member>"
        if self.flavour is not None and self.flavour.is_kubeadm and step in (StepId.CONTEXT, StepId.APPLY):
            if step is StepId.CONTEXT:
                return ["GET /api/v1/nodes, GET /api/v1/namespaces/kube-system/pods?labelSelector=component=etcd",
                        f"flavour: {self.flavour.describe()}", "ssh: the Node's InternalIP with contexts.<name>.ssh"]
            rows = self.engine.latest.rows if self.engine.latest else []
            node = next((r.node_name for r in rows if r.pod_name == healthy and r.node_name), None)
            return rejoin_commands(self.node, node or "<healthy control-plane node>")
        return step_commands(step, self.ctx, self.node, self.settings.namespace, healthy, self.backup_dir())

    def apply_argv(self) -> list[str]:
        return apply_argv(self.ctx)

    def backup_dir(self) -> Path:
        return self.settings.backup_dir or self.journal.directory / "backups"

    def healthy_pod_name(self, snap: RingSnapshot | None = None) -> str | None:
        snap = snap or self.engine.latest
        if snap is None:
            return None
        rows = [r for r in snap.rows if r.pod and r.node_name != self.node and r.healthy and r.member_id]
        leader_first = sorted(rows, key=lambda r: (not r.is_leader, r.key))
        return leader_first[0].pod_name if leader_first else None

    def healthy_pod(self, snap: RingSnapshot | None = None) -> Any:
        snap = snap or self.engine.latest
        name = self.healthy_pod_name(snap)
        row = next((r for r in snap.rows if r.pod_name == name), None) if snap and name else None
        if row is None or row.pod is None:
            raise StepFailed(f"no healthy etcd member other than {self.node} to run etcdctl in")
        return row.pod

    async def etcdctl(self, args: Sequence[str], snap: RingSnapshot | None = None) -> tuple[str, str]:
        """etcdctl `args` in a healthy member's pod (not the target's); returns (argv shown, stdout)."""
        pod = self.healthy_pod(snap)
        target = target_from_pod(pod.name, self.settings.namespace, pod.command)
        argv = ["etcdctl", *target.connection.global_flags(), *args]
        result = await self._exec.exec(pod.name, self.settings.namespace, argv, container=target.container,
                                       limit_s=20.0)
        if result.rc not in (0, None):
            raise StepFailed(f"etcdctl {' '.join(args)} in {pod.name}: {result.stderr.strip().splitlines()[-1:]}")
        return f"in pod {pod.name}: etcdctl {' '.join(args)}", result.stdout

    async def ensure_context(self) -> ReplaceContext:
        if self.ctx is None:
            await self.evaluate()
        assert self.ctx is not None
        return self.ctx

    def close_gate(self, step: StepId, gate: GateResult, alarms: Sequence[tuple[str, str]]) -> None:
        """Shared end of the evidence and quorum gates: explain an active alarm, then refuse or pass."""
        note = alarm_note(alarms)
        if note:
            self.out(step, note)
        if not gate.passed:
            raise Refused(gate.detail)
        self.finish_step(step, gate.detail)

    def ssh_target_for(self, node: str | None, ctx: ReplaceContext) -> SshTarget:
        if self.flavour is not None and self.flavour.is_kubeadm:
            address = node_address(self.engine.latest, node) if node and self.engine.latest else None
            if node is None or address is None:
                raise StepFailed(f"no InternalIP for {node or 'the healthy member'}'s node")
            return self.settings.node_ssh.target(node, address)
        host = host_for_node(ctx.hosts, node) if node else None
        if host is None or ctx.ssh is None or node is None:
            raise StepFailed(f"no kubeone.yaml/tf.json host for {node or 'the healthy member'}'s node")
        return ssh_target(node, host, self.settings.ssh)

    async def open_ssh(self, step: StepId) -> SshNode:
        ctx = await self.ensure_context()
        if ctx.ssh is None:
            raise StepFailed("no ssh target (kubeone.yaml/tf.json, or the Node's InternalIP on kubeadm)")
        if self.ssh_node is None:
            self.out(step, f"connecting to {ctx.ssh.describe()}, host keys from {ctx.ssh.known_hosts}")
            try:
                self.ssh_node = await connect(ctx.ssh)
            except SshHostKeyError as exc:
                raise StepFailed(f"host key verification failed, the procedure stops: {exc}") from None
        return self.ssh_node

    async def member_present(self, snap: RingSnapshot | None = None) -> tuple[bool, str | None]:
        _, out = await self.etcdctl(["member", "list", "-w", "json"], snap)
        members = parse_member_list(out).members
        me = next((m for m in members if m.name == self.node), None)
        ip = (self.ctx.host.private_address if self.ctx.host else self.ctx.node_ip) if self.ctx else None
        if me is None and ip:  # a member added but never started has no name yet: its peer URL tells
            # A learner on its address is not it: an orphan of an interrupted join (cleaned after the reset).
            me = next((m for m in members if not m.is_learner and any(f"//{ip}:" in u for u in m.peer_urls)), None)
        return me is not None, (me.member_id if me else None)
