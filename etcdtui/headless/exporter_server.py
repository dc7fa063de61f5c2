"""The exporter's HTTP side: `/metrics`, `/healthz`, `/readyz` on aiohttp, reading only the collector.

A scrape never calls the cluster; it renders the last snapshots held by the `RingCollector`.
`/readyz` answers 200 while every context has data younger than three poll intervals.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from etcdtui.headless.ring_metrics import RingCollector

READY_INTERVALS = 3  # /readyz: the snapshot is younger than this many poll intervals


def build_app(collector: RingCollector, data_ages: Callable[[], dict[str, float | None]], interval: float
              ) -> web.Application:
    """`data_ages()`: seconds since each context's last successful poll (None: none yet)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)  # a few hundred series from memory: well under a millisecond
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        ages = data_ages()
        limit = READY_INTERVALS * interval
        stale = {ctx: age for ctx, age in ages.items() if age is None or age > limit}
        if not ages or stale:
            lines = [f"{ctx}: {'no data yet' if age is None else f'data {age:.0f}s old (limit {limit:g}s)'}"
                     for ctx, age in sorted(stale.items())] or ["no context watched yet"]
            return web.Response(status=503, text="\n".join(lines) + "\n")
        return web.Response(text="ready\n")

    async def index(request: web.Request) -> web.Response:
        return web.Response(text="etcdtui exporter: /metrics /healthz /readyz\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/", index)
    return app
