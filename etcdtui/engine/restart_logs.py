"""What a restarted, diverged member logged since its restart joins the evaluation (issue #8).

etcd 3.5's startup check can pass on a member that lost a write (etcd #13766); reading the start of that
member's current container log lets the verdict say so. Used by `check` and the fleet check.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.core.findings import Finding
    from etcdtui.engine.ring_engine import RingEngine
    from etcdtui.engine.snapshot import RingSnapshot

LOG_BUDGET = 4 * 1024 * 1024  # etcd's startup lines are at the start of the current container's log
STARTUP_CHECK = ("check.initial_passed", "check.initial_vacuous")  # etcd's verdict at the member's last start


async def with_restart_logs(
    conn: ClusterConnection, engine: RingEngine, snap: RingSnapshot, namespace: str
) -> RingSnapshot:
    """A member whose hash differs and whose pod restarted: what etcd logged since that restart joins the
    evaluation (issue #8), so the verdict can say that etcd's initial check passed on it (etcd #13766)."""
    suspects = [r.pod.name for r in snap.rows if r.hash_agrees is False and r.pod is not None and r.pod.restarts > 0]
    if not suspects:
        return snap
    from etcdtui.core.scan import LogScanner  # only now: compiling its patterns costs ~40 ms

    found: dict[str, list[Finding]] = {}
    for pod in suspects:
        data = await _current_log(conn, namespace, pod)
        hits = await asyncio.to_thread(LogScanner(pod, pod).feed, data.splitlines())  # up to 4 MiB: off the loop
        # The startup check's verdict, and the latest finding of each corruption kind (an alarm repeats hundreds of times).
        latest = {h.finding.kind: h.finding for h in hits if h.finding.kind in STARTUP_CHECK or h.finding.is_corruption}
        found[pod] = list(latest.values())
    if not any(found.values()):
        return snap
    updated: asyncio.Future[RingSnapshot] = asyncio.get_running_loop().create_future()

    def first(new: RingSnapshot) -> None:
        if not updated.done():
            updated.set_result(new)

    remove = engine.on_update(first)  # registered right before the change: the next snapshot includes it
    try:
        for pod, findings in found.items():
            engine.set_log_findings(pod, findings)
        return await asyncio.wait_for(updated, 5.0)
    except TimeoutError:
        return snap
    finally:
        remove()


async def _current_log(conn: ClusterConnection, namespace: str, pod: str) -> bytes:
    """The start of the pod's current container log (at most LOG_BUDGET bytes); b"" when unavailable."""
    from etcdtui.cluster.rawapi import get_raw

    chunks: list[bytes] = []
    size = 0
    try:
        resp = await get_raw(conn.api, "/api/v1/namespaces/{namespace}/pods/{name}/log",
                             {"namespace": namespace, "name": pod}, [], 10.0)
        try:
            while resp.status == 200 and size < LOG_BUDGET:
                chunk = await resp.content.read(min(256 * 1024, LOG_BUDGET - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            resp.release()
    except Exception:  # noqa: BLE001 - the logs only add an explanation; the verdict stands without them
        return b""
    data = b"".join(chunks)
    return data if size < LOG_BUDGET else data[: data.rfind(b"\n") + 1]  # no half line at the cut
