"""List-then-watch of one resource kind, the way client-go's reflector does it, on `kubernetes.aio`.

List, then watch from the list's resourceVersion; when the stream ends (server timeout) watch again
from the last resourceVersion seen; on 410 Gone re-list; on any failure back off (0.5 s doubling to
10 s) and report the watch as stale since the last moment it was live. We read the raw response lines
ourselves (`*_without_preload_content`) rather than `kubernetes.aio.watch.Watch`, so that a 410 or a
401 is seen as a status and not swallowed or turned into a retry loop we cannot observe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error
from etcdtui.cluster.rawapi import get_raw

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 10.0
WATCH_SECONDS = 240  # server-side watch timeout; we re-watch from the last resourceVersion after it
MAX_OBJECTS = 5000  # bound on what one watch keeps; beyond it new objects are counted and dropped


class Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410): re-list."""


@dataclass(frozen=True)
class WatchState:
    live: bool
    since: datetime  # when `live` last changed
    error: ClusterError | None = None  # the last failure while not live
    listed: bool = False  # at least one list succeeded


class ResourceWatch:
    """Keeps `objects` (name -> raw dict) equal to the server's; calls `on_change()` after each change."""

    def __init__(
        self,
        conn: ClusterConnection,
        kind: str,  # "pods" or "nodes"
        *,
        namespace: str | None = None,
        selector: str | None = None,
        on_change: Callable[[], None] = lambda: None,
        on_recovered: Callable[[], None] = lambda: None,
        backoff_min: float = BACKOFF_MIN,
        backoff_max: float = BACKOFF_MAX,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        if kind not in ("pods", "nodes"):
            raise ValueError(f"unsupported kind {kind!r}")
        self.conn = conn
        self.kind = kind
        self.namespace = namespace
        self.selector = selector
        self.on_change = on_change
        self.on_recovered = on_recovered  # called when a list succeeds again after a failure
        self.objects: dict[str, dict[str, Any]] = {}
        self.resource_version: str | None = None
        self.state = WatchState(live=False, since=datetime.now(UTC))
        self.lists = 0  # how many times we listed (1 + re-lists after 410 or reconnects)
        self.events = 0
        self.dropped = 0  # objects not kept because of MAX_OBJECTS
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._watch_seconds = watch_seconds
        self._first_result: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- what the engine uses --------------------------------------------------------------------
    @property
    def doing(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"list {self.kind}{where}"

    @property
    def needs(self) -> str:
        return f"list/watch {self.kind}"

    async def first_result(self) -> None:
        """Wait until the first list succeeded or failed (the failure is in `state.error`)."""
        await asyncio.shield(self._first_result)

    async def run(self) -> None:
        delay = self._backoff_min
        while True:
            try:
                await self._list()
                delay = self._backoff_min
                while True:
                    started, events = time.monotonic(), self.events
                    await self._watch()  # returns on a normal end of stream: watch again
                    if self.events == events and time.monotonic() - started < 1.0:
                        # A server that ends watches at once must not turn this into a busy loop.
                        await asyncio.sleep(self._backoff_min)
            except Gone:
                log.info("%s watch: 410 Gone, re-listing", self.kind)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure becomes a state; the loop must survive
                err = self.conn.error(exc, self.doing, self.needs)
                self._set_down(err)
                # A lasting failure (401/403) is retried slowly: someone may fix RBAC meanwhile.
                wait = self._backoff_max if err.lasting else delay
                await asyncio.sleep(wait * random.uniform(0.8, 1.0))  # noqa: S311 - jitter, not crypto
                delay = min(delay * 2, self._backoff_max)

    # -- internals --------------------------------------------------------------------------------
    async def _request(self, *, timeout_s: float, **params: Any) -> Any:
        query = [
            ("labelSelector", self.selector),
            ("watch", params.get("watch")),
            ("resourceVersion", params.get("resource_version")),
            ("allowWatchBookmarks", params.get("allow_watch_bookmarks")),
            ("timeoutSeconds", params.get("timeout_seconds")),
        ]
        if self.kind == "pods":
            assert self.namespace is not None
            return await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods",
                                 {"namespace": self.namespace}, query, timeout_s)
        return await get_raw(self.conn.api, "/api/v1/nodes", {}, query, timeout_s)

    async def _list(self) -> None:
        resp = await self._request(timeout_s=15.0)
        try:
            body = await resp.read()
            if resp.status != 200:
                raise status_error(resp.status, self.conn.server, self.doing, self.needs, _status_message(body))
            data = json.loads(body)
        finally:
            resp.release()
        items = data.get("items") or []
        self.objects = {}
        for item in items:
            self._keep(item)
        self.resource_version = str((data.get("metadata") or {}).get("resourceVersion") or "") or None
        self.lists += 1
        self._set_live()
        self.on_change()

    async def _watch(self) -> None:
        resp = await self._request(
            watch=True,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_seconds,
            timeout_s=float(self._watch_seconds + 30),
        )
        try:
            if resp.status == 410:
                raise Gone()
            if resp.status != 200:
                body = await resp.read()
                raise status_error(resp.status, self.conn.server, f"watch {self.kind}", self.needs, _status_message(body))
            while True:
                line = await resp.content.readline()
                if not line:
                    return  # server closed the stream (timeout or shutdown): watch again from our rv
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            resp.release()

    def _apply(self, event: dict[str, Any]) -> None:
        typ = event.get("type")
        obj = event.get("object") or {}
        if typ == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise Gone()
            raise status_error(int(code or 500), self.conn.server, f"watch {self.kind}", self.needs, str(obj.get("message", "")))
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        if typ == "BOOKMARK":
            return
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            return
        self.events += 1
        if typ == "DELETED":
            self.objects.pop(name, None)
        else:
            self._keep(obj)
        self.on_change()

    def _keep(self, obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            return
        if name not in self.objects and len(self.objects) >= MAX_OBJECTS:
            self.dropped += 1
            return
        self.objects[name] = obj

    def _set_live(self) -> None:
        if not self.state.live or not self.state.listed:
            recovered = self.state.error is not None
            self.state = WatchState(live=True, since=datetime.now(UTC), listed=True)
            if recovered:
                self.on_recovered()
        if not self._first_result.done():
            self._first_result.set_result(None)

    def _set_down(self, err: ClusterError) -> None:
        before = self.state
        if before.live:
            # Stale since now: until this moment the data was live.
            self.state = WatchState(live=False, since=datetime.now(UTC), error=err, listed=before.listed)
        else:
            self.state = WatchState(live=False, since=before.since, error=err, listed=before.listed)
        if not self._first_result.done():
            self._first_result.set_result(None)
        if before.live or before.error is None or before.error.message != err.message:
            self.on_change()  # only real changes: a retry storm must not flood consumers with snapshots


def _status_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(str(message).split())[:200] if message else ""
