"""Step 8 on kubeadm clusters: the kubeadm re-join (instead of `kubeone apply`), one swappable step function.

On a healthy control-plane node over ssh: `sudo kubeadm init phase upload-certs --upload-certs` (the
certificate key) and `sudo kubeadm token create --print-join-command`; on the target node
`sudo kubeadm join … --control-plane --certificate-key …` with live output. The bootstrap token and the
certificate key are secrets: every line shown, journaled or raised goes through `Secrets.redact`, and the token
is deleted (`kubeadm token delete <id>`) when the step ends, whatever the outcome.

Resume/retry: a join that failed halfway (the member announced, etcd not up) or was interrupted leaves files
kubeadm refuses to join over, so when the journal says a join was started, or the target is still in
`member list`, `sudo kubeadm reset --force` runs on the target first (idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from etcdtui.cluster.runner import OutputBatch
from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshError, SshTarget
from etcdtui.core.checklist import StepId
from etcdtui.engine.kubeadm_context import node_address
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.replace.model import StepFailed
from etcdtui.engine.replace_context import read_node

if TYPE_CHECKING:
    from etcdtui.engine.replace.base import ProcedureBase
    from etcdtui.engine.snapshot import RingSnapshot

REDACTED = "<redacted>"
JOIN_TIMEOUT = 600.0
SHORT_TIMEOUT = 60.0
MEMBER_GONE_TIMEOUT = 20.0
JOIN_STARTED = "kubeadm_join_started"  # journal fact: a join ran (a retry resets the target first)
JOIN_TOKEN = "kubeadm_join_token_id"  # journal fact: the token's public id (a retry deletes it if a crash left it)
TOKENS_DELETED = "kubeadm_tokens_deleted"  # step journals: those ids are deleted


@dataclass
class Secrets:
    values: list[str] = field(default_factory=list)

    def add(self, value: str) -> None:
        if value and value not in self.values:
            self.values.append(value)

    def redact(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        return text


def rejoin_commands(node: str, healthy: str) -> list[str]:
    """What the step runs, with the secrets as placeholders (the plan, --dry-run, the journal)."""
    return [
        f"ssh {healthy}: sudo kubeadm init phase upload-certs --upload-certs  (certificate key: never shown)",
        f"ssh {healthy}: sudo kubeadm token create --print-join-command  (bootstrap token: never shown)",
        f"ssh {node}: sudo kubeadm join <endpoint> --token {REDACTED} --discovery-token-ca-cert-hash sha256:<hash> "
        f"--control-plane --certificate-key {REDACTED}  (live output; after a failed attempt: sudo kubeadm reset "
        "--force first)",
        f"ssh {healthy}: sudo kubeadm token delete <token id>  (always, success or not)",
    ]


def parse_certificate_key(lines: Sequence[str]) -> str | None:
    for i, line in enumerate(lines):
        if line.strip().endswith("Using certificate key:") and i + 1 < len(lines):
            key = lines[i + 1].strip()
            return key if len(key) == 64 and all(c in "0123456789abcdef" for c in key) else None
    return None


def parse_join_command(lines: Sequence[str]) -> list[str] | None:
    line = next((ln for ln in lines if ln.strip().startswith("kubeadm join ")), None)
    if line is None:
        return None
    argv = shlex.split(line)
    return argv if "--token" in argv else None


def _last_error(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        if line.startswith("error execution phase") or line.strip().startswith("[ERROR"):
            return line.strip()
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "")


class KubeadmJoin:
    """The secret-handling core, shared by the replace step and the dead-machine and quorum-loss procedures:
    certificate key and bootstrap token created on a healthy control-plane node, `kubeadm join --control-plane`
    on the target with live output, the token deleted at the end whatever the outcome. Every line passes
    `Secrets.redact` before `emit` sees it."""

    def __init__(self, node: str, kubeadm: str, emit: Callable[..., None],
                 target: Callable[[], Awaitable[SshNode]], started: Callable[[str], Awaitable[None]]) -> None:
        self.node, self.kubeadm, self._emit = node, kubeadm, emit
        self._target = target  # the ssh session to the joining node
        # Journals, durably, that a join runs with the token of this public id: a retry resets the target first
        # and deletes that token if a crash (no `finally`) left it.
        self._started = started
        self.secrets = Secrets()
        self.token_id: str | None = None

    def out(self, *lines: str) -> None:
        self._emit(*(self.secrets.redact(line) for line in lines))

    async def run(self, node: SshNode, argv: list[str], where: str, *, show: bool,
                  limit: float = SHORT_TIMEOUT) -> tuple[int | None, list[str]]:
        """Run argv; its lines are returned, and shown live (redacted) when `show`."""
        kept: list[str] = []

        def batch(b: OutputBatch) -> None:
            kept.extend(b.lines)
            del kept[:-2000]
            if show:
                self.out(*b.lines)

        self.out(f"{where}$ {self.secrets.redact(shlex.join(argv))}")
        cmd = await node.start(argv)
        try:
            async with asyncio.timeout(limit):
                async for ev in cmd.events():
                    if isinstance(ev, OutputBatch):
                        batch(ev)
                result = await cmd.wait()
        except (asyncio.CancelledError, TimeoutError):
            with contextlib.suppress(Exception):
                await asyncio.shield(cmd.cancel())
            raise
        if result.error is not None:
            raise_failed(f"{where}: {self.secrets.redact(result.error)}")
        return result.exit_code, kept

    async def _connect(self, healthy: str, target: SshTarget) -> SshNode:
        self.out(f"connecting to the healthy control-plane node {target.describe()}")
        try:
            return await connect(target)
        except SshError as exc:
            raise_failed(f"ssh to the healthy control-plane node {healthy}: {exc}")

    async def delete_leftover(self, healthy: str, target: SshTarget, token_ids: Sequence[str]) -> None:
        """Delete the tokens of earlier attempts (public ids): a run killed during the join never did."""
        if not token_ids:
            return
        healthy_ssh = await self._connect(healthy, target)
        try:
            for token_id in dict.fromkeys(token_ids):
                code, _ = await self.run(healthy_ssh, ["sudo", self.kubeadm, "token", "delete", token_id], healthy,
                                         show=False)
                self.out(f"bootstrap token {token_id} of an earlier attempt: "
                         + ("deleted" if code == 0 else "already gone"))
        finally:
            await healthy_ssh.close()

    async def via(self, healthy: str, target: SshTarget) -> float:
        """Join through `healthy` (reached at `target`); returns the seconds it took. Raises StepFailed."""
        healthy_ssh = await self._connect(healthy, target)
        started = time.monotonic()
        try:
            await self._join(healthy_ssh, healthy)
        finally:
            await asyncio.shield(self._delete_token(healthy_ssh, healthy))
            await healthy_ssh.close()
        return time.monotonic() - started

    async def _join(self, healthy_ssh: SshNode, healthy: str) -> None:
        code, lines = await self.run(healthy_ssh, ["sudo", self.kubeadm, "init", "phase", "upload-certs",
                                                   "--upload-certs"], healthy, show=False)
        key = parse_certificate_key(lines)
        if key:
            self.secrets.add(key)
        self.out(*(line for line in lines if line.strip() and line.strip() != key))
        if code != 0 or key is None:
            raise_failed(f"kubeadm init phase upload-certs on {healthy} (exit {code}): "
                         f"{self.secrets.redact(_last_error(lines)) or 'no certificate key in its output'}")
        code, lines = await self.run(healthy_ssh, ["sudo", self.kubeadm, "token", "create", "--print-join-command"],
                                     healthy, show=False)
        join = parse_join_command(lines)
        if join is not None:
            token = join[join.index("--token") + 1]
            self.secrets.add(token)
            self.secrets.add(token.partition(".")[2])
            self.token_id = token.partition(".")[0]
        if code != 0 or join is None:
            raise_failed(f"kubeadm token create on {healthy} (exit {code}): "
                         f"{self.secrets.redact(_last_error(lines)) or 'no join command in its output'}")
        self.out(f"bootstrap token {self.token_id}.{REDACTED} created on {healthy}; certificate key {REDACTED}")
        await self._started(self.token_id or "")
        argv = ["sudo", self.kubeadm, *join[1:], "--control-plane", "--certificate-key", key]
        node = await self._target()
        code, lines = await self.run(node, argv, self.node, show=True, limit=JOIN_TIMEOUT)
        if code != 0:
            raise_failed(f"kubeadm join on {self.node} exited with {code}: "
                         f"{self.secrets.redact(_last_error(lines))}")

    async def _delete_token(self, healthy_ssh: SshNode, healthy: str) -> None:
        if self.token_id is None:
            return
        try:
            code, lines = await self.run(healthy_ssh, ["sudo", self.kubeadm, "token", "delete", self.token_id],
                                         healthy, show=True)
        except Exception as exc:  # noqa: BLE001 - reported, the step's own outcome stands
            self.out(f"warning: could not delete bootstrap token {self.token_id}: {self.secrets.redact(str(exc))}; "
                     f"run `kubeadm token delete {self.token_id}` on {healthy}")
            return
        if code != 0:
            self.out(f"warning: kubeadm token delete {self.token_id} exited with {code}: run it again on {healthy}")
        else:
            self.token_id = None


def journaled_join(node: str, journal: Any, emit: Callable[[str], None],
                   machine: Callable[[], Awaitable[SshNode]]) -> KubeadmJoin:
    """A `KubeadmJoin` for the step journals (dead-machine repair, recover): its lines emitted indented, its start
    noted durably with the node and the token's public id (a retry resets the node, deletes a token a crash left)."""
    def out(*lines: str) -> None:
        for line in lines:
            emit(f"     {line}")

    async def started(token_id: str) -> None:
        await asyncio.to_thread(journal.append, {"kind": "note", JOIN_STARTED: node, JOIN_TOKEN: token_id,
                                                 "t": time.time()})

    return KubeadmJoin(node, "kubeadm", out, machine, started)


