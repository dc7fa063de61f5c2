"""Turn etcd's corruption checks on for a plain kubeadm cluster: edit each node's static pod manifest.

There is no `kubeone apply --force-upgrade` on kubeadm. The guide's two flags go into
`/etc/kubernetes/manifests/etcd.yaml` node by node over ssh (`sudo cat`, edited, `sudo tee`); the kubelet then
restarts that member. One member at a time, followers first and the leader last; before each one every member
must be healthy (so the restart costs at most the one member being restarted), and after it the member must be
back, healthy, with the new flags in its pod's command, before the next. Refused when a member is unhealthy.

A manifest edit lasts until kubeadm rewrites the manifest (`kubeadm upgrade`): the durable way is the
ClusterConfiguration's `etcd.local.extraArgs` (`DURABLE_HINT`), shown next to the result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.cluster.ssh_target import SshError, SshTarget
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.kubeadm_context import node_address
from etcdtui.engine.replace.fresh import fresh_snapshot
from etcdtui.engine.snapshot import MemberRow, RingSnapshot

MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
GUIDE_FLAGS = ("--experimental-corrupt-check-time=240m", "--experimental-initial-corrupt-check=true")
MEMBER_TIMEOUT = 120.0
DURABLE_HINT = """\
# kubeadm ClusterConfiguration (kubectl -n kube-system edit cm kubeadm-config), so `kubeadm upgrade` keeps them:
etcd:
  local:
    extraArgs:                      # kubeadm.k8s.io/v1beta3; v1beta4 takes a list of {name, value}
      experimental-corrupt-check-time: 240m
      experimental-initial-corrupt-check: "true"
"""

Output = Callable[[str], None]


class KubeadmEnableRefused(Exception):
    """One line: why nothing was changed."""


@dataclass(frozen=True)
class ManifestEdit:
    node: str
    before: tuple[str, ...]  # the etcd command's flags
    after: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def checks_before(self) -> str:
        return _check_flags(self.before)

    @property
    def checks_after(self) -> str:
        return _check_flags(self.after)


def _check_flags(flags: Sequence[str]) -> str:
    """The corruption-check flags among an etcd command's flags, as one line."""
    return " ".join(f for f in flags if "corrupt" in f or "hash-check" in f) or "no corruption-check flags"


ConfirmEdit = Callable[[ManifestEdit], Awaitable[bool]]  # asked before each write; False stops the run


@dataclass
class KubeadmEnableOutcome:
    ok: bool
    message: str
    edits: list[ManifestEdit] = field(default_factory=list)


