"""The write load of the #13766 scenario: range-compare transactions from many clients, counted."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import aiohttp

from etcdtui.lab.control_client import call
from etcdtui.lab.incident_etcd import IncidentError, LabEtcd, b64, prefix_end
from etcdtui.lab.layout import LabLayout

PREFIX = "/etcdtui-incident/"
STATIC_PREFIX = PREFIX + "static/"
WRITE_PREFIX = PREFIX + "w/"
PRELOAD_BATCH = 100  # etcd's --max-txn-ops is 128
ERROR_PAUSE = 0.05  # after a failed request (member down), so clients do not spin on refused connections


# == the load ===============================================================================================
@dataclass
class LoadCounts:
    txns: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.txns / self.seconds if self.seconds > 0 else 0.0


class RangeTxnLoad:
    """N clients looping `POST /v3/kv/txn`: compare create_revision over the static range > 0, put a unique key."""

    def __init__(self, etcd: LabEtcd, clients: int, token: str) -> None:
        self.etcd = etcd
        self.clients = clients
        self.token = token
        self.counts = LoadCounts()
        self._seq = [0] * clients
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(self._client(i), name=f"incident-load-{i}") for i in range(self.clients)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.counts.seconds += time.monotonic() - self._started

    def current_rate(self) -> float:
        running = time.monotonic() - self._started if self._tasks else 0.0
        return self.counts.txns / max(self.counts.seconds + running, 0.001)

    async def _client(self, i: int) -> None:
        nodes = list(self.etcd.urls)
        at = i % len(nodes)
        compare = [{"key": b64(STATIC_PREFIX), "range_end": b64(prefix_end(STATIC_PREFIX)),
                    "target": "CREATE", "result": "GREATER", "create_revision": "0"}]
        value = b64(secrets.token_hex(32))
        while True:
            key = f"{WRITE_PREFIX}{self.token}-{i:02d}/{self._seq[i]:09d}"
            body = {"compare": compare, "success": [{"request_put": {"key": b64(key), "value": value}}]}
            try:
                data = await self.etcd.post(nodes[at], "/v3/kv/txn", body)
                ok = bool(data.get("succeeded"))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                ok = False
            if ok:
                self.counts.txns += 1
                self._seq[i] += 1
            else:
                self.counts.failed += 1
                at = (at + 1) % len(nodes)  # that member is down or restarting: try the next one
                await asyncio.sleep(ERROR_PAUSE)


async def preload(etcd: LabEtcd, keys: int) -> None:
    nodes = list(etcd.urls)
    for start in range(0, keys, PRELOAD_BATCH):
        puts = [{"request_put": {"key": b64(f"{STATIC_PREFIX}{n:06d}"), "value": b64("static")}}
                for n in range(start, min(start + PRELOAD_BATCH, keys))]
        for attempt in range(len(nodes) * 3):
            try:
                await etcd.post(nodes[attempt % len(nodes)], "/v3/kv/txn", {"success": puts})
                break
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.2)
        else:
            raise IncidentError("cannot preload the static keys: no member accepts writes")


async def load_without_kill(layout: LabLayout, seconds: float, clients: int = 16, keys: int = 2000) -> LoadCounts:
    """The same preload and range-compare load for `seconds`, no kill: the healthy baseline (no false alarm)."""
    state = await call(layout, "GET", "/status", limit_s=10.0)
    urls = {m["node"]: str(m["client_url"]) for m in state["members_status"] if not m.get("reset")}
    etcd = LabEtcd(layout, urls, clients + 8)
    try:
        await preload(etcd, keys)
        load = RangeTxnLoad(etcd, clients, secrets.token_hex(3))
        load.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await load.stop()
        return load.counts
    finally:
        await etcd.close()