async def delete_journaled_tokens(journal: Any, join: KubeadmJoin, healthy: str, target: SshTarget) -> None:
    """For the step journals (dead-machine repair, recover: `records()`, `append()`): delete the tokens whose
    public ids a killed run journaled (`JOIN_TOKEN` notes) and are not yet noted deleted, then note them deleted."""
    records = await asyncio.to_thread(journal.records)
    done = {str(t) for r in records for t in r.get(TOKENS_DELETED, [])}
    leftover = [str(r[JOIN_TOKEN]) for r in records if r.get(JOIN_TOKEN) and str(r[JOIN_TOKEN]) not in done]
    if leftover:
        await join.delete_leftover(healthy, target, leftover)
        await asyncio.to_thread(journal.append, {"kind": "note", TOKENS_DELETED: leftover, "t": time.time()})


def healthy_control_plane(snap: RingSnapshot | None, node: str) -> tuple[str, str]:
    """(node, address) of a healthy control-plane member other than `node`, leader first."""
    rows = [r for r in (snap.rows if snap else []) if r.node_name and r.node_name != node
            and r.healthy and r.member_id]
    for row in sorted(rows, key=lambda r: (not r.is_leader, r.key)):
        address = node_address(snap, row.node_name or "") if snap else None
        if address:
            return row.node_name or "", address
    raise_failed(f"no healthy control-plane node other than {node} to create the join token on")


