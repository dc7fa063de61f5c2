"""What every procedure does around stopping a member: the members' facts, and leadership moved off it first.

A leader that stops (defragment, kubeadm reset) costs the ring an election timeout of refused writes; handing
leadership over first (`etcdctl move-leader`) costs one heartbeat. Used by the defragment and replace procedures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, target_from_pod
from etcdtui.core.defrag_rules import MemberDb, healthiest_follower, quota_from_command
from etcdtui.engine.snapshot import MemberRow, RingSnapshot

LEADER_MOVE_TIMEOUT = 30.0


class SurgeryError(Exception):
    """One line: leadership could not be moved (no healthy follower, etcdctl failed, it did not move)."""


def member_name(row: MemberRow) -> str:
    return row.member_name or row.node_name or row.key


def member_dbs(snap: RingSnapshot) -> list[MemberDb]:
    """Each member as the planner and the gates see it (quota from the pod's own `--quota-backend-bytes`)."""
    out = []
    for r in snap.rows:
        if r.member_id is None:
            continue
        quota = quota_from_command(r.pod.command) if r.pod else quota_from_command(())
        out.append(MemberDb(member_name(r), r.member_id, r.db_size, r.db_size_in_use, quota, bool(r.is_leader),
                            r.healthy, r.is_learner, r.raft_index_lag))
    return out


def row_of(snap: RingSnapshot, name: str) -> MemberRow | None:
    return next((r for r in snap.rows if r.member_id and member_name(r) == name), None)


async def etcdctl_in_pod(exec_: EtcdctlExec, row: MemberRow, namespace: str, args: Sequence[str],
                         limit_s: float = 20.0) -> tuple[str, str]:
    """etcdctl `args` in `row`'s own pod against its own member; (what to show, stdout). Raises SurgeryError."""
    if row.pod is None:
        raise SurgeryError(f"{member_name(row)} has no pod to run etcdctl in")
    target = target_from_pod(row.pod.name, namespace, row.pod.command)
    argv = ["etcdctl", *target.connection.global_flags(), *args]
    try:
        result = await exec_.exec(row.pod.name, namespace, argv, container=target.container, limit_s=limit_s)
    except EtcdctlExecError as exc:
        raise SurgeryError(exc.reason) from None
    if result.rc not in (0, None):
        last = (result.stderr.strip().splitlines() or [f"exit {result.rc}"])[-1]
        raise SurgeryError(f"etcdctl {' '.join(args)} in {row.pod.name}: {last}")
    return f"in pod {row.pod.name}: etcdctl {' '.join(args)}", result.stdout


async def move_leadership_off(
    exec_: EtcdctlExec, namespace: str, snap: RingSnapshot, name: str, fresh: Callable[[], Any],
    say: Callable[[str], None], *, prefer: Sequence[str] = (), purpose: str = "stopping",
) -> tuple[RingSnapshot, str | None]:
    """If `name` leads: `etcdctl move-leader` to the healthiest follower (in the leader's own pod: move-leader
    must reach the leader) and wait for a poll that shows another leader. Returns (latest poll, new leader or
    None when `name` did not lead). `fresh()` returns an awaitable fresh snapshot."""
    leader = snap.leader
    if leader is None or member_name(leader) != name:
        return snap, None
    to = healthiest_follower(member_dbs(snap), name, prefer=prefer)
    if to is None:
        raise SurgeryError(f"{name} leads and no healthy follower can take over")
    shown, stdout = await etcdctl_in_pod(exec_, leader, namespace, ["move-leader", to.member_id])
    say(shown)
    for line in stdout.splitlines():
        say(line)
    deadline = time.monotonic() + LEADER_MOVE_TIMEOUT
    while time.monotonic() < deadline:
        snap = await fresh()
        now = snap.leader
        if now is not None and member_name(now) != name:
            say(f"leadership moved from {name} to {member_name(now)} before {purpose} {name}")
            return snap, member_name(now)
        await asyncio.sleep(0.5)
    raise SurgeryError(f"leadership did not leave {name} within {LEADER_MOVE_TIMEOUT:.0f} s")
