"""The log engine: one `PodLogStream` per etcd pod, every line into one `LogStore`, findings to the ring.

    engine = LogEngine(conn, namespace="kube-system", selector="component=etcd", ring=ring_engine)
    await engine.start()        # pod watch + one stream per pod (members added/removed live)
    engine.store                # the LogStore (lines, filter, findings, counts)
    engine.streams[pod].status  # StreamStatus: state, reason, history bytes/lines, gaps, reconnects
    engine.cancel_history()     # stop the history scan; streams continue live
    await engine.stop()

At start the history of all members is loaded in bulk and merged by timestamp once every stream caught
up (or after `history_timeout`); later lines go through the store's reordering window, released by a
`tick` task every `tick` seconds (the UI repaints on `store.version`, at most 20 times a second).
Runs on the caller's loop (Textual's in the app); no threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.log_resume import ResumePoint
from etcdtui.cluster.log_stream_model import Origin, container_info
from etcdtui.cluster.pod_logs import PodLogStream
from etcdtui.cluster.watch import ResourceWatch
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logstore import LogStore
from etcdtui.core.scan import LogScanner
from etcdtui.engine.log_ingest import marker_entry, to_entries

log = logging.getLogger(__name__)

HISTORY_TIMEOUT = 20.0
TICK = 0.1
RING_PUSH_EVERY = 1.0
RING_FINDINGS_PER_MEMBER = 20
MAX_GONE = 64  # resume points kept for removed pods


class LogEngine:
    def __init__(
        self,
        conn: ClusterConnection,
        *,
        namespace: str = "kube-system",
        selector: str = "component=etcd",
        store: LogStore | None = None,
        ring: Any = None,  # RingEngine (set_log_findings) or None
        history_timeout: float = HISTORY_TIMEOUT,
        tick: float = TICK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn = conn
        self.namespace = namespace
        self.selector = selector
        self.store = store or LogStore()
        self.ring = ring
        self.streams: dict[str, PodLogStream] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._scanners: dict[tuple[str, str], LogScanner] = {}
        self._history_pending: set[str] = set()
        self._history_timeout = history_timeout
        self._tick = tick
        self._clock = clock
        self._watch: ResourceWatch | None = None
        self._background: list[asyncio.Task[None]] = []
        self._pushed: dict[str, tuple[int, Finding | None]] = {}
        self._gone: dict[str, ResumePoint] = {}
        self._started = False
        self.state_version = 0  # bumps when a stream's state changes (UI status line)

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._started = True
        self.store.begin_bulk()
        self._watch = ResourceWatch(self.conn, "pods", namespace=self.namespace, selector=self.selector,
                                    on_change=self._reconcile)
        self._background.append(asyncio.create_task(self._watch.run(), name="logs:pod-watch"))
        self._background.append(asyncio.create_task(self._ticker(), name="logs:tick"))
        self._background.append(asyncio.create_task(self._history_deadline(), name="logs:history-deadline"))

    async def stop(self) -> None:
        tasks = [*self._background, *self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background.clear()
        self._tasks.clear()

    async def __aenter__(self) -> LogEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- public -----------------------------------------------------------------------------------
    @property
    def history_complete(self) -> bool:
        return not self.store.in_bulk

    def history_progress(self) -> dict[str, tuple[int, int, bool]]:
        """Per member: (bytes, lines, done) of the history scan."""
        return {name: (s.status.history_bytes, s.status.history_lines, s.status.history_done)
                for name, s in self.streams.items()}

    def stream_summary(self) -> list[tuple[str, str, str]]:
        """Per member: (name, state, reason), state as shown (live turns quiet after a silence)."""
        now = self._clock()
        out = []
        for name, stream in sorted(self.streams.items()):
            status = stream.status
            reason = status.reason
            if status.gaps:
                reason = f"{reason}; {status.gaps} gap(s)".lstrip("; ")
            out.append((name, status.shown_state(now).value, reason))
        return out

    def cancel_history(self) -> None:
        for stream in self.streams.values():
            stream.cancel_history()
        self._finish_bulk()

    async def wait_history(self, timeout: float) -> bool:  # noqa: ASYNC109 - a plain deadline is the API
        deadline = self._clock() + timeout
        while not self.history_complete and self._clock() < deadline:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.05)
        return self.history_complete

    # -- pods → streams ---------------------------------------------------------------------------
    def _reconcile(self) -> None:
        if self._watch is None:
            return
        pods = self._watch.objects
        for name, pod in pods.items():
            if name not in self.streams:
                self._add_stream(name)
            else:
                info = container_info(pod, None)
                self.streams[name].container_changed(info.container_id)
        for name in list(self.streams):
            if name not in pods:
                self._remove_stream(name)

    def _add_stream(self, name: str) -> None:
        resume_from = self._gone.pop(name, None)
        stream = PodLogStream(self.conn, self.namespace, name, self, resume_from=resume_from)
        if resume_from is not None:
            self.store.add([marker_entry(name, "── pod re-created: stream continues from the last line seen",
                                         time.time())], self._clock())
        self.streams[name] = stream
        if self.store.in_bulk:
            self._history_pending.add(name)
        self.store.member_id(name)
        self._tasks[name] = asyncio.create_task(stream.run(), name=f"logs:{name}")
        self.state_version += 1

    def _remove_stream(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
        stream = self.streams.pop(name, None)
        if stream is not None:
            # A pod deleted and re-created under the same name (a mirror pod) continues where it was.
            self._gone[name] = stream.resume_point
            while len(self._gone) > MAX_GONE:
                self._gone.pop(next(iter(self._gone)))
        self._history_pending.discard(name)
        self.store.add([marker_entry(name, "pod removed: stream stopped (it continues without duplicates if the pod comes back)", time.time())], self._clock())
        self._check_bulk()
        self.state_version += 1

    # -- LogSink ----------------------------------------------------------------------------------
    def lines(self, member: str, lines: list[bytes], origin: Origin) -> None:
        key = (member, "previous" if origin is Origin.PREVIOUS else "current")
        scanner = self._scanners.get(key)
        if scanner is None:
            scanner = self._scanners[key] = LogScanner(f"{member}:{key[1]}", member)
        self.store.add(to_entries(member, lines, scanner), self._clock())

    def marker(self, member: str, kind: str, text: str, ts: float | None) -> None:
        if kind == "restart":
            # The container we read becomes "previous": a fresh scanner for the new one (new startup context).
            self._scanners.pop((member, "current"), None)
        self.store.add([marker_entry(member, f"── {kind}: {text}", ts)], self._clock())

    def history_done(self, member: str) -> None:
        self._history_pending.discard(member)
        self._check_bulk()

    def state_changed(self, member: str) -> None:
        self.state_version += 1

    # -- internals --------------------------------------------------------------------------------
    def _check_bulk(self) -> None:
        if self.store.in_bulk and self._watch is not None and self._watch.state.listed and not self._history_pending:
            self._finish_bulk()

    def _finish_bulk(self) -> None:
        self._history_pending.clear()
        while self.store.in_bulk:
            self.store.end_bulk()

    async def _history_deadline(self) -> None:
        await asyncio.sleep(self._history_timeout)
        if self.store.in_bulk:
            log.info("history not complete after %.0f s: showing what was read", self._history_timeout)
            self._finish_bulk()

    async def _ticker(self) -> None:
        last_push = 0.0
        while True:
            await asyncio.sleep(self._tick)
            now = self._clock()
            self.store.release(now)
            self._check_bulk()
            if self.ring is not None and now - last_push >= RING_PUSH_EVERY:
                last_push = now
                self.push_findings()

    def push_findings(self) -> None:
        """Per member: the last check result and the latest corruption findings → the ring engine."""
        if self.ring is None:
            return
        store = self.store
        for member, counts in store.counts.items():
            marker = (counts.findings, counts.last_check)
            if self._pushed.get(member) == marker:
                continue
            self._pushed[member] = marker
            # With their time (`log-ts`): the ring tells past evidence from current by it.
            chosen: list[Finding] = [replace(p.finding, fields={**p.finding.fields, "log-ts": p.ts})
                                     for p in reversed(store.pinned)
                                     if p.member == member and p.finding.is_corruption][:RING_FINDINGS_PER_MEMBER]
            if counts.last_check is not None:
                chosen.append(last_check_finding(counts.last_check, counts.last_check_ts))
            self.ring.set_log_findings(member, chosen)


def check_outcome(finding: Finding) -> str:
    if finding.is_corruption:
        return "failed"
    if finding.severity is Severity.OK:
        return "passed"
    return "inconclusive" if finding.severity >= Severity.WARNING else "unverified"


def last_check_finding(finding: Finding, ts: float | None) -> Finding:
    """The member's latest corruption-check result, marked for the ring view's "last check" column:
    `fields["log-last-check"]` = passed/failed/inconclusive/unverified, `fields["log-ts"]` = epoch seconds."""
    return replace(finding, fields={**finding.fields, "log-last-check": check_outcome(finding), "log-ts": ts})