class KubeadmRejoin:
    """Step 8 of the replace procedure: the journal, the confirmation and the leftovers of an earlier attempt
    around `KubeadmJoin`."""

    def __init__(self, proc: ProcedureBase) -> None:
        self.proc = proc
        self.step = StepId.APPLY
        kubeadm = str(proc.checklist.facts.get("kubeadm") or "kubeadm")
        self.join = KubeadmJoin(proc.node, kubeadm, lambda *lines: proc.out(self.step, *lines),
                                lambda: proc.open_ssh(self.step), self._started)

    def out(self, *lines: str) -> None:
        self.join.out(*lines)

    async def _started(self, token_id: str) -> None:
        self.proc.write(self.proc.checklist.note(JOIN_STARTED, True, self.proc.clock()))
        # The earlier attempts' tokens were deleted at the step's start: only this one can be left by a crash.
        self.proc.write(self.proc.checklist.note(JOIN_TOKEN, [token_id], self.proc.clock()))
        await self.proc.flush()

    def _leftover(self) -> list[str]:
        tokens = self.proc.checklist.facts.get(JOIN_TOKEN)
        return [str(t) for t in tokens] if isinstance(tokens, list) else []

    async def run(self) -> None:
        proc, step = self.proc, self.step
        ctx = await proc.ensure_context()
        if self._leftover():
            healthy, address = healthy_control_plane(proc.engine.latest, proc.node)
            await self.join.delete_leftover(healthy, proc.settings.node_ssh.target(healthy, address), self._leftover())
            proc.write(proc.checklist.note(JOIN_TOKEN, [], proc.clock()))
        if await read_node(proc.conn, proc.node) is not None and (await proc.member_present())[0]:
            proc.start_step(step, proc.commands(step))
            self.out(f"{proc.node} is back: the Node exists and it is an etcd member (nothing to join)")
            proc.finish_step(step, "already joined")
            return
        healthy, address = healthy_control_plane(proc.engine.latest, proc.node)
        confirmation = await proc.confirm(
            step, f"Re-join {proc.node} with kubeadm: a bootstrap token and a certificate key are created on "
                  f"{healthy}, then `sudo kubeadm join … --control-plane` runs on {proc.node}. The token is "
                  "deleted when the step ends.", ("kubeadm", "join", "--control-plane"))
        proc.start_step(step, proc.commands(step), confirmation)
        await proc.flush()  # the confirmation and "running" are on disk before anything changes
        await self._reset_leftovers()
        await proc.gate_again(step)
        if ctx.ssh is None:
            raise_failed("no ssh settings for the target node")
        seconds = await self.join.via(healthy, proc.settings.node_ssh.target(healthy, address))
        proc.finish_step(step, f"kubeadm join succeeded in {seconds:.0f} s; the join token is deleted")

    async def _reset_leftovers(self) -> None:
        proc = self.proc
        present, _ = await proc.member_present()
        if not present and not proc.checklist.facts.get(JOIN_STARTED):
            return
        self.out(f"an earlier join attempt left state on {proc.node}: `sudo kubeadm reset --force` first "
                 "(kubeadm refuses to join over it)")
        if present:
            # The half-joined member counts in N but not in health: removing it must keep quorum.
            snap = await fresh_snapshot(proc.engine)
            voting = [r for r in snap.rows if r.member_id and not r.is_learner]
            others = [r for r in voting if r.healthy and r.node_name != proc.node]
            if len(others) < len(voting) // 2 + 1:
                raise_failed(f"{len(others)} healthy of {len(voting)} members: removing the half-joined member "
                             "could lose quorum; repair the ring first")
        node = await proc.open_ssh(self.step)
        code, _ = await self.join.run(node, ["sudo", self.join.kubeadm, "reset", "--force"], proc.node, show=True)
        if code != 0:
            raise_failed(f"kubeadm reset before the new join exited with {code}")
        deadline = time.monotonic() + MEMBER_GONE_TIMEOUT
        while present and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            present, _ = await proc.member_present()
        if present:
            raise_failed(f"{proc.node} is still an etcd member after kubeadm reset: remove it "
                         "(etcdctl member remove) and retry")


def raise_failed(message: str) -> NoReturn:
    raise StepFailed(message)


async def kubeadm_rejoin(proc: ProcedureBase) -> None:
    """The step function (swappable: the recovery procedures call it the same way)."""
    await KubeadmRejoin(proc).run()
