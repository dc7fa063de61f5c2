"""`?watch=true`: a newline-delimited stream of `{"type","object"}` events from the store.

From `resourceVersion` R the stream replays the store history after R, then follows live changes; an R older
than the history gets one `ERROR` event carrying a 410 Expired `Status` (what client-go and the python
client re-list on). With no R (or "0") it starts with an ADDED event per current object, like the real
server. With selectors, an object that starts matching arrives as ADDED and one that stops matching as
DELETED, as the real server does. The stream ends at `timeoutSeconds`, or when the store closes watches
(api-outage, shutdown).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from aiohttp import web

from etcdtui.lab.api.errors import Obj, bad_request, status
from etcdtui.lab.objects import Gone, ObjectStore, WatchEvent

MAX_TIMEOUT = 1800.0  # the real server ends watches after its --min-request-timeout range; so do we
BOOKMARK_EVERY = 10.0


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def serve_watch(
    request: web.Request,
    store: ObjectStore,
    kind: str,
    matches: Callable[[Obj], bool],
    present: Callable[[Obj], Obj],
) -> web.StreamResponse:
    """`matches` applies namespace and selectors; `present` adds kind/apiVersion to an object."""
    query = request.query
    rv_text = query.get("resourceVersion", "")
    try:
        since = int(rv_text) if rv_text not in ("", "0") else None
    except ValueError:
        raise bad_request(f'invalid resource version "{rv_text}"') from None
    try:
        timeout = min(float(query.get("timeoutSeconds") or MAX_TIMEOUT), MAX_TIMEOUT)
    except ValueError:
        raise bad_request("timeoutSeconds must be a number") from None
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")

    queue = store.subscribe()  # before reading history, so no change falls between the two
    selection = _Selection(matches, present)
    try:
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        last_rv = store.resource_version
        current = store.list(kind)
        if since is None:
            for obj in current:
                if matches(obj):
                    selection.inside.add(_key(obj))
                    await resp.write(_line("ADDED", present(obj)))
        else:
            try:
                history = list(store.events_since(kind, since))
            except Gone as exc:
                await resp.write(_line("ERROR", status(410, str(exc), "Expired")))
                return resp
            last_rv = since
            # What matched at R is not kept; what matches now is the closest guess for objects the replay
            # does not create.
            created = {_key(ev.obj) for ev in history if ev.type == "ADDED"}
            selection.inside = {_key(o) for o in current if matches(o) and _key(o) not in created}
            for ev in history:
                last_rv = ev.rv
                line = selection.event(ev.type, ev.obj)
                if line:
                    await resp.write(line)
        await _follow(resp, queue, kind, last_rv, timeout, bookmarks, selection)
        return resp
    finally:
        store.unsubscribe(queue)


async def _follow(
    resp: web.StreamResponse,
    queue: asyncio.Queue[WatchEvent | None],
    kind: str,
    last_rv: int,
    duration: float,
    bookmarks: bool,
    selection: _Selection,
) -> None:
    deadline = time.monotonic() + duration
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            async with asyncio.timeout(min(remaining, BOOKMARK_EVERY)):
                ev = await queue.get()
        except TimeoutError:
            if bookmarks:
                marker = selection.present({"metadata": {"resourceVersion": str(last_rv)}})
                await resp.write(_line("BOOKMARK", marker))
            continue
        if ev is None:  # the store closed every watch
            return
        if ev.kind != kind or ev.rv <= last_rv:
            continue
        last_rv = ev.rv
        line = selection.event(ev.type, ev.obj)
        if line:
            await resp.write(line)


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta.get("name", "")


class _Selection:
    """Which objects the watcher currently sees, to turn selector entries/exits into ADDED/DELETED."""

    def __init__(self, matches: Callable[[Obj], bool], present: Callable[[Obj], Obj]) -> None:
        self.matches = matches
        self.present = present
        self.inside: set[tuple[str, str]] = set()

    def event(self, event_type: str, obj: Obj) -> bytes | None:
        key, was = _key(obj), _key(obj) in self.inside
        if event_type == "DELETED":
            self.inside.discard(key)
            return _line("DELETED", self.present(obj)) if was or self.matches(obj) else None
        if self.matches(obj):
            self.inside.add(key)
            return _line("MODIFIED" if was else "ADDED", self.present(obj))
        if was:
            self.inside.discard(key)
            return _line("DELETED", self.present(obj))
        return None
