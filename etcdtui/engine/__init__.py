"""The engine: turns adapter events into ring state; shared by the UI and the headless commands.

Public API (the contract with the UI; stable, additions only)::

    from etcdtui.cluster.kube import ClusterConnection, ClusterError, ErrorKind
    from etcdtui.engine.ring_engine import RingEngine
    from etcdtui.engine.snapshot import RingSnapshot, MemberRow, Verdict, LinkState, ExecStatus

    conn = await ClusterConnection.open(kubeconfig=None, context=None)   # raises ClusterError
    engine = RingEngine(conn, namespace="kube-system", selector="component=etcd",
                        poll_interval=15.0, exec_timeout=10.0)
    await engine.start()            # spawns the pod/node watches and the etcdctl poller as asyncio tasks
    engine.on_update(callback)      # callback(snapshot) on the loop, coalesced; returns an unsubscribe fn
    async for snap in engine.subscribe():   # same snapshots as an async iterator (latest wins, drops counted)
        ...
    engine.latest                   # RingSnapshot | None
    engine.refresh_now()            # poll etcdctl now (e.g. the `r` key); never blocks
    snap = await engine.wait_complete(timeout=20)  # first complete snapshot, or the last one with a reason
    engine.set_log_findings(key, findings)  # log engine hook (issue #5): key = pod/node/member name or ID
    await engine.stop()             # cancels tasks; also `async with RingEngine(...) as engine:`
    await conn.close()

Everything is async I/O on the caller's loop (Textual's loop in the app): no threads, nothing blocks.
A `RingSnapshot` (see `snapshot.py`) carries: `verdict` (HEALTHY/WARNING/CORRUPTION/QUORUM-LOST/UNKNOWN),
`findings` (most severe first), `rows` (one `MemberRow` per pod/member, key = pod name or
`member:<hex id>`), `nodes`, `members_total`/`quorum`/`fault_tolerance`, `connection` (live / stale
since t / error + reason), `exec` (ok / unavailable + reason), `history` per row key (bounded sparkline
series: revision rate, DB size, raft index lag) and `leader_changes`, `alarms`, and `assessment` (the
core's `RingAssessment`, built by `etcdtui.core.ring.assess` from the `RingObservation` in `evaluate.py`).

Modules: `ring_engine.py` (tasks, snapshots), `poller.py` (one etcdctl poll: member list, endpoint
status/health --cluster, alarm list, hashkv at a common revision), `evaluate.py` (adapter data → core
observation → rows), `history.py` (sparklines), `snapshot.py` (the published types).
"""
