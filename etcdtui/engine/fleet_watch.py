"""The live fleet: one RingEngine per context, kept running, each publishing its `FleetRow`.

* Starting is bounded: at most `concurrency` contexts connect and wait for their first verdict at once.
* First polls are staggered (context i starts i x `stagger` later), so the etcdctl execs of many contexts
  do not all fire together and stay spread out over the poll interval afterwards.
* Each context has its own connection, engine, timeouts and backoff; a context whose kubeconfig entry or
  API fails shows UNKNOWN with its one-line reason and is retried with its own backoff, never delaying
  the others. Nothing mutable is shared between contexts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from etcdtui.cluster.kube import ClusterConnection, ClusterError
from etcdtui.engine.fleet_summary import FleetRow, row_from_failure, row_from_snapshot
from etcdtui.engine.ring_engine import RingEngine
from etcdtui.engine.snapshot import LinkState, RingSnapshot


class FleetWatch:
    def __init__(
        self,
        kubeconfig: str | None,
        contexts: Sequence[str],
        *,
        namespace: str = "kube-system",
        selector: str = "component=etcd",
        concurrency: int = 8,
        timeout: float = 20.0,  # noqa: ASYNC109 - a context's first verdict; later it shows what it has
        poll_interval: float = 15.0,
        exec_timeout: float = 10.0,
        stagger: float | None = None,
        backoff: tuple[float, float] = (1.0, 60.0),
        on_row: Callable[[FleetRow], None] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.contexts = list(dict.fromkeys(contexts))
        self.namespace, self.selector = namespace, selector
        self.timeout, self.poll_interval, self.exec_timeout = timeout, poll_interval, exec_timeout
        # Spread the first polls over at most one poll interval, a quarter second apart for small fleets.
        self.stagger = stagger if stagger is not None else min(0.25, poll_interval / max(1, len(self.contexts)))
        self._backoff = backoff
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self.on_row = on_row  # who is told about each new row (the fleet screen showing right now)
        self._rows: dict[str, FleetRow] = {c: row_from_failure(c, "connecting") for c in self.contexts}
        self._engines: dict[str, RingEngine] = {}
        self._connections: list[ClusterConnection] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def rows(self) -> Mapping[str, FleetRow]:
        return dict(self._rows)

    def engine(self, context: str) -> RingEngine | None:
        """The running engine of a context (the ring view opens on it and keeps it running)."""
        return self._engines.get(context)

    async def start(self) -> None:
        for i, context in enumerate(self.contexts):
            self._tasks.append(asyncio.create_task(self._run(context, i * self.stagger),
                                                   name=f"etcdtui-fleet-{context}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for engine in list(self._engines.values()):
            await engine.stop()
        self._engines.clear()
        for conn in self._connections:
            with contextlib.suppress(Exception):
                await conn.close()
        self._connections.clear()

    async def __aenter__(self) -> FleetWatch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _watch(self, context: str, conn: ClusterConnection) -> None:
        """Start the context's engine and wait (holding the start slot) for its first verdict."""
        self._connections.append(conn)
        engine = RingEngine(conn, namespace=self.namespace, selector=self.selector,
                            poll_interval=self.poll_interval, exec_timeout=self.exec_timeout)
        self._engines[context] = engine
        stuck: list[str] = []  # why the first verdict did not come in time, shown until the API answers

        def publish(snap: RingSnapshot) -> None:
            row = row_from_snapshot(snap)
            if stuck and snap.connection.state is LinkState.CONNECTING:
                row = replace(row, worst=stuck[0])  # "no answer within 20s", not "waiting for ..."
            self._publish(row)

        engine.on_update(publish)
        await engine.start()
        first = await engine.wait_complete(self.timeout)
        if first.connection.state is LinkState.CONNECTING:
            stuck.append(f"no answer within {self.timeout:g}s ({first.incomplete_reason or 'connecting'})")
        publish(first)

    def _publish(self, row: FleetRow) -> None:
        self._rows[row.context] = row
        if self.on_row is not None:
            self.on_row(row)

    async def _run(self, context: str, delay: float) -> None:
        await asyncio.sleep(delay)
        lo, hi = self._backoff
        failures = 0
        while True:
            async with self._slots:
                try:
                    async with asyncio.timeout(self.timeout):
                        conn = await ClusterConnection.open(self.kubeconfig, context)
                except ClusterError as exc:
                    self._publish(row_from_failure(context, exc.message))
                    conn = None
                except TimeoutError:
                    self._publish(row_from_failure(context, f"no answer within {self.timeout:g}s"))
                    conn = None
                if conn is not None:
                    await self._watch(context, conn)
                    return  # from here the engine runs by itself with its own backoff
            failures += 1
            await asyncio.sleep(min(hi, lo * 2 ** min(failures, 8)))
