"""RingEngine: pod and node watches plus an etcdctl poller, evaluated into immutable `RingSnapshot`s.

All of it is asyncio tasks on the caller's loop doing network I/O; nothing here blocks or uses threads.
Snapshots are coalesced (many watch events in a burst give one snapshot) and every consumer queue is
bounded with "latest wins", counting what a slow consumer missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Self

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError, ExecFailure
from etcdtui.cluster.kube import ClusterConnection, no_etcd_pods
from etcdtui.cluster.objects import NodeInfo, PodInfo, node_from_dict, pod_from_dict
from etcdtui.cluster.watch import ResourceWatch
from etcdtui.core.findings import Finding, Severity
from etcdtui.engine import etcdctl_data as data
from etcdtui.engine.evaluate import evaluate
from etcdtui.engine.history import History
from etcdtui.engine.poller import EtcdctlPoller, exec_candidates
from etcdtui.engine.snapshot import (
    ConnectionState,
    ExecState,
    ExecStatus,
    LinkState,
    RingSnapshot,
)

log = logging.getLogger(__name__)

# Exec failures that another pod will not fix: stop trying the rest of the pods in this poll.
_SAME_EVERYWHERE = {ExecFailure.FORBIDDEN, ExecFailure.UNREACHABLE}
SUBSCRIBER_QUEUE = 4


class RingEngine:
    def __init__(
        self,
        connection: ClusterConnection,
        namespace: str = "kube-system",
        selector: str = "component=etcd",
        poll_interval: float = 15.0,
        exec_timeout: float = 10.0,
        *,
        history_len: int = 240,
        publish_delay: float = 0.05,
        backoff_min: float = 0.5,
        backoff_max: float = 10.0,
    ) -> None:
        self.conn = connection
        self.namespace = namespace
        self.selector = selector
        self.poll_interval = poll_interval
        self.exec_timeout = exec_timeout
        self._publish_delay = publish_delay
        self._backoff = (backoff_min, backoff_max)
        self._history = History(maxlen=history_len)
        self._exec = EtcdctlExec(connection)
        self._poller = EtcdctlPoller(self._exec, namespace, exec_timeout)
        self._poll: data.PollResult | None = None
        self._exec_state = ExecState(ExecStatus.PENDING)
        self._exec_attempted = False
        self._log_findings: dict[str, tuple[Finding, ...]] = {}
        self._latest: RingSnapshot | None = None
        self._seq = 0
        self._callbacks: list[Callable[[RingSnapshot], None]] = []
        self._queues: list[asyncio.Queue[RingSnapshot]] = []
        self._dropped = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._pods: ResourceWatch | None = None
        self._nodes: ResourceWatch | None = None
        self._dirty: asyncio.Event | None = None
        self._refresh: asyncio.Event | None = None
        self._changed: asyncio.Condition | None = None
        self._last_ok_pod: str | None = None
        self._previous_status: dict[str, tuple[int, int]] | None = None
        self._clean_since: datetime | None = None  # live cross-check clean since (settles past log evidence)
        self._current_status: dict[str, tuple[int, int]] | None = None
        self._record_history = False
        self._publish_at_once = False
        self.polls = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        self._dirty = asyncio.Event()
        self._refresh = asyncio.Event()
        self._changed = asyncio.Condition()
        lo, hi = self._backoff
        self._pods = ResourceWatch(
            self.conn, "pods", namespace=self.namespace, selector=self.selector,
            on_change=self._mark_dirty, on_recovered=self.refresh_now, backoff_min=lo, backoff_max=hi,
        )
        self._nodes = ResourceWatch(self.conn, "nodes", on_change=self._mark_dirty, backoff_min=lo, backoff_max=hi)
        for name, coro in (
            ("pods-watch", self._pods.run()),
            ("nodes-watch", self._nodes.run()),
            ("etcdctl-poll", self._poll_loop()),
            ("publish", self._publish_loop()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"etcdtui-engine-{name}"))
        self._mark_dirty()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._exec.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- consumers ---------------------------------------------------------------------------------
    @property
    def latest(self) -> RingSnapshot | None:
        return self._latest

    def on_update(self, callback: Callable[[RingSnapshot], None]) -> Callable[[], None]:
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def subscribe(self) -> AsyncIterator[RingSnapshot]:
        """Every new snapshot (starting with the current one); a slow consumer skips to the newest."""
        queue: asyncio.Queue[RingSnapshot] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._queues.append(queue)
        try:
            if self._latest is not None:
                queue.put_nowait(self._latest)
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def refresh_now(self) -> None:
        if self._refresh is not None:
            self._refresh.set()

    def set_log_findings(self, key: str, findings: Sequence[Finding]) -> None:
        """Findings from the log engine (issue #5) for one pod name, node name, member name or member ID.

        They join the next evaluation (the core files them under the matching row, else ring-wide);
        an empty sequence clears them.
        """
        self._log_findings[key] = tuple(findings)
        self._mark_dirty()

    async def wait_complete(self, timeout: float) -> RingSnapshot:  # noqa: ASYNC109 - part of the public API
        """The first complete snapshot, or the latest one as soon as completing is impossible.

        "Impossible" means: the first list failed, there are no etcd pods, or exec was tried and is
        unavailable; the snapshot's `incomplete_reason` then says why.
        """
        assert self._changed is not None, "start() the engine first"
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                snap = self._latest
                if snap is not None and (snap.complete or self._hopeless(snap)):
                    return snap
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        snap = self._latest or self._build()
        reason = snap.incomplete_reason or "timed out"
        return _with_reason(snap, f"timed out after {timeout:g}s: {reason}")

    def _hopeless(self, snap: RingSnapshot) -> bool:
        if snap.connection.state is LinkState.ERROR:
            return True
        if self._pods is not None and self._pods.state.listed and not self._pods.objects:
            return True
        return self._exec_attempted and snap.exec.status is ExecStatus.UNAVAILABLE

    # -- internals ---------------------------------------------------------------------------------
    def _mark_dirty(self, *, now: bool = False) -> None:
        """`now`: a finished poll is one event, not a burst; publishing it at once saves the coalescing wait."""
        self._publish_at_once = self._publish_at_once or now
        if self._dirty is not None:
            self._dirty.set()

    async def _publish_loop(self) -> None:
        assert self._dirty is not None and self._changed is not None
        while True:
            await self._dirty.wait()
            if not self._publish_at_once:
                await asyncio.sleep(self._publish_delay)  # coalesce a burst of watch events into one snapshot
            self._dirty.clear()
            self._publish_at_once = False
            try:
                snap = self._build()
            except Exception:  # keep the last good snapshot rather than stop publishing
                log.exception("building the ring snapshot failed")
                continue
            self._latest = snap
            for callback in list(self._callbacks):
                try:
                    callback(snap)
                except Exception:  # a consumer's bug must not stop the engine
                    log.exception("snapshot callback failed")
            for queue in list(self._queues):
                if queue.full():
                    queue.get_nowait()
                    self._dropped += 1
                queue.put_nowait(snap)
            async with self._changed:
                self._changed.notify_all()

    def _pods_now(self) -> list[PodInfo]:
        return [pod_from_dict(o) for o in self._pods.objects.values()] if self._pods else []

    def _nodes_now(self) -> dict[str, NodeInfo]:
        if self._nodes is None:
            return {}
        return {n.name: n for n in (node_from_dict(o) for o in self._nodes.objects.values())}

    async def _poll_loop(self) -> None:
        assert self._pods is not None and self._refresh is not None
        await self._pods.first_result()
        lo, _ = self._backoff
        failures = 0
        while True:
            self._refresh.clear()
            try:
                ok = await self._poll_once()
            except Exception as exc:  # a bug in parsing/evaluation must not stop polling for good
                log.exception("etcdctl poll failed")
                self._set_exec(ExecStatus.UNAVAILABLE, f"internal error: {type(exc).__name__}: {exc}"[:300],
                               None, datetime.now(UTC), failure="internal")
                ok = False
            failures = 0 if ok else failures + 1
            # Back off on failure, but never wait longer than the normal interval.
            wait = self.poll_interval if ok else min(self.poll_interval, lo * 2 ** min(failures, 6))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), wait)

    async def _poll_once(self) -> bool:
        pods = self._pods_now()
        now = datetime.now(UTC)
        candidates = exec_candidates(pods, prefer=self._last_ok_pod)
        if not candidates:
            if pods:
                running = [p for p in pods if p.phase == "Running" and not p.deleting]
                why = ("no running etcd pod to run etcdctl in" if not running
                       else "the etcd pods show no command line to take etcdctl's certificates from")
                self._set_exec(ExecStatus.UNAVAILABLE, why, None, now, failure="no-pod")
            self._poll = None
            return False
        reasons: list[str] = []
        failure: ExecFailure | None = None
        for pod in candidates:
            try:
                target = self._poller.target(pod)
                try:
                    result = await self._poller.poll(target)
                except EtcdctlExecError as exc:
                    if exc.failure is not ExecFailure.NO_CERTS or not target.fallbacks:
                        raise
                    result = await self._poller.poll(target.with_connection(target.fallbacks[0]))
            except EtcdctlExecError as exc:
                reasons.append(exc.reason)
                failure = exc.failure
                if exc.failure in _SAME_EVERYWHERE:
                    break
                continue
            self.polls += 1
            self._last_ok_pod = pod.name
            self._poll = result
            partial = "; ".join(result.errors) if result.errors else None
            self._set_exec(ExecStatus.OK, partial, pod.name, now, ok_at=result.at)
            # The 13766 signal compares each poll with the one before it (not with every snapshot).
            self._previous_status, self._current_status = self._current_status, {
                s.member_id: (s.revision, s.raft_applied_index) for s in result.statuses
            }
            self._record_history = True
            self._mark_dirty(now=True)
            return True
        # Exec impossible in every pod. When the API itself is down keep the last data (shown as stale);
        # otherwise drop it, so the verdict rests on pod-level data only and says why.
        if failure is not ExecFailure.UNREACHABLE:
            self._poll = None
        self._set_exec(ExecStatus.UNAVAILABLE, reasons[-1] if reasons else "exec failed", None, now,
                       failure=(failure or ExecFailure.OTHER).value)
        return False

    def _set_exec(
        self, status: ExecStatus, reason: str | None, pod: str | None, at: datetime, ok_at: datetime | None = None,
        failure: str | None = None,
    ) -> None:
        self._exec_attempted = True
        self._exec_state = ExecState(
            status=status,
            reason=reason,
            pod=pod,
            last_ok_at=ok_at or self._exec_state.last_ok_at,
            last_attempt_at=at,
            failure=failure,
        )
        self._mark_dirty()

    def _connection_state(self) -> ConnectionState:
        watch = self._pods
        if watch is None:
            return ConnectionState(LinkState.CONNECTING)
        st = watch.state
        if st.live:
            return ConnectionState(LinkState.LIVE, since=st.since)
        if st.error is None:
            return ConnectionState(LinkState.CONNECTING, since=st.since)
        if st.error.lasting or not st.listed:
            return ConnectionState(LinkState.ERROR, since=st.since, reason=st.error.message)
        return ConnectionState(LinkState.STALE, since=st.since, reason=st.error.message)

    def _build(self) -> RingSnapshot:
        self._seq += 1
        pods = self._pods_now()
        nodes = self._nodes_now()
        poll = self._poll
        connection = self._connection_state()
        listed = bool(self._pods and self._pods.state.listed)
        members_error = self._exec_state.reason if self._exec_state.status is ExecStatus.UNAVAILABLE else None
        evaluation = evaluate(
            pods=pods,
            nodes=nodes,
            poll=poll,
            listed=listed,
            members_error=members_error,
            connection=connection,
            log_findings=self._log_findings,
            previous_status=self._previous_status,
            context=self.conn.context,
            clean_since=self._clean_since,
        )
        self._clean_since = evaluation.clean_since
        if self._record_history:
            self._record_history = False
            self._history.record(time.time(), evaluation.rows)
        reason = self._incomplete_reason(listed, pods, poll, connection)
        findings = evaluation.findings
        if self._nodes is not None and self._nodes.state.error is not None and self._nodes.state.error.lasting:
            # Nodes are optional (addresses, Ready, orphans): say what is missing, keep going.
            findings = (*findings, Finding("cluster.nodes_unavailable", Severity.INFO,
                                           f"node data unavailable: {self._nodes.state.error.message}"))
        return RingSnapshot(
            seq=self._seq,
            taken_at=datetime.now(UTC),
            context=self.conn.context,
            server=self.conn.server,
            namespace=self.namespace,
            selector=self.selector,
            connection=connection,
            exec=self._exec_state,
            verdict=evaluation.verdict,
            findings=findings,
            rows=evaluation.rows,
            nodes=tuple(sorted(nodes.values(), key=lambda n: n.name)),
            members_total=len(poll.members or ()) if poll else 0,
            quorum=evaluation.quorum,
            fault_tolerance=evaluation.fault_tolerance,
            common_revision=poll.common_revision if poll else None,
            last_poll_at=poll.at if poll else None,
            complete=reason is None,
            incomplete_reason=reason,
            history=self._history.per_member(),
            leader_changes=self._history.leader_series(),
            assessment=evaluation.assessment,
            alarms=tuple((a.member_id, a.alarm.value) for a in (poll.alarms or ())) if poll else (),
            dropped_updates=self._dropped,
            poll_duration=poll.duration if poll else None,
            polls=self.polls,
        )

    def _incomplete_reason(
        self, listed: bool, pods: list[PodInfo], poll: data.PollResult | None, connection: ConnectionState
    ) -> str | None:
        if connection.state is LinkState.ERROR:
            return connection.reason
        if not listed:
            return "waiting for the first pod list"
        if not pods:
            return no_etcd_pods(self.namespace, self.selector).message
        if poll is None:
            if self._exec_state.status is ExecStatus.UNAVAILABLE:
                return f"etcdctl unavailable: {self._exec_state.reason}"
            return "waiting for the first etcdctl poll"
        if not poll.members:
            return "etcdctl returned no member list"
        voting = sum(1 for m in poll.members if not m.is_learner)
        if voting >= 2 and (poll.common_revision is None or not poll.hashes):
            return f"no hashes to compare ({poll.common_revision_note or 'hashkv failed'})"
        return None


def _with_reason(snap: RingSnapshot, reason: str) -> RingSnapshot:
    return replace(snap, complete=False, incomplete_reason=reason)