def edit_manifest(text: str, flags: Sequence[str]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The manifest with `flags` set in the etcd container's command (same-named flags replaced)."""
    doc = yaml.safe_load(text)
    try:
        container = next(c for c in doc["spec"]["containers"] if c.get("name") == "etcd")
        command = [str(w) for w in container["command"]]
    except (TypeError, KeyError, StopIteration):
        raise ValueError("no etcd container with a command in the manifest") from None
    names = {f.split("=", 1)[0] for f in flags}
    new = [w for w in command if w.split("=", 1)[0] not in names] + list(flags)
    before = tuple(w for w in command if w.startswith("-"))
    after = tuple(w for w in new if w.startswith("-"))
    if new == command or set(before) == set(after):
        return text, before, before
    container["command"] = new
    return yaml.safe_dump(doc, sort_keys=False), before, after


def _voting(snap: RingSnapshot) -> list[MemberRow]:
    return [r for r in snap.rows if r.member_id and not r.is_learner]


def _unhealthy(snap: RingSnapshot) -> list[str]:
    return [r.member_name or r.node_name or r.key for r in _voting(snap) if not r.healthy]


async def _run(node: SshNode, argv: list[str], data: str | None = None) -> tuple[int | None, list[str], list[str]]:
    """Run argv (writing `data` to its stdin when given); (exit code, stdout lines, stderr lines)."""
    from etcdtui.cluster.runner import OutputBatch  # noqa: PLC0415 - events of the shared output pump

    cmd = await node.start(argv, stdin=data is not None)
    if data is not None:
        await cmd.answer(data.rstrip("\n"))  # the content and its last newline
        await cmd.close_input()
    out: dict[str, list[str]] = {"stdout": [], "stderr": []}
    async for ev in cmd.events():
        if isinstance(ev, OutputBatch):
            out.setdefault(ev.stream, []).extend(ev.lines)
    result = await cmd.wait()
    if result.error is not None:
        raise SshError(result.error)
    return result.exit_code, out["stdout"], out["stderr"]


async def enable_on_kubeadm(
    engine: Any, node_ssh: NodeSsh | None, *, on_output: Output, on_progress: Output,
    confirm: ConfirmEdit | None = None, flags: Sequence[str] = GUIDE_FLAGS, member_timeout: float = MEMBER_TIMEOUT,
) -> KubeadmEnableOutcome:
    """Edit every member's manifest, one member at a time with the gate between; raises KubeadmEnableRefused.

    `confirm(edit)`, when given, is asked before each manifest is written (the screen's typed confirmation naming
    node and context); the gate is checked again after the answer, right before the write.
    """
    ssh = node_ssh or NodeSsh()
    snap = await fresh_snapshot(engine)
    sick = _unhealthy(snap)
    voting = _voting(snap)
    if not voting:
        raise KubeadmEnableRefused("no etcd member answered: nothing to change")
    if sick:
        raise KubeadmEnableRefused(f"member {', '.join(sick)} is not healthy: enabling restarts every member one "
                                   "by one, so the ring must be fully healthy first (replace or repair it)")
    order = sorted(voting, key=lambda r: (bool(r.is_leader), r.node_name or r.key))  # the leader last
    edits: list[ManifestEdit] = []
    started = time.monotonic()
    for row in order:
        node = row.node_name or ""
        gate, stop = await _gate(engine, node, len(voting), len(edits))
        if stop:
            return KubeadmEnableOutcome(False, stop, edits)
        address = node_address(gate, node)
        if address is None:
            return KubeadmEnableOutcome(False, f"stopped before {node}: its Node has no InternalIP", edits)
        on_progress(f"{node}: editing {MANIFEST} ({len(edits) + 1} of {len(order)})")
        target = ssh.target(node, address)
        try:
            _, edit = await _read_edit(target, node, flags)
            edits.append(edit)
            on_output(f"{node} before: {edit.checks_before}")
            if not edit.changed:
                on_output(f"{node}: the flags are already set; nothing to change")
                continue
            if confirm is not None:
                on_progress(f"{node}: waiting for your confirmation")
                if not await confirm(edit):
                    return KubeadmEnableOutcome(False, f"stopped before {node}: not confirmed; "
                                                f"{len(edits) - 1} member(s) done", edits[:-1])
                _, stop = await _gate(engine, node, len(voting), len(edits) - 1)
                if stop:
                    return KubeadmEnableOutcome(False, stop, edits[:-1])
                on_progress(f"{node}: editing {MANIFEST} ({len(edits)} of {len(order)})")
            new_text, edit = await _read_edit(target, node, flags)  # as it is now, right before the write
            edits[-1] = edit
            on_output(f"{node}$ sudo tee {MANIFEST}  (the etcd command with {' '.join(flags)})")
            async with await connect(target) as conn:
                code, _, err = await _run(conn, ["sudo", "tee", MANIFEST], new_text)
            if code != 0:
                return KubeadmEnableOutcome(False, f"{node}: tee {MANIFEST}: {' '.join(err)[:200]}", edits)
        except _EditFailed as exc:
            return KubeadmEnableOutcome(False, str(exc), edits)
        except SshError as exc:
            return KubeadmEnableOutcome(False, f"{node}: ssh: {exc}", edits)
        on_progress(f"{node}: waiting for the kubelet to restart etcd with the new flags")
        if not await _wait_member(engine, node, flags, member_timeout, on_progress):
            return KubeadmEnableOutcome(False, f"{node} is not back healthy with the new flags within "
                                        f"{member_timeout:.0f} s: stopped before the next member", edits)
        on_output(f"{node} after: {edit.checks_after}")
    return KubeadmEnableOutcome(True, f"corruption checks set on all {len(order)} members by manifest edits in "
                                f"{time.monotonic() - started:.0f} s; make them durable in the ClusterConfiguration",
                                edits)


class _EditFailed(Exception):
    """One line: reading or editing a node's manifest failed."""


async def _gate(engine: Any, node: str, members: int, done: int) -> tuple[RingSnapshot, str | None]:
    """A fresh poll, and None when every member is healthy, else why the run stops before `node`."""
    gate = await fresh_snapshot(engine)
    sick = _unhealthy(gate)
    if sick or len(_voting(gate)) != members:
        return gate, (f"stopped before {node}: the quorum gate needs every member healthy "
                      f"({', '.join(sick) or 'membership changed'}); {done} member(s) done")
    return gate, None


async def _read_edit(target: SshTarget, node: str, flags: Sequence[str]) -> tuple[str, ManifestEdit]:
    """The node's manifest with `flags` set, and the edit (before/after flags); raises _EditFailed."""
    async with await connect(target) as conn:
        code, lines, err = await _run(conn, ["sudo", "cat", MANIFEST])
    if code != 0:
        raise _EditFailed(f"{node}: cat {MANIFEST}: {' '.join(err)[:200]}")
    try:
        new_text, before, after = edit_manifest("\n".join(lines) + "\n", flags)
    except (ValueError, yaml.YAMLError) as exc:
        raise _EditFailed(f"{node}: {MANIFEST}: {exc}") from None
    return new_text, ManifestEdit(node, before, after)


async def _wait_member(engine: Any, node: str, flags: Sequence[str], within: float, on_progress: Output) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        snap = await fresh_snapshot(engine)
        row = next((r for r in snap.rows if r.node_name == node and r.member_id), None)
        command = set(row.pod.command) if row and row.pod else set()
        if row is not None and row.healthy and set(flags) <= command and row.pod and row.pod.ready:
            return True
        await asyncio.sleep(1.0)
    return False
