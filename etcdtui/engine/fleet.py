"""Many contexts at once: one RingEngine per context, a bound on how many run concurrently, and a
per-context deadline so a context whose API refuses, hangs or rejects the credentials shows UNKNOWN with
its one-line reason without delaying the others.

Each context gets its own ClusterConnection, RingEngine and timeouts: nothing mutable is shared between
them, so a slow or failing context cannot disturb another's state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from etcdtui.cluster.kube import ClusterConnection, ClusterError
from etcdtui.engine.ring_engine import RingEngine
from etcdtui.engine.snapshot import RingSnapshot

# Closing a connection and cancelling an engine's tasks: never worth more than this after the deadline.
CLEANUP_GRACE = 2.0

Finish = Callable[[ClusterConnection, RingEngine, RingSnapshot], Awaitable[RingSnapshot]]


@dataclass(frozen=True)
class ContextCheck:
    """One context's outcome: its snapshot, or (no snapshot at all) the one-line reason."""

    context: str
    snapshot: RingSnapshot | None
    error: str | None
    seconds: float


async def check_contexts(
    kubeconfig: str | None,
    contexts: Sequence[str],
    *,
    namespace: str = "kube-system",
    selector: str = "component=etcd",
    timeout: float = 30.0,  # noqa: ASYNC109 - a per-context deadline, not the call's
    concurrency: int = 8,
    finish: Finish | None = None,
) -> list[ContextCheck]:
    """Check every context once, at most `concurrency` at a time; results in the order of `contexts`.

    `finish` may enrich a context's snapshot (issue #8's restart logs) inside that context's deadline.
    """
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(context: str) -> ContextCheck:
        async with slots:
            return await check_context(kubeconfig, context, namespace=namespace, selector=selector,
                                       timeout=timeout, finish=finish)

    return list(await asyncio.gather(*(one(c) for c in contexts)))


async def check_context(
    kubeconfig: str | None,
    context: str | None,
    *,
    namespace: str = "kube-system",
    selector: str = "component=etcd",
    timeout: float = 30.0,  # noqa: ASYNC109 - see check_contexts
    finish: Finish | None = None,
) -> ContextCheck:
    """One context, never longer than `timeout` + CLEANUP_GRACE, whatever its API does."""
    started = time.monotonic()
    name = context or "(current)"

    def done(snapshot: RingSnapshot | None, error: str | None) -> ContextCheck:
        ctx = snapshot.context if snapshot is not None else name
        return ContextCheck(ctx, snapshot, error, time.monotonic() - started)

    try:
        async with asyncio.timeout(timeout + CLEANUP_GRACE):
            conn = await ClusterConnection.open(kubeconfig, context)
            name = conn.context
            try:
                engine = RingEngine(conn, namespace=namespace, selector=selector,
                                    poll_interval=max(timeout, 15.0), exec_timeout=min(10.0, timeout))
                async with engine:
                    snap = await engine.wait_complete(timeout)
                    if finish is not None:
                        snap = await finish(conn, engine, snap)
                    return done(snap, None)
            finally:
                await conn.close()
    except ClusterError as exc:
        return done(None, exc.message)
    except TimeoutError:
        return done(None, f"no answer within {timeout:g}s")
