"""Replace a corrupted member (kubeone-procedure.md §9): steps 0–9 run with the adapters, journaled, resumable.

No Textual here. The UI (or a test) supplies an `Interaction`: it is told when the checklist changes and asked
the questions (typed node name for destructive steps, KubeOne's plan, offers). The state machine and the gates
are the core's (`etcdtui.core.checklist`); the journal and the lock are `replace_journal.py`.

    proc = ReplaceProcedure(conn, engine, settings, interaction)
    await proc.open()        # lock + journal: resumes an unfinished procedure of this cluster for the same node
    outcome = await proc.run()   # runs from the next step until done, a failure, a refusal or a declined question
    await proc.close()

Every step is idempotent, so a step interrupted by a crash is simply run again. The quorum gate is re-checked
against a fresh etcdctl poll immediately before every destructive step.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, target_from_pod
from etcdtui.cluster.kube import ClusterConnection, ClusterError
from etcdtui.cluster.runner import (
    CommandNotFoundError,
    CommandSpec,
    OutputBatch,
    PromptEvent,
    RunnerError,
    start_command,
)
from etcdtui.cluster.ssh import (
    PreflightOptions,
    SshError,
    SshHostKeyError,
    SshNode,
    SshTarget,
    connect,
    preflight,
)
from etcdtui.core.checklist import (
    Checklist,
    GateResult,
    StepId,
    StepStatus,
    alarm_note,
    check_join_plan,
    evidence_gate,
    quorum_gate,
)
from etcdtui.core.etcdctl import parse_member_list
from etcdtui.core.kubeone import host_for_node
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.flavour import Flavour, FlavourConfigError, NodeSsh, context_settings, decide
from etcdtui.engine.kubeadm_context import gather_kubeadm_context, node_address
from etcdtui.engine.kubeadm_rejoin import kubeadm_rejoin, rejoin_commands
from etcdtui.engine.replace_context import (
    ReplaceContext,
    delete_node,
    gather_context,
    member_facts,
    pod_log_messages,
    read_node,
    read_pod,
    ssh_target,
)
from etcdtui.engine.replace_journal import Journal, JournalError, ProcedureLock
from etcdtui.engine.snapshot import RingSnapshot

FRESH_POLL_TIMEOUT = 30.0
REUSE_POLL_S = 10.0  # steps 1 and 2 may use step 0's poll when it is this recent
MEMBER_GONE_TIMEOUT = 20.0
VERIFY_TIMEOUT = 180.0
APPLY_TIMEOUT = 1800.0  # KubeOne documents "several minutes"; the lab takes seconds
OUTPUT_FLUSH_S = 1.0  # a running step's output tail is journaled at most this often
ENABLED_MSG = "enabled corruption checking"
INITIAL_PASSED_MSG = "initial corruption checking passed; no corruption"


class Outcome(enum.StrEnum):
    DONE = "done"  # every step done or skipped: the member is replaced
    FAILED = "failed"  # a step failed (retry resumes there)
    REFUSED = "refused"  # a gate refused
    PAUSED = "paused"  # the operator declined a confirmation; nothing more was changed
    CANCELLED = "cancelled"  # stopped during a running step


@dataclass(frozen=True)
class Question:
    kind: str  # "destructive" | "plan" | "offer" | "backup"
    step: StepId
    title: str
    text: str
    context: str
    expect: str | None = None  # what must be typed (the node name) for a destructive step
    command: tuple[str, ...] = ()


class Interaction(Protocol):
    async def ask(self, question: Question) -> str | None:
        """The answer: the typed text, "yes", "snapshot", "skip: <reason>"; None is no/cancel."""

    def changed(self, step: StepId | None) -> None:
        """The checklist changed (status, output); called on the event loop, must not block."""


@dataclass
class ReplaceSettings:
    node: str
    kubeone: KubeOneSettings
    known_hosts: str | None = None
    state_dir: Path | None = None
    backup_dir: Path | None = None  # where snapshots go (default: the state dir, 0700)
    namespace: str = "kube-system"
    drain_timeout: float = 300.0
    verify_timeout: float = VERIFY_TIMEOUT
    extra: dict[str, Any] = field(default_factory=dict)
    flavour: str | None = None  # kubeone|kubeadm; None: config `contexts.<name>.flavour`, else detected
    node_ssh: NodeSsh | None = None  # kubeadm: how nodes are reached; None: config `contexts.<name>.ssh`


class StepFailed(Exception):
    """One line: why the running step failed."""


class Refused(Exception):
    """One line: a gate refused."""


class Paused(Exception):
    """The operator declined; the step stays pending."""


# -- fresh ring state -----------------------------------------------------------------------------------
async def fresh_snapshot(engine: Any, timeout: float = FRESH_POLL_TIMEOUT,  # noqa: ASYNC109
                         max_age: float = 0.0) -> RingSnapshot:
    """A snapshot from an etcdctl poll that ended after this call (so gates never use stale health).

    `max_age` > 0 accepts the latest snapshot when its poll ended at most that many seconds ago (the
    read-only steps 1 and 2 right after step 0; never the re-check before a destructive step).
    """
    asked = time.time()
    current: RingSnapshot | None = engine.latest
    if max_age > 0 and current is not None and current.last_poll_at is not None and current.rows \
            and asked - current.last_poll_at.timestamp() <= max_age:
        return current
    engine.refresh_now()
    latest: RingSnapshot | None = engine.latest
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            async for item in engine.subscribe():
                snap: RingSnapshot = item
                latest = snap
                if snap.last_poll_at is not None and snap.last_poll_at.timestamp() >= asked and snap.complete:
                    return snap
                if snap.last_poll_at is not None and snap.last_poll_at.timestamp() >= asked + 2:
                    return snap  # polled after we asked, but incomplete: the gates will say what is missing
    if latest is None:
        raise StepFailed(f"no answer from the cluster within {timeout:g} s")
    return latest


# -- the procedure ---------------------------------------------------------------------------------------
class ReplaceProcedure:
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
        self.clock = clock
        self.journal = Journal.for_cluster(conn.context, conn.server, settings.state_dir)
        self.lock = ProcedureLock(self.journal.directory, self.journal.key)
        self.checklist = Checklist(self.node, conn.context, conn.server)
        self.resumed = False
        self.ctx: ReplaceContext | None = None
        self.flavour: Flavour | None = None
        self.gates: dict[str, GateResult] = {}
        self._exec = EtcdctlExec(conn)
        self._ssh: SshNode | None = None
        self._last_flush = 0.0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replace-journal")

    # -- lifecycle --------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Take the cluster's lock; resume its unfinished journal (same node) or start a new one."""
        await asyncio.to_thread(self.lock.acquire)
        try:
            existing = await asyncio.to_thread(self.journal.load)
        except JournalError:
            self.lock.release()
            raise
        if existing is not None and existing.node != self.node:
            self.lock.release()
            raise JournalError(f"an unfinished replacement of {existing.node} exists for this cluster "
                               f"({self.journal.path}): finish or abandon it first")
        if existing is not None:
            self.checklist, self.resumed = existing, True
        else:
            self._write(self.checklist.begin_record(self.clock()))

    async def close(self) -> None:
        await self._flush()
        self._io.shutdown(wait=False)
        if self._ssh is not None:
            await self._ssh.close()
            self._ssh = None
        await self._exec.close()
        self.lock.release()

    @staticmethod
    def pending_journal(context: str, server: str, state_dir: Path | None = None) -> Checklist | None:
        """The unfinished procedure of a cluster (for the resume offer at startup), or None."""
        try:
            return Journal.for_cluster(context, server, state_dir).load()
        except JournalError:
            return None

    def abandon(self) -> None:
        self._write(self.checklist.end("abandoned", self.clock()))
        self._io.submit(self.journal.discard)

    def _write(self, record: dict[str, Any]) -> None:
        """Append in the journal's own thread (fsync never blocks the loop); FIFO keeps the order."""
        self._io.submit(self.journal.append, record)

    async def _flush(self) -> None:
        """Everything written so far is on disk (before an action that must be resumable)."""
        await asyncio.wrap_future(self._io.submit(lambda: None))

    # -- running -----------------------------------------------------------------------------------------
    async def run(self) -> Outcome:
        """Run steps from the next one on; returns at the end, a failure, a refusal or a pause."""
        while True:
            step = self.checklist.next_step()
            if step is None:
                self._write(self.checklist.end("replaced", self.clock()))
                await self._flush()
                await asyncio.to_thread(self.journal.archive)
                self.ui.changed(None)
                return Outcome.DONE
            outcome = await self.run_step(step)
            if outcome is not None:
                return outcome

    async def run_step(self, step: StepId) -> Outcome | None:
        runner = self._runners()[step]
        try:
            await runner()
        except Paused:
            self.ui.changed(step)
            return Outcome.PAUSED
        except Refused as exc:
            self._fail(step, str(exc))
            return Outcome.REFUSED
        except (StepFailed, ClusterError, SshError, EtcdctlExecError, RunnerError) as exc:
            self._fail(step, getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            return Outcome.FAILED
        except asyncio.CancelledError:
            self._fail(step, "stopped by the operator")
            raise
        return None

    def _runners(self) -> dict[StepId, Callable[[], Awaitable[None]]]:
        return {
            StepId.CONTEXT: self.step_context, StepId.EVIDENCE: self.step_evidence, StepId.QUORUM: self.step_quorum,
            StepId.BACKUP: self.step_backup, StepId.DRAIN: self.step_drain, StepId.SSH: self.step_ssh,
            StepId.RESET: self.step_reset, StepId.DELETE_NODE: self.step_delete_node, StepId.APPLY: self.step_apply,
            StepId.VERIFY: self.step_verify,
        }

    # -- journal helpers -----------------------------------------------------------------------------------
    def _start(self, step: StepId, commands: Sequence[str], confirmation: str | None = None) -> None:
        if self.checklist.step(step).status is StepStatus.FAILED:
            self.checklist.step(step).status = StepStatus.PENDING  # a retry
        self._write(self.checklist.start(step, commands, self.clock(), confirmation))
        self.ui.changed(step)

    def _done(self, step: StepId, note: str | None = None) -> None:
        self._write(self.checklist.finish(step, self.clock(), note))
        self.ui.changed(step)

    def _fail(self, step: StepId, reason: str) -> None:
        s = self.checklist.step(step)
        if s.status is not StepStatus.RUNNING:
            self._start(step, s.commands)
        self._write(self.checklist.fail(step, reason.splitlines()[0] if reason else "failed", self.clock()))
        self.ui.changed(step)

    def out(self, step: StepId, *lines: str) -> None:
        self.checklist.step(step).add_output(lines)
        now = self.clock()
        if now - self._last_flush >= OUTPUT_FLUSH_S:
            self._last_flush = now
            self._write(self.checklist.output_record(step, now))
        self.ui.changed(step)

    async def _confirm(self, step: StepId, what: str, command: Sequence[str] = ()) -> str:
        """Destructive steps: the node name typed; the question names the context. Raises Paused."""
        question = Question(
            "destructive", step, f"Step {int(step)}: {self.checklist.step(step).title}",
            f"{what}\n\nContext: {self.conn.context} ({self.conn.server})\nNode: {self.node}\n"
            f"Type the node name to confirm.", self.conn.context, self.node, tuple(command))
        answer = await self.ui.ask(question)
        if answer is None or answer.strip() != self.node:
            raise Paused()
        return f"typed {self.node!r} on context {self.conn.context}: {what}"

    async def _gate_again(self, step: StepId) -> RingSnapshot:
        """The quorum gate on a fresh poll, immediately before a destructive step."""
        snap = await fresh_snapshot(self.engine)
        gate, _ = quorum_gate(member_facts(snap), self.node)
        self.gates["quorum"] = gate
        if not gate.passed:
            self._start(step, self.checklist.step(step).commands or ["etcdctl member list / endpoint health"])
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
                                       known_hosts=self.settings.known_hosts, namespace=self.settings.namespace)
        self.ctx = ctx
        facts = member_facts(snap)
        self.gates["evidence"] = evidence_gate(facts, self.node)
        self.gates["quorum"], _ = quorum_gate(facts, self.node)
        return ctx, snap

    def decide_flavour(self) -> Flavour:
        """Once per procedure: explicit setting, else config.yaml's context entry, else detection."""
        if self.flavour is None:
            try:
                configured = context_settings(self.conn.context)
            except FlavourConfigError as exc:
                raise StepFailed(f"config: {exc}") from None
            if self.settings.node_ssh is None and configured.ssh is not None:
                self.settings.node_ssh = configured.ssh
            self.flavour = decide(self.settings.flavour or configured.flavour, self.settings.kubeone)
        return self.flavour

    def commands(self, step: StepId) -> list[str]:
        """The exact commands and API calls of a step (shown before it runs, and by --dry-run)."""
        ctx, n, ns = self.ctx, self.node, self.settings.namespace
        healthy = self._healthy_pod_name() or "etcd-<healthy member>"
        kubeone = ctx.kubeone if ctx else None
        ssh = ""
        if ctx and ctx.ssh:
            jump = f"-J {ctx.ssh.bastion.user}@{ctx.ssh.bastion.address} " if ctx.ssh.bastion else ""
            ssh = f"ssh {jump}{ctx.ssh.hop.user}@{ctx.ssh.hop.address}"
        apply = self.apply_argv()
        table: dict[StepId, list[str]] = {
            StepId.CONTEXT: ["GET /api/v1/nodes, GET /api/v1/namespaces/kube-system/pods?labelSelector=component=etcd",
                             f"{kubeone.binary if kubeone and kubeone.binary else 'kubeone'} version",
                             "read kubeone.yaml and tf.json"],
            StepId.EVIDENCE: [f"in pod {healthy}: etcdctl member list / endpoint status --cluster / endpoint health "
                              "--cluster / endpoint hashkv --cluster / alarm list (-w json)"],
            StepId.QUORUM: [f"in pod {healthy}: etcdctl member list / endpoint health --cluster -w json"],
            StepId.BACKUP: [f"in pod {healthy}: etcdctl snapshot save /var/lib/etcd/etcdtui-<ts>.db",
                            f"ssh to its node: sudo -n cat /var/lib/etcd/etcdtui-<ts>.db > {self._backup_dir()}/<file> "
                            "(0600); sudo -n rm -f it"],
            StepId.DRAIN: [f"kubectl drain --ignore-daemonsets --delete-emptydir-data {n}  (native: PATCH "
                           f"/api/v1/nodes/{n} spec.unschedulable=true, POST pods/eviction per pod, 5 s retry on 429)"],
            StepId.SSH: [f"{ssh or 'ssh <node>'}: hostname; hostname -f; hostname -I; sudo -n true; command -v kubeadm"],
            StepId.RESET: [f"{ssh or 'ssh <node>'} sudo kubeadm reset --force",
                           f"in pod {healthy}: etcdctl member list -w json  (the member must be gone; else offer "
                           "etcdctl member remove <id>)"],
            StepId.DELETE_NODE: [f"kubectl delete node {n}  (DELETE /api/v1/nodes/{n})"],
            StepId.APPLY: [shlex.join(apply) + "  (in a pseudo-terminal; answered in the app)"],
            StepId.VERIFY: [f"GET /api/v1/nodes/{n} (Ready), GET /api/v1/namespaces/{ns}/pods/etcd-{n} (Running)",
                            f"in pod {healthy}: etcdctl member list / endpoint health / endpoint hashkv --cluster / "
                            "alarm list", f"GET /api/v1/namespaces/{ns}/pods/etcd-{n}/log (msg: {ENABLED_MSG!r})"],
        }
        if self.flavour is not None and self.flavour.is_kubeadm:
            healthy_node = next((r.node_name for r in (self.engine.latest.rows if self.engine.latest else [])
                                 if r.pod_name == healthy and r.node_name), None) or "<healthy control-plane node>"
            table[StepId.CONTEXT] = [table[StepId.CONTEXT][0], f"flavour: {self.flavour.describe()}",
                                     "ssh settings: contexts.<name>.ssh (Node InternalIP)"]
            table[StepId.APPLY] = rejoin_commands(n, healthy_node)
        return table[step]

    def apply_argv(self) -> list[str]:
        k = self.ctx.kubeone if self.ctx else None
        argv = [(k.binary if k and k.binary else "kubeone"), "apply", "-m", (k.manifest if k and k.manifest
                                                                             else "kubeone.yaml")]
        if k and k.tfjson:
            argv += ["-t", k.tfjson]
        return argv

    def _backup_dir(self) -> Path:
        return self.settings.backup_dir or self.journal.directory / "backups"

    def _healthy_pod_name(self, snap: RingSnapshot | None = None) -> str | None:
        snap = snap or self.engine.latest
        if snap is None:
            return None
        rows = [r for r in snap.rows if r.pod and r.node_name != self.node and r.healthy and r.member_id]
        leader_first = sorted(rows, key=lambda r: (not r.is_leader, r.key))
        return leader_first[0].pod_name if leader_first else None

    def _healthy_pod(self, snap: RingSnapshot | None = None) -> Any:
        snap = snap or self.engine.latest
        name = self._healthy_pod_name(snap)
        row = next((r for r in snap.rows if r.pod_name == name), None) if snap and name else None
        if row is None or row.pod is None:
            raise StepFailed(f"no healthy etcd member other than {self.node} to run etcdctl in")
        return row.pod

    async def etcdctl(self, args: Sequence[str], snap: RingSnapshot | None = None) -> tuple[str, str]:
        """etcdctl `args` in a healthy member's pod (not the target's); returns (argv shown, stdout)."""
        pod = self._healthy_pod(snap)
        target = target_from_pod(pod.name, self.settings.namespace, pod.command)
        argv = ["etcdctl", *target.connection.global_flags(), *args]
        result = await self._exec.exec(pod.name, self.settings.namespace, argv, container=target.container,
                                       limit_s=20.0)
        if result.rc not in (0, None):
            raise StepFailed(f"etcdctl {' '.join(args)} in {pod.name}: {result.stderr.strip().splitlines()[-1:]}")
        return f"in pod {pod.name}: etcdctl {' '.join(args)}", result.stdout

    # == the steps ==========================================================================================
    async def step_context(self) -> None:
        step = StepId.CONTEXT
        self._start(step, self.commands(step))
        ctx, snap = await self.evaluate()
        self.checklist.step(step).commands = self.commands(step)
        for line in ctx.lines:
            self.out(step, line)
        for warning in ctx.warnings:
            self.out(step, f"warning: {warning}")
        if ctx.problems:
            for problem in ctx.problems:
                self.out(step, f"problem: {problem}")
            raise StepFailed(ctx.problems[0])
        if "members" not in self.checklist.facts:
            voting = sum(1 for r in snap.rows if r.member_id and not r.is_learner)
            self._write(self.checklist.note("members", voting, self.clock()))
            self._write(self.checklist.note("member_id", ctx.row.member_id if ctx.row else None, self.clock()))
            if ctx.node_ip:
                self._write(self.checklist.note("node_ip", ctx.node_ip, self.clock()))
        self._done(step, f"{self.node} is {ctx.ssh.describe() if ctx.ssh else '?'}")

    async def _ensure_context(self) -> ReplaceContext:
        if self.ctx is None:
            await self.evaluate()
        assert self.ctx is not None
        return self.ctx

    async def step_evidence(self) -> None:
        step = StepId.EVIDENCE
        await self._ensure_context()
        self._start(step, self.commands(step))
        snap = await fresh_snapshot(self.engine, max_age=REUSE_POLL_S)
        facts = member_facts(snap)
        gate = evidence_gate(facts, self.node)
        self.gates["evidence"] = gate
        for m in facts:
            self.out(step, f"{m.name} ({m.member_id}): " + ("; ".join(m.evidence) if m.evidence else "no evidence"))
        for warning in gate.warnings:
            self.out(step, f"warning: {warning}")
        self._close_gate(step, gate, snap.alarms)

    def _close_gate(self, step: StepId, gate: GateResult, alarms: Sequence[tuple[str, str]]) -> None:
        """Shared end of the evidence and quorum gates: explain an active alarm, then refuse or pass."""
        note = alarm_note(alarms)
        if note:
            self.out(step, note)
        if not gate.passed:
            raise Refused(gate.detail)
        self._done(step, gate.detail)

    async def step_quorum(self) -> None:
        step = StepId.QUORUM
        await self._ensure_context()
        self._start(step, self.commands(step))
        snap = await fresh_snapshot(self.engine, max_age=REUSE_POLL_S)
        gate, decision = quorum_gate(member_facts(snap), self.node)
        self.gates["quorum"] = gate
        self.out(step, f"N={decision.voting}, quorum={decision.quorum_now}, after removal={decision.quorum_after}, "
                       f"healthy others={decision.healthy_others}")
        self.out(step, gate.detail)
        self._close_gate(step, gate, snap.alarms)

    async def step_backup(self) -> None:
        step = StepId.BACKUP
        ctx = await self._ensure_context()
        question = Question("backup", step, "Step 3: backup", "Take an etcd snapshot from a healthy member now "
                            f"(to {self._backup_dir()}), or skip it with a typed reason.", self.conn.context,
                            command=tuple(self.commands(step)))
        answer = await self.ui.ask(question)
        if answer is None:
            raise Paused()
        if answer.startswith("skip:"):
            reason = answer.removeprefix("skip:").strip()
            if not reason:
                raise Paused()
            self._write(self.checklist.skip(step, f"skipped by the operator: {reason}", self.clock()))
            self.ui.changed(step)
            return
        self._start(step, self.commands(step))
        from etcdtui.cluster.backup import BackupError, snapshot_save  # another engineer's adapter (issue #7)

        snap = await fresh_snapshot(self.engine)
        pod = self._healthy_pod(snap)
        host_node = pod.node
        target = self._ssh_target_for(host_node, ctx)
        dest_dir = self._backup_dir()
        await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True, mode=0o700)
        dest = dest_dir / f"etcd-snapshot-{self.conn.context}-{time.strftime('%Y%m%dT%H%M%S')}.db"
        last = [0.0]

        def progress(size: int, elapsed: float) -> None:
            if elapsed - last[0] >= 1.0:
                last[0] = elapsed
                self.out(step, f"{size} bytes after {elapsed:.0f} s")

        try:
            async with await connect(target) as node_ssh:
                result = await snapshot_save(self.conn, healthy_pod=pod.name, namespace=self.settings.namespace,
                                             dest=dest, on_progress=progress, ssh=node_ssh)
        except BackupError as exc:
            raise StepFailed(f"backup failed: {exc.message}") from None
        except NotImplementedError:
            raise StepFailed("the snapshot adapter is not available in this build: skip with a reason") from None
        self.out(step, f"snapshot of {result.member_pod}: {result.path} ({result.size} bytes, sha256 "
                       f"{result.sha256[:16]}…" + (f", revision {result.revision}" if result.revision else "") + ")")
        self._done(step, str(result.path))

    def _ssh_target_for(self, node: str | None, ctx: ReplaceContext) -> SshTarget:
        if self.flavour is not None and self.flavour.is_kubeadm:
            address = node_address(self.engine.latest, node) if node and self.engine.latest else None
            if node is None or address is None:
                raise StepFailed(f"no InternalIP for {node or 'the healthy member'}'s node")
            return (self.settings.node_ssh or NodeSsh()).target(node, address)
        host = host_for_node(ctx.hosts, node) if node else None
        if host is None or ctx.ssh is None or node is None:
            raise StepFailed(f"no kubeone.yaml/tf.json host for {node or 'the healthy member'}'s node")
        return ssh_target(node, host, ctx.ssh.known_hosts)

    async def step_drain(self) -> None:
        step = StepId.DRAIN
        await self._ensure_context()
        await self._gate_again(step)
        confirmation = await self._confirm(step, f"Drain {self.node}: cordon it and evict its pods.")
        self._start(step, self.commands(step), confirmation)
        await self._flush()  # the confirmation and "running" are on disk before anything changes
        if await read_node(self.conn, self.node) is None:
            self.out(step, f'Error from server (NotFound): nodes "{self.node}" not found: already deleted')
            self._done(step, "the Node is already deleted (nothing to drain)")
            return
        from etcdtui.cluster.drain import drain_node  # landed by another engineer (issue #7)

        result = await drain_node(self.conn, self.node, timeout=self.settings.drain_timeout,
                                  on_line=lambda line: self.out(step, line))
        if not result.ok:
            raise StepFailed(result.error or "drain failed")
        self._done(step, f"drained in {result.elapsed:.1f} s")

    async def _open_ssh(self, step: StepId) -> SshNode:
        ctx = await self._ensure_context()
        if ctx.ssh is None:
            raise StepFailed("no ssh target (kubeone.yaml/tf.json)")
        if self._ssh is None:
            self.out(step, f"connecting to {ctx.ssh.describe()}, host keys from {ctx.ssh.known_hosts}")
            try:
                self._ssh = await connect(ctx.ssh)
            except SshHostKeyError as exc:
                raise StepFailed(f"host key verification failed, the procedure stops: {exc}") from None
        return self._ssh

    async def step_ssh(self) -> None:
        step = StepId.SSH
        ctx = await self._ensure_context()
        self._start(step, self.commands(step))
        node = await self._open_ssh(step)
        checks = await preflight(node, PreflightOptions(node_ip=ctx.node_ip))
        failed = [c for c in checks if c.status == "failed"]
        for c in checks:
            self.out(step, f"{c.status:7} {c.name}: {c.detail}")
        if failed:
            raise StepFailed(f"{failed[0].name}: {failed[0].detail}")
        kubeadm = next((c.value for c in checks if c.name == "kubeadm" and c.value), "kubeadm")
        self._write(self.checklist.note("kubeadm", kubeadm, self.clock()))
        self._done(step, f"{ctx.ssh.describe() if ctx.ssh else ''}: hostname, IP, sudo, kubeadm ok")

    async def _member_present(self, snap: RingSnapshot | None = None) -> tuple[bool, str | None]:
        _, out = await self.etcdctl(["member", "list", "-w", "json"], snap)
        members = parse_member_list(out).members
        me = next((m for m in members if m.name == self.node), None)
        ip = (self.ctx.host.private_address if self.ctx.host else self.ctx.node_ip) if self.ctx else None
        if me is None and ip:  # a member added but never started has no name yet: its peer URL tells
            me = next((m for m in members if any(f"//{ip}:" in u for u in m.peer_urls)), None)
        return me is not None, (me.member_id if me else None)

    async def step_reset(self) -> None:
        step = StepId.RESET
        await self._ensure_context()
        snap = await self._gate_again(step)
        kubeadm = str(self.checklist.facts.get("kubeadm") or "kubeadm")
        argv = ["sudo", kubeadm, "reset", "--force"]
        confirmation = await self._confirm(step, f"Run `{shlex.join(argv)}` on {self.node}: its etcd member is "
                                                 "removed and its data wiped.", argv)
        self._start(step, self.commands(step), confirmation)
        await self._flush()  # the confirmation and "running" are on disk before anything changes
        node = await self._open_ssh(step)
        self.out(step, f"$ {shlex.join(argv)}")
        stderr: list[str] = []

        def batch(b: OutputBatch) -> None:
            if b.stream == "stderr":
                stderr.extend(b.lines)
            self.out(step, *b.lines)

        cmd = await node.start(argv)
        try:
            async for ev in cmd.events():
                if isinstance(ev, OutputBatch):
                    batch(ev)
            result = await cmd.wait()
        except asyncio.CancelledError:
            # Ctrl+C: stop the remote command too (signal, then close the channel), not only our reading.
            with contextlib.suppress(Exception):
                await asyncio.shield(cmd.cancel())
            raise
        if result.error is not None:
            self._ssh = None  # the connection is gone: the retry reconnects
            raise StepFailed(f"kubeadm reset on {self.node}: {result.error}; retry the step (reset is idempotent)")
        if result.exit_code != 0:
            raise StepFailed(f"kubeadm reset failed: {result.describe()}")
        if any("failed to remove etcd member" in line.lower() for line in stderr):
            self.out(step, "kubeadm could not remove the etcd member (exit 0 hides it): checking member list")
        deadline = time.monotonic() + MEMBER_GONE_TIMEOUT
        present, member_id = await self._member_present(snap)
        while present and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            present, member_id = await self._member_present()
        if present and member_id:
            remove = ["member", "remove", member_id]
            answer = await self.ui.ask(Question(
                "offer", step, "Remove the member by hand?",
                f"{self.node} ({member_id}) is still in `member list` after kubeadm reset.\nRun `etcdctl member "
                f"remove {member_id}` from a healthy member? (Otherwise KubeOne's repair removes it in step 8.)",
                self.conn.context, command=("etcdctl", *remove)))
            if answer == "yes":
                shown, out = await self.etcdctl(remove)
                self.out(step, shown, *out.splitlines())
                present, _ = await self._member_present()
            if present:
                raise StepFailed(f"{self.node} is still an etcd member after the reset")
        self.out(step, f"member list: {self.node} is gone")
        self._done(step, "reset; the member is gone from member list")

    async def step_delete_node(self) -> None:
        step = StepId.DELETE_NODE
        await self._ensure_context()
        await self._gate_again(step)
        confirmation = await self._confirm(step, f"Delete the Node object {self.node} (kubectl delete node).")
        self._start(step, self.commands(step), confirmation)
        await self._flush()  # the confirmation and "running" are on disk before anything changes
        if await delete_node(self.conn, self.node):
            self.out(step, f'node "{self.node}" deleted')
        else:
            self.out(step, f'Error from server (NotFound): nodes "{self.node}" not found: already deleted')
        for _ in range(30):
            if await read_node(self.conn, self.node) is None:
                break
            await asyncio.sleep(0.5)
        else:
            raise StepFailed(f"node {self.node} still exists after the delete")
        self._done(step, "the Node is gone")

    async def _joined(self) -> bool:
        node = await read_node(self.conn, self.node)
        if node is None:
            return False
        present, _ = await self._member_present()
        return present

    async def _wait_previous_apply(self, step: StepId) -> None:
        """After a crash during apply, a kubeone it started may still run: let it finish before deciding."""
        pid = self.checklist.facts.get("kubeone_pid")
        if not isinstance(pid, int) or pid == os.getpid():
            return
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _alive(pid):
            self.out(step, f"waiting for the kubeone (pid {pid}) of the interrupted run to exit")
            await asyncio.sleep(1.0)

    async def step_apply(self) -> None:
        step = StepId.APPLY
        await self._ensure_context()
        if self.flavour is not None and self.flavour.is_kubeadm:
            await kubeadm_rejoin(self)
            return
        await self._wait_previous_apply(step)
        if await self._joined():
            self._start(step, self.commands(step))
            self.out(step, f"{self.node} is back: the Node exists and it is an etcd member (nothing to apply)")
            self._done(step, "already joined")
            return
        await self._gate_again(step)
        argv = self.apply_argv()
        confirmation = await self._confirm(
            step, f"Run `{shlex.join(argv)}`: KubeOne re-joins {self.node}. Its plan is shown before `yes` is sent.",
            argv)
        self._start(step, self.commands(step), confirmation)
        await self._flush()  # the confirmation and "running" are on disk before anything changes
        kept: list[str] = []
        verdicts: list[str] = []

        def batch(b: OutputBatch) -> None:
            kept.extend(b.lines)
            del kept[:-2000]
            self.out(step, *b.lines)

        async def prompt(ev: PromptEvent) -> str:
            self.out(step, ev.text)
            check = check_join_plan(kept, self.node)
            if not check.ok:
                verdicts.append(f"KubeOne's plan refused: {check.reason}; answered no")
                self.out(step, verdicts[-1])
                return "no"
            answer = await self.ui.ask(Question(
                "plan", step, "KubeOne's plan", "\n".join(check.actions) + f"\n\n✓ {check.reason}\n\nKubeOne asks: "
                f"{ev.text.strip()}\nAnswer yes?", self.conn.context, command=tuple(argv)))
            if answer != "yes":
                verdicts.append("KubeOne's plan declined in the app; answered no")
                self.out(step, verdicts[-1])
                return "no"
            self.out(step, "answered yes")
            return "yes"

        spec = CommandSpec(tuple(argv), pty=True, no_color=True, env=self._env())
        try:
            cmd = await start_command(spec)
        except (CommandNotFoundError, RunnerError) as exc:
            raise StepFailed(f"kubeone: {exc}") from None
        # Journaled so that a resume after a crash waits for this kubeone before deciding anything.
        self._write(self.checklist.note("kubeone_pid", cmd.pid, self.clock()))
        await self._flush()
        try:
            async with asyncio.timeout(APPLY_TIMEOUT), cmd:
                async for ev in cmd.events():
                    if isinstance(ev, OutputBatch):
                        batch(ev)
                    elif isinstance(ev, PromptEvent) and not cmd.done:
                        await cmd.answer(await prompt(ev))
            result = await cmd.wait()
        except TimeoutError:
            raise StepFailed(f"kubeone apply did not finish within {APPLY_TIMEOUT:.0f} s; it was stopped") from None
        if verdicts:
            raise StepFailed(verdicts[0])
        if not result.ok:
            last = _last_error(kept)
            raise StepFailed(f"kubeone apply failed ({result.describe()})" + (f": {last}" if last else ""))
        if any("Operation canceled" in line for line in kept):
            raise StepFailed("KubeOne canceled the operation")
        self._done(step, f"kubeone apply succeeded in {result.duration_s:.0f} s")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.kubeone.extra_env)
        return env

    async def step_verify(self) -> None:
        step = StepId.VERIFY
        await self._ensure_context()
        self._start(step, self.commands(step))
        expected = int(self.checklist.facts.get("members") or 3)
        deadline = time.monotonic() + self.settings.verify_timeout
        missing = "not checked"
        snap: RingSnapshot | None = None
        pod_name = f"etcd-{self.node}"
        while time.monotonic() < deadline:
            missing, snap = await self._verify_once(expected, pod_name)
            if not missing or missing.startswith("alarm:"):
                break
            self.out(step, f"waiting: {missing}")
            await asyncio.sleep(2.0)
        if missing and not missing.startswith("alarm:"):
            raise StepFailed(f"not verified within {self.settings.verify_timeout:.0f} s: {missing}")
        if missing.startswith("alarm:") and snap is not None:
            self.out(step, f"everything else is green; {alarm_note(snap.alarms) or missing}")
            answer = await self.ui.ask(Question(
                "offer", step, "Disarm the leftover alarm?",
                f"All {expected} members are healthy and their hashes agree, but {missing.removeprefix('alarm:')} "
                "is still set.\nRun `etcdctl alarm disarm` from a healthy member?", self.conn.context,
                command=("etcdctl", "alarm", "disarm")))
            if answer != "yes":
                raise StepFailed(f"the alarm stays set ({missing.removeprefix('alarm:').strip()}): disarm it later")
            shown, out = await self.etcdctl(["alarm", "disarm", "-w", "json"], snap)
            self.out(step, shown)
            for _ in range(10):  # the next polls must show it gone (and everything still green)
                missing, snap = await self._verify_once(expected, pod_name)
                if not missing:
                    break
                self.out(step, f"after disarming: {missing}")
                await asyncio.sleep(1.0)
            if missing:
                raise StepFailed(f"after disarming: {missing}")
        self.out(step, f"node {self.node} Ready, pod {pod_name} Running, {expected} members healthy, hashes agree, "
                       "no alarm")
        messages = await pod_log_messages(self.conn, self.settings.namespace, pod_name)
        if any(m == ENABLED_MSG for m in messages):
            self.out(step, f"{pod_name} logs {ENABLED_MSG!r}")
        else:
            self.out(step, f"warning: {pod_name} has not logged {ENABLED_MSG!r} (corruption checks off on it?)")
        if not any(m.startswith("initial corruption checking passed") for m in messages):
            self.out(step, f"{INITIAL_PASSED_MSG!r} is absent on the new member: expected, a fresh member has no "
                           "data to check at its first start (it appears at its next restart)")
        self._done(step, f"{self.node} replaced; ring {snap.verdict.value if snap else '?'}")

    async def _verify_once(self, expected: int, pod_name: str) -> tuple[str, RingSnapshot | None]:
        node = await read_node(self.conn, self.node)
        if node is None or not node.ready:
            return f"node {self.node} not Ready" if node else f"node {self.node} not registered yet", None
        pod = await read_pod(self.conn, self.settings.namespace, pod_name)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            return f"pod {pod_name} not Running", None
        snap = await fresh_snapshot(self.engine)
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        if len(voting) != expected:
            return f"{len(voting)} of {expected} members", snap
        sick = [r.member_name or r.key for r in voting if not r.healthy]
        if sick:
            return f"not healthy: {', '.join(sick)}", snap
        hashes = {r.hash for r in voting}
        if None in hashes or len(hashes) != 1 or any(r.hash_agrees is False for r in voting):
            return "hashes do not agree yet", snap
        if snap.alarms:
            return "alarm: " + ", ".join(sorted({name for _, name in snap.alarms})), snap
        return "", snap


def _last_error(lines: Sequence[str]) -> str:
    """KubeOne's own reason: the last `Error:` line (v1.5+), else the last non-empty line."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip().startswith("Error:"):
            more = [ln.strip() for ln in lines[i + 1:i + 3] if ln.strip()]  # v1.5+: the cause on the next line
            return " · ".join([lines[i].strip().removeprefix("Error:").strip(), *more])[:300]
    return next((ln.strip()[:300] for ln in reversed(lines) if ln.strip()), "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

