"""Corruption checks on a plain kubeadm cluster: the static pod manifests edited member by member over ssh.

One `--flavour kubeadm` lab: first refused while a member is unhealthy (a join that failed halfway leaves an
unstarted member), then, with the ring repaired by a real `kubeadm reset` + `kubeadm join`, enabled on every
member one at a time, the leader last, each back healthy with the flags before the next is touched.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from _lab_cli import etcdctl
from conftest import RunningLab

from etcdtui.cluster.ssh import SshNode, connect
from etcdtui.engine.checks_kubeadm import GUIDE_FLAGS, KubeadmEnableRefused, enable_on_kubeadm
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.replace import fresh_snapshot
from etcdtui.engine.replace_context import pod_log_messages
from etcdtui.lab.kubeadm_join import write_fault

pytestmark = pytest.mark.timeout(300)


async def _sh(lab: RunningLab, ssh: NodeSsh, node: str, argv: list[str]) -> tuple[int | None, list[str]]:
    ep = lab.state["ssh"][node]
    async with await connect(ssh.target(node, ep["host"])) as conn:
        result, out, err = await SshNode.capture(conn, argv, time_limit=90)
    return result.exit_code, out + err


async def _rejoin(lab: RunningLab, ssh: NodeSsh, node: str) -> tuple[int | None, list[str]]:
    _, cert = await _sh(lab, ssh, "lab-cp-1", ["sudo", "kubeadm", "init", "phase", "upload-certs", "--upload-certs"])
    _, join = await _sh(lab, ssh, "lab-cp-1", ["sudo", "kubeadm", "token", "create", "--print-join-command"])
    argv = ["sudo", *join[0].split(), "--control-plane", "--certificate-key", cert[-1]]
    return await _sh(lab, ssh, node, argv)


def _unstarted_members(lab: RunningLab) -> int:
    """Members in `member list` that were announced but never started (no name yet), read with the real etcdctl."""
    done = etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json")
    assert done.returncode == 0, done.stderr
    return sum(1 for m in json.loads(done.stdout)["members"] if not m.get("name"))


async def test_enable_checks_member_by_member_with_the_gate(fresh_lab) -> None:
    lab = fresh_lab(flavour="kubeadm")
    port = lab.state["ssh"]["lab-cp-1"]["port"]
    ssh = NodeSsh("ubuntu", port, str(lab.layout.ssh_dir / "id_ed25519"), str(lab.layout.known_hosts))
    lines: list[str] = []
    async with connected_engine(kubeconfig=str(lab.kubeconfig), poll_interval=2.0) as engine:
        await engine.wait_complete(30)

        # A half-joined lab-cp-3: an unstarted member in `member list`, so the ring is not healthy. Right after
        # the reset etcd may refuse the `member add` longer than the lab's kubeadm waits on a loaded machine;
        # the join then fails without announcing the member, and the operator would simply try again.
        for _attempt in range(3):
            assert (await _sh(lab, ssh, "lab-cp-3", ["sudo", "kubeadm", "reset", "--force"]))[0] == 0
            write_fault(lab.root, "join-halfway")
            code, out = await _rejoin(lab, ssh, "lab-cp-3")
            assert code == 1 and "timeout waiting for etcd cluster" in out[-2], out
            if await asyncio.to_thread(_unstarted_members, lab) == 1:
                break
        assert await asyncio.to_thread(_unstarted_members, lab) == 1
        with pytest.raises(KubeadmEnableRefused, match="is not healthy"):
            await enable_on_kubeadm(engine, ssh, on_output=lines.append, on_progress=lines.append)
        assert lines == []  # nothing was touched
        snap = await fresh_snapshot(engine)
        assert not any(f in (r.pod.command if r.pod else ()) for r in snap.rows for f in GUIDE_FLAGS)

        # Repaired the kubeadm way, then enabled.
        assert (await _sh(lab, ssh, "lab-cp-3", ["sudo", "kubeadm", "reset", "--force"]))[0] == 0
        code, out = await _rejoin(lab, ssh, "lab-cp-3")
        assert code == 0, out
        for _ in range(30):
            snap = await fresh_snapshot(engine)
            if len([r for r in snap.rows if r.member_id and r.healthy]) == 3:
                break
        leader = next(r.node_name for r in snap.rows if r.is_leader)
        started = time.monotonic()
        outcome = await enable_on_kubeadm(engine, ssh, on_output=lines.append, on_progress=lines.append)
        took = time.monotonic() - started
        assert outcome.ok, (outcome.message, lines)
        assert [e.node for e in outcome.edits][-1] == leader and len(outcome.edits) == 3
        assert all(e.changed and set(GUIDE_FLAGS) <= set(e.after) and not set(GUIDE_FLAGS) & set(e.before)
                   for e in outcome.edits)
        # One at a time: each member is back with its flags ("after") before the next manifest is touched.
        order = [ln.split(":")[0] for ln in lines if "editing /etc/kubernetes/manifests/etcd.yaml" in ln]
        for first, second in zip(order, order[1:], strict=False):
            assert lines.index(next(ln for ln in lines if ln.startswith(f"{first} after:"))) < \
                lines.index(next(ln for ln in lines if ln.startswith(f"{second}: editing")))
        snap = await fresh_snapshot(engine)
        voting = [r for r in snap.rows if r.member_id]
        assert len(voting) == 3 and all(r.healthy and set(GUIDE_FLAGS) <= set(r.pod.command if r.pod else ())
                                        for r in voting)
        for row in voting:  # real etcd took the flags: its new run logs it
            assert "enabled corruption checking" in await pod_log_messages(engine.conn, "kube-system",
                                                                            row.pod_name or "")
        # Idempotent: run again, nothing changes.
        again = await enable_on_kubeadm(engine, ssh, on_output=lines.append, on_progress=lines.append)
        assert again.ok and not any(e.changed for e in again.edits)
    print(f"kubeadm checks enabled on 3 members in {took:.1f} s")
