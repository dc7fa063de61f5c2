"""The lab's Kubernetes object store: the single source of truth the lab API server serves.

Objects are plain dicts shaped exactly like the Kubernetes JSON (apiVersion, kind, metadata, spec, status).
Every change bumps one global resourceVersion and is recorded as a watch event; watchers subscribe with a
resourceVersion and get 410 Gone (`TooOldResourceVersion`) when it is older than the retained history,
like the real API server. The ring, the ssh nodes and the API server all change objects only through here.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace or "", name)

HISTORY = 2000  # watch events kept for resuming; older resourceVersions get 410 Gone


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Gone(Exception):
    """The requested resourceVersion is older than the retained history (HTTP 410)."""


class Conflict(Exception):
    """The object already exists (HTTP 409)."""


class NotFound(Exception):
    """No such object (HTTP 404)."""


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    kind: str
    obj: Obj
    rv: int


@dataclass
class ContainerRun:
    """One run of a container: its log file (CRI format lines) and how it ended.

    Log lines are written as `<RFC3339Nano timestamp> <stream> F <text>`, like the kubelet's CRI log files,
    so the API server can serve `timestamps=true`, `sinceTime` and `sinceSeconds` from the file alone.
    """

    container_id: str
    log_path: Path
    started_at: str
    finished_at: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class PodRuntime:
    """What the lab's "kubelet" knows about a pod beyond its object: container runs and exec."""

    current: ContainerRun | None = None
    previous: ContainerRun | None = None
    # argv as given to pods/exec -> (argv to run on this machine, env); raises ExecRefused.
    exec_resolver: Callable[[list[str]], tuple[list[str], dict[str, str]]] | None = None


class ExecRefused(Exception):
    """The command cannot run in this container (message is what the container runtime would say)."""


class ObjectStore:
    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        self._rv = itertools.count(1000)
        self.resource_version = next(self._rv)
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue[WatchEvent | None]] = set()
        self.runtimes: dict[tuple[str, str], PodRuntime] = {}  # (namespace, pod name) -> runtime

    # -- reading -----------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> Obj:
        try:
            return copy.deepcopy(self._objects[(kind, namespace, name)])
        except KeyError:
            raise NotFound(f'{kind.lower()}s "{name}" not found') from None

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        obj = self._objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self._objects.items())
            if k == kind and (namespace is None or ns == namespace)
        ]

    # -- writing -----------------------------------------------------------------------------------
    def create(self, obj: Obj) -> Obj:
        key = self._key(obj)
        if key in self._objects:
            raise Conflict(f'{key[0].lower()}s "{key[2]}" already exists')
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", _uid())
        meta.setdefault("creationTimestamp", now_rfc3339())
        return self._put(key, obj, "ADDED")

    def replace(self, obj: Obj) -> Obj:
        key = self._key(obj)
        if key not in self._objects:
            raise NotFound(f'{key[0].lower()}s "{key[2]}" not found')
        return self._put(key, obj, "MODIFIED")

    def update(self, kind: str, namespace: str, name: str, mutate: Callable[[Obj], None]) -> Obj:
        obj = self.get(kind, namespace, name)
        mutate(obj)
        return self.replace(obj)

    def delete(self, kind: str, namespace: str, name: str) -> Obj:
        key = (kind, namespace, name)
        obj = self._objects.pop(key, None)
        if obj is None:
            raise NotFound(f'{kind.lower()}s "{name}" not found')
        obj = copy.deepcopy(obj)
        rv = next(self._rv)
        self.resource_version = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        self._emit(WatchEvent("DELETED", kind, obj, rv))
        return obj

    # -- watching ----------------------------------------------------------------------------------
    def events_since(self, kind: str, rv: int) -> Iterator[WatchEvent]:
        """Events of `kind` after `rv`; raises Gone when history no longer reaches back that far."""
        if self._history and rv < self._history[0].rv - 1 and rv < self.resource_version:
            raise Gone(f"too old resource version: {rv} ({self._history[0].rv - 1})")
        return (ev for ev in list(self._history) if ev.kind == kind and ev.rv > rv)

    def subscribe(self) -> asyncio.Queue[WatchEvent | None]:
        queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue(maxsize=10000)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent | None]) -> None:
        self._subscribers.discard(queue)

    def close_watches(self) -> None:
        """End every open watch (the API server is going away, e.g. an api-outage)."""
        for queue in list(self._subscribers):
            _offer(queue, None)

    # -- internals ---------------------------------------------------------------------------------
    @staticmethod
    def _key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return (obj["kind"], meta.get("namespace", ""), meta["name"])

    def _put(self, key: Key, obj: Obj, event_type: str) -> Obj:
        obj = copy.deepcopy(obj)
        rv = next(self._rv)
        self.resource_version = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        self._objects[key] = obj
        self._emit(WatchEvent(event_type, key[0], copy.deepcopy(obj), rv))
        return copy.deepcopy(obj)

    def _emit(self, event: WatchEvent) -> None:
        self._history.append(event)
        for queue in list(self._subscribers):
            _offer(queue, event)


def _offer(queue: asyncio.Queue[WatchEvent | None], item: WatchEvent | None) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        # A watcher that cannot keep up is cut off, as the real API server does; it re-lists.
        queue._queue.clear()  # type: ignore[attr-defined]
        queue.put_nowait(None)


_uid_counter = itertools.count(1)


def _uid() -> str:
    import uuid

    return str(uuid.uuid4())


def match_labels(selector: str, labels: dict[str, str]) -> bool:
    """Equality-based label selectors (`a=b,c!=d,e`, `!f`), as used by kubectl and etcdtui."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "==" in term or "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def match_fields(selector: str, obj: Obj) -> bool:
    """Field selectors on dotted paths (`spec.nodeName=x`, `metadata.name!=y`, `status.phase=Running`)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        path, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        cur: Any = obj
        for part in path.strip().split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        actual = "" if cur is None else str(cur)
        if (actual == value.strip()) == negate:
            return False
    return True
