"""The cluster adapters and the ring engine against the session lab (real etcd ring, real API server, real exec).

Read-only: nothing here changes the lab.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, ExecFailure, target_from_pod
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.objects import node_from_dict, pod_from_dict
from etcdtui.cluster.watch import ResourceWatch
from etcdtui.core import etcdctl as ec
from etcdtui.engine.ring_engine import RingEngine
from etcdtui.engine.snapshot import ExecStatus, LinkState, Verdict

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PODS = ["etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"]


@pytest.fixture
async def conn(lab) -> AsyncIterator[ClusterConnection]:  # type: ignore[no-untyped-def]
    connection = await ClusterConnection.open(str(lab.kubeconfig))
    try:
        yield connection
    finally:
        await connection.close()


async def test_connection_reads_context_and_server(conn: ClusterConnection, lab) -> None:  # type: ignore[no-untyped-def]
    assert conn.context == "etcdtui-lab"
    assert conn.server.startswith("https://127.0.0.1:")
    assert conn.server == f"https://127.0.0.1:{lab.state['api']['port']}"


async def test_watch_lists_pods_and_nodes(conn: ClusterConnection) -> None:
    changes = 0

    def changed() -> None:
        nonlocal changes
        changes += 1

    pods = ResourceWatch(conn, "pods", namespace="kube-system", selector="component=etcd", on_change=changed)
    nodes = ResourceWatch(conn, "nodes")
    tasks = [asyncio.create_task(pods.run()), asyncio.create_task(nodes.run())]
    try:
        await asyncio.wait_for(pods.first_result(), 15)
        await asyncio.wait_for(nodes.first_result(), 15)
        assert pods.state.live and pods.state.listed and pods.state.error is None
        assert sorted(pods.objects) == PODS
        assert pods.resource_version and pods.lists == 1
        assert changes >= 1
        pod = pod_from_dict(pods.objects["etcd-lab-cp-2"])
        assert pod.node == "lab-cp-2" and pod.phase == "Running" and pod.ready
        assert any(a.startswith("--trusted-ca-file=") for a in pod.command)
        node_infos = [node_from_dict(o) for o in nodes.objects.values()]
        cp = sorted(n.name for n in node_infos if n.control_plane)
        assert cp == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert all(n.ready and n.address("InternalIP") for n in node_infos if n.control_plane)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_exec_runs_real_etcdctl_with_the_pods_own_certs(conn: ClusterConnection) -> None:
    pods = ResourceWatch(conn, "pods", namespace="kube-system", selector="component=etcd")
    task = asyncio.create_task(pods.run())
    runner = EtcdctlExec(conn)
    try:
        await asyncio.wait_for(pods.first_result(), 15)
        pod = pod_from_dict(pods.objects["etcd-lab-cp-1"])
        target = target_from_pod(pod.name, "kube-system", pod.command)
        assert target.connection.cert and target.connection.cert.endswith("healthcheck-client.crt")
        argv = ec.etcdctl_argv(target.connection, ec.Query.MEMBER_LIST)
        result = await runner.exec(pod.name, "kube-system", argv, container="etcd", limit_s=15)
        assert result.rc == 0, result.stderr
        members = ec.parse_member_list(result.stdout).members
        assert sorted(m.name for m in members) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]

        # A failing etcdctl: the exit code comes from the channel-3 Status, stderr is kept.
        bad = ["etcdctl", "--endpoints=https://127.0.0.1:1", "--dial-timeout=1s", "--command-timeout=2s",
               "endpoint", "status", "-w", "json"]
        failed = await runner.exec(pod.name, "kube-system", bad, container="etcd", limit_s=15)
        assert failed.rc == 1
        assert failed.stderr.strip()

        with pytest.raises(EtcdctlExecError) as missing:
            await runner.exec(pod.name, "kube-system", ["no-such-tool", "--version"], container="etcd")
        assert missing.value.failure is ExecFailure.NO_ETCDCTL

        with pytest.raises(EtcdctlExecError) as gone:
            await runner.exec("etcd-no-such-pod", "kube-system", argv, container="etcd")
        assert gone.value.failure is ExecFailure.NOT_FOUND
        assert "etcd-no-such-pod" in gone.value.reason
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.close()


async def test_engine_first_complete_snapshot(conn: ClusterConnection) -> None:
    updates = []
    async with RingEngine(conn, poll_interval=30.0) as engine:
        engine.on_update(updates.append)
        snap = await engine.wait_complete(30)
        assert snap.complete, snap.incomplete_reason
        assert snap.connection.state is LinkState.LIVE
        assert snap.exec.status is ExecStatus.OK and snap.exec.pod in PODS
        assert [r.key for r in snap.rows] == PODS
        assert snap.members_total == 3 and snap.quorum == 2 and snap.fault_tolerance == 1
        assert sum(1 for r in snap.rows if r.is_leader) == 1
        assert all(r.healthy and r.hash_agrees is True for r in snap.rows), [(r.key, r.hash_note) for r in snap.rows]
        assert len({r.hash for r in snap.rows}) == 1 and snap.common_revision is not None
        assert all(r.checks is not None and not r.checks.initial and r.checks.periodic is None
                   and not r.checks.compaction for r in snap.rows)
        assert all(r.member_id and r.node_name == r.member_name for r in snap.rows)
        # checks off → a warning, not corruption; the 3.5.1 version risk is a finding, not the verdict
        assert snap.verdict is Verdict.WARNING
        kinds = {f.kind for f in snap.findings}
        assert "checks.periodic_off" in kinds and not any(k.startswith("corruption.") for k in kinds)
        assert updates and updates[-1].seq == engine.latest.seq  # type: ignore[union-attr]
        assert set(snap.history) == set(PODS)

        # refresh_now polls again at once (the interval is 30 s) and the history grows
        grown = asyncio.Event()
        engine.on_update(lambda snap: grown.set() if len(snap.history["etcd-lab-cp-1"].times) >= 2 else None)
        polls = engine.polls
        engine.refresh_now()
        await asyncio.wait_for(grown.wait(), 15)
        assert engine.polls == polls + 1


async def test_subscribe_yields_current_snapshot_first(conn: ClusterConnection) -> None:
    async with RingEngine(conn, poll_interval=30.0) as engine:
        await engine.wait_complete(30)
        stream = engine.subscribe()
        first = await asyncio.wait_for(anext(stream), 5)
        assert first.seq == engine.latest.seq  # type: ignore[union-attr]
        await stream.aclose()


async def test_watch_from_a_too_old_resource_version_is_gone(conn: ClusterConnection) -> None:
    from etcdtui.cluster.watch import Gone

    watch = ResourceWatch(conn, "pods", namespace="kube-system", selector="component=etcd")
    await watch._list()
    assert watch.lists == 1
    watch.resource_version = "1"  # far older than the API server's retained history
    with pytest.raises(Gone):
        await asyncio.wait_for(watch._watch(), 10)


async def test_a_quiet_ring_is_hashed_in_the_first_round(conn: ClusterConnection) -> None:
    """No writes on the session lab: every member answers `hashkv` at the same current revision, so the poll
    compares those hashes and runs no second hashkv at a chosen revision."""
    from etcdtui.engine.poller import EtcdctlPoller

    pods = ResourceWatch(conn, "pods", namespace="kube-system", selector="component=etcd")
    task = asyncio.create_task(pods.run())
    runner = EtcdctlExec(conn)
    seen: list[list[str]] = []
    real_exec = runner.exec

    async def exec_and_record(pod: str, namespace: str, argv: list[str], **kwargs: object) -> object:
        seen.append(argv)
        return await real_exec(pod, namespace, argv, **kwargs)  # type: ignore[arg-type]

    runner.exec = exec_and_record  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(pods.first_result(), 15)
        poller = EtcdctlPoller(runner, "kube-system", 15.0)
        result = await poller.poll(poller.target(pod_from_dict(pods.objects["etcd-lab-cp-2"])))
        assert result.common_revision_note == f"every member at revision {result.common_revision}"
        assert len({h.hash for h in result.hashes}) == 1 and len(result.hashes) == 3
        hashkv = [argv for argv in seen if "hashkv" in argv]
        assert len(seen) == 5 and len(hashkv) == 1 and not any(a.startswith("--rev") for a in hashkv[0])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.close()
