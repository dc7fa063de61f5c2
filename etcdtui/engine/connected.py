"""A started ring engine on its own cluster connection, for a command's lifetime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.engine.ring_engine import RingEngine


@contextlib.asynccontextmanager
async def connected_engine(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str = "kube-system",
    selector: str = "component=etcd",
    poll_interval: float = 15.0,
) -> AsyncIterator[RingEngine]:
    """A started `RingEngine` on its own connection, stopped and closed on exit (raises `ClusterError`).

    Shared by the UI commands, the replace dry run, the screenshots scripts, the startup benchmark and tests.
    """
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.ring_engine import RingEngine

    conn = await ClusterConnection.open(kubeconfig=kubeconfig, context=context)
    engine = RingEngine(conn, namespace=namespace, selector=selector, poll_interval=poll_interval)
    try:
        await engine.start()
        yield engine
    finally:
        await engine.stop()
        await conn.close()
