"""Native `kubectl drain --ignore-daemonsets --delete-emptydir-data NODE`: the API calls and output lines of kubectl.

Semantics follow kubectl's `pkg/drain` (kubeone-procedure.md §3): cordon, list the node's pods, filter
(DaemonSet ignored, mirror skipped, emptyDir allowed, unmanaged refused), evict in parallel with a
retry every 5 s on 429, wait for each pod to be gone (404 or a new UID), then `node/<n> drained`.
Two deliberate differences: a failed cordon stops the drain (kubectl goes on evicting), and a transient
API error while waiting is retried until the overall timeout (an etcd incident often blips the API).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
DAEMONSET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"  # sic, kubectl
API_TIMEOUT = 15.0  # one request; the overall drain has its own limit
WAIT_POLL = 1.0  # kubectl polls every second for the pod to be gone
PROGRESS_LINE_EVERY = 10.0  # a "waiting for ..." line while pods are still going
MAX_LINES = 2000  # kept in DrainResult.lines; on_line still sees every line
MAX_PARALLEL_EVICTIONS = 32
LIST_CHUNK = 500
WAITING_PREFIX = "waiting for "  # progress lines (not kubectl's) start with this


@dataclass(frozen=True)
class DrainProgress:
    """What the drain is waiting for right now; sent to `on_progress` about once a second."""

    phase: str  # "cordon" | "list" | "evict" | "done"
    waiting_for: tuple[str, ...]  # ns/name of pods not yet gone
    elapsed: float


@dataclass
class DrainResult:
    node: str
    ok: bool
    error: str | None = None  # one line, set when ok is False
    evicted: list[str] = field(default_factory=list)  # ns/name, evicted and gone
    ignored: list[str] = field(default_factory=list)  # ns/name, DaemonSet-managed
    skipped: list[str] = field(default_factory=list)  # ns/name, mirror (static) pods
    refused: list[str] = field(default_factory=list)  # ns/name, pods that stopped the drain (unmanaged...)
    already_cordoned: bool = False
    elapsed: float = 0.0
    lines: list[str] = field(default_factory=list)  # the lines given to on_line, first MAX_LINES
    lines_dropped: int = 0


class _Stop(Exception):
    """Ends the drain with a one-line error (the lines kubectl prints are already out)."""


# -- API calls (the cheap ApiClient path, see rawapi.py) --------------------------------------------


async def _call(
    conn: ClusterConnection,
    method: str,
    path: str,
    path_params: dict[str, str],
    *,
    query: list[tuple[str, Any]] | None = None,
    body: Any = None,
    content_type: str | None = None,
    doing: str,
    needs: str = "",
) -> tuple[int, dict[str, Any]]:
    """One request; returns (status, decoded body or {}). Transport failures raise ClusterError."""
    api: Any = conn.api
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        params = await api.param_serialize(
            method=method,
            resource_path=path,
            path_params=path_params,
            query_params=list(query or []),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = cast(Any, await api.call_api(*params, _preload_content=False, _request_timeout=API_TIMEOUT))
        resp = response.response
        try:
            raw, status = await resp.read(), int(resp.status)
        finally:
            resp.release()
    except Exception as exc:  # noqa: BLE001 - every transport failure becomes one ClusterError line
        raise conn.error(exc, doing, needs) from None
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        decoded = {"message": raw.decode("utf-8", "replace").strip()}
    if not isinstance(decoded, dict):
        decoded = {}
    if status in (401, 403) and not _namespace_terminating(decoded):
        raise status_error(status, conn.server, doing, needs, _message(decoded))
    return status, decoded


def _message(body: dict[str, Any]) -> str:
    return str(body.get("message") or body.get("reason") or "").strip()


def _namespace_terminating(body: Any) -> bool:
    causes = ((body.get("details") or {}).get("causes") or []) if isinstance(body, dict) else []
    return any(isinstance(c, dict) and c.get("reason") == "NamespaceTerminating" for c in causes)


def _status_line(conn: ClusterConnection, status: int, body: dict[str, Any], doing: str) -> str:
    return status_error(status, conn.server, doing, "", _message(body)).message


# -- formatting like kubectl -----------------------------------------------------------------------


def _go_duration(seconds: float) -> str:
    """Go's time.Duration text for whole and fractional seconds: 5s, 1m30s, 5m0s."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}h{minutes}m" if hours else f"{minutes}m"
    return f"{head}{secs:g}s"


def _ref(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _controller(pod: dict[str, Any]) -> dict[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# -- the drain ---------------------------------------------------------------------------------------


class _Drain:
    def __init__(
        self,
        conn: ClusterConnection,
        node: str,
        on_line: Callable[[str], None],
        on_progress: Callable[[DrainProgress], None] | None,
        *,
        timeout: float,
        ignore_daemonsets: bool,
        delete_emptydir_data: bool,
        retry_interval: float,
    ) -> None:
        self.conn = conn
        self.node = node
        self._on_line = on_line
        self._on_progress = on_progress
        self.timeout = timeout
        self.ignore_daemonsets = ignore_daemonsets
        self.delete_emptydir_data = delete_emptydir_data
        self.retry_interval = retry_interval
        self.started = time.monotonic()
        self.result = DrainResult(node=node, ok=False)
        self.phase = "cordon"
        self.pending: dict[str, str] = {}  # ns/name -> what we wait for ("eviction" | "deletion")
        self._daemonsets: dict[str, tuple[int, dict[str, Any]]] = {}

    def line(self, text: str) -> None:
        if len(self.result.lines) < MAX_LINES:
            self.result.lines.append(text)
        else:
            self.result.lines_dropped += 1
        self._on_line(text)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(DrainProgress(self.phase, tuple(sorted(self.pending)), self.elapsed()))

    # -- steps -------------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.cordon()
        self.phase = "list"
        self.progress()
        pods = await self.list_pods()
        to_evict = await self.filter(pods)
        self.phase = "evict"
        await self.evict_all(to_evict)
        self.phase = "done"
        self.line(f"node/{self.node} drained")

    async def cordon(self) -> None:
        doing = f"get node {self.node}"
        status, obj = await _call(self.conn, "GET", "/api/v1/nodes/{name}", {"name": self.node},
                                  doing=doing, needs="get nodes")
        if status == 404:
            self.line(f'Error from server (NotFound): nodes "{self.node}" not found')
            raise _Stop(f'node "{self.node}" not found')
        if status != 200:
            raise _Stop(_status_line(self.conn, status, obj, doing))
        if (obj.get("spec") or {}).get("unschedulable"):
            self.result.already_cordoned = True
            self.line(f"node/{self.node} already cordoned")
            return
        doing = f"patch node {self.node}"
        status, obj = await _call(
            self.conn, "PATCH", "/api/v1/nodes/{name}", {"name": self.node},
            body={"spec": {"unschedulable": True}}, content_type="application/strategic-merge-patch+json",
            doing=doing, needs="patch nodes",
        )
        if status != 200:
            detail = _message(obj) or f"status {status}"
            self.line(f'error: unable to cordon node "{self.node}": {detail}')
            raise _Stop(f'unable to cordon node "{self.node}": {detail}')
        self.line(f"node/{self.node} cordoned")

    async def list_pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = []
        token: str | None = None
        doing = f"list pods on node {self.node} in all namespaces"
        while True:
            query: list[tuple[str, Any]] = [("fieldSelector", f"spec.nodeName={self.node}"), ("limit", LIST_CHUNK)]
            if token:
                query.append(("continue", token))
            status, body = await _call(self.conn, "GET", "/api/v1/pods", {}, query=query, doing=doing,
                                       needs="list pods")
            if status != 200:
                raise _Stop(_status_line(self.conn, status, body, doing))
            pods.extend(p for p in body.get("items") or [] if isinstance(p, dict))
            token = (body.get("metadata") or {}).get("continue") or None
            if not token:
                return pods

    async def filter(self, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """kubectl's filter chain; returns the pods to evict, or stops with kubectl's grouped errors."""
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        to_evict: list[dict[str, Any]] = []
        for pod in pods:
            verdict = await self._verdict(pod)
            kind, message = verdict
            if kind == "error":
                errors.setdefault(message, []).append(_ref(pod))
                self.result.refused.append(_ref(pod))
            elif kind == "ignore":
                warnings.setdefault(message, []).append(_ref(pod))
                self.result.ignored.append(_ref(pod))
            elif kind == "skip":
                self.result.skipped.append(_ref(pod))
            else:
                to_evict.append(pod)
        if errors:
            # kubectl 1.32's text (checked on the lab): "cannot delete <msg>: <pods>" per group, where the
            # unmanaged message already starts with "cannot delete"; several groups print as Go's aggregate.
            groups = [f"cannot delete {msg}: {', '.join(refs)}" for msg, refs in errors.items()]
            shown = groups[0] if len(groups) == 1 else f"[{', '.join(groups)}]"
            self.line(f'error: unable to drain node "{self.node}" due to error: {shown}, continuing command...')
            self.line("There are pending nodes to be drained:")
            self.line(f" {self.node}")
            for group in groups:
                self.line(group)
            raise _Stop("; ".join(g.replace("cannot delete cannot delete", "cannot delete") for g in groups))
        if warnings:
            self.line("Warning: " + "; ".join(f"{msg}: {', '.join(refs)}" for msg, refs in warnings.items()))
        return to_evict

    async def _verdict(self, pod: dict[str, Any]) -> tuple[str, str]:
        """("evict" | "ignore" | "skip" | "error", message) in kubectl's filter order."""
        meta = pod.get("metadata") or {}
        controller = _controller(pod)
        if controller is not None and controller.get("kind") == "DaemonSet" and str(
            controller.get("apiVersion", "")
        ).startswith("apps/"):
            if _terminal(pod):
                return "evict", ""
            key = f"{meta.get('namespace')}/{controller.get('name')}"
            if key not in self._daemonsets:  # one GET per DaemonSet, not per pod
                self._daemonsets[key] = await _call(
                    self.conn, "GET", "/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}",
                    {"namespace": str(meta.get("namespace", "")), "name": str(controller.get("name", ""))},
                    doing=f"get daemonset {key}", needs="get daemonsets",
                )
            status, body = self._daemonsets[key]
            if status != 200:
                return "error", _message(body) or f"status {status}"  # kubectl without --force: an error too
            if not self.ignore_daemonsets:
                return "error", DAEMONSET_FATAL
            return "ignore", DAEMONSET_WARNING
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            return "skip", ""
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if not _terminal(pod) and any(isinstance(v, dict) and "emptyDir" in v for v in volumes):
            if not self.delete_emptydir_data:
                return "error", LOCAL_STORAGE_FATAL
            # kubectl's "deleting Pods with local storage" warning is overwritten by the next filter.
        if controller is None and not _terminal(pod):
            return "error", UNMANAGED_FATAL
        return "evict", ""

    async def evict_all(self, pods: list[dict[str, Any]]) -> None:
        if not pods:
            return
        for pod in pods:
            self.pending[_ref(pod)] = "eviction"
        limit = asyncio.Semaphore(MAX_PARALLEL_EVICTIONS)
        failures: list[str] = []

        async def one(pod: dict[str, Any]) -> None:
            async with limit:
                error = await self.evict_one(pod)
            if error is not None:
                failures.append(error)

        ticker = asyncio.create_task(self._tick())
        try:
            await asyncio.gather(*(one(p) for p in pods))
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if failures:
            failures.sort()
            self._pending_report(failures)
            raise _Stop(failures[0] if len(failures) == 1 else f"{failures[0]} (and {len(failures) - 1} more)")

    def _pending_report(self, failures: list[str]) -> None:
        """kubectl's failure lines (1.32, checked on the lab): pods still there, the node left, each error."""
        err = failures[0] if len(failures) == 1 else f"[{', '.join(failures)}]"  # Go's error aggregate
        self.line(f'There are pending pods in node "{self.node}" when an error occurred: {err}')
        for ref in sorted(self.pending):
            self.line(f"pod/{ref.split('/', 1)[1]}")
        self.line(f'error: unable to drain node "{self.node}" due to error: {err}, continuing command...')
        self.line("There are pending nodes to be drained:")
        self.line(f" {self.node}")
        for failure in failures:
            self.line(failure)

    async def _tick(self) -> None:
        last_line = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            self.progress()
            if self.pending and time.monotonic() - last_line >= PROGRESS_LINE_EVERY:
                last_line = time.monotonic()
                shown = sorted(self.pending)
                more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
                self.line(f"{WAITING_PREFIX}{len(shown)} pod(s) to go: {', '.join(shown[:5])}{more} "
                          f"({self.elapsed():.0f}s elapsed)")

    async def evict_one(self, pod: dict[str, Any]) -> str | None:
        """Evict with kubectl's retries, then wait until the pod is gone; returns an error line or None."""
        meta = pod["metadata"]
        ns, name, uid = str(meta.get("namespace", "")), str(meta.get("name", "")), meta.get("uid")
        ref = f"{ns}/{name}"
        path_params = {"namespace": ns, "name": name}
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
        retry = _go_duration(self.retry_interval)
        while True:
            self.line(f"evicting pod {ref}")
            status, answer = await _call(
                self.conn, "POST", "/api/v1/namespaces/{namespace}/pods/{name}/eviction", path_params,
                body=body, doing=f"evict pod {ref}", needs="create pods/eviction",
            )
            if status in (200, 201):
                break
            if status == 404:
                self.pending.pop(ref, None)
                return None
            if status == 429 or (status == 403 and _namespace_terminating(answer)):
                what = (f'pods/"{name}" -n "{ns}"' if status == 429
                        else f'pod "{name}" from terminating namespace "{ns}"')
                self.line(f"error when evicting {what} (will retry after {retry}): {_message(answer)}")
                await asyncio.sleep(self.retry_interval)
                current = await self._get_pod(ns, name)
                if current is None or (uid and (current.get("metadata") or {}).get("uid") != uid):
                    self.pending.pop(ref, None)
                    return None
                continue
            # Not retried (a 500 for several budgets, for one); kubectl reports it with the others at the end.
            return f'error when evicting pods/"{name}" -n "{ns}": {_message(answer) or f"status {status}"}'
        self.pending[ref] = "deletion"
        while True:
            current = await self._get_pod(ns, name, tolerate=True)
            if current is None or (uid and (current.get("metadata") or {}).get("uid") != uid):
                self.pending.pop(ref, None)
                self.result.evicted.append(ref)
                self.line(f"pod/{name} evicted")
                return None
            await asyncio.sleep(WAIT_POLL)

    async def _get_pod(self, ns: str, name: str, *, tolerate: bool = False) -> dict[str, Any] | None:
        """The pod, or None when it is gone; `tolerate`: a transport error counts as "still there"."""
        doing = f"get pod {ns}/{name}"
        try:
            status, body = await _call(self.conn, "GET", "/api/v1/namespaces/{namespace}/pods/{name}",
                                       {"namespace": ns, "name": name}, doing=doing, needs="get pods")
        except ClusterError:
            if tolerate:
                return {"metadata": {}}  # unknown: keep waiting (uid None keeps it pending)
            raise
        if status == 404:
            return None
        if status != 200:
            if tolerate:
                return {"metadata": {}}
            raise _Stop(_status_line(self.conn, status, body, doing))
        return body


async def drain_node(
    conn: ClusterConnection,
    node: str,
    *,
    timeout: float = 300.0,  # noqa: ASYNC109 (the procedure's contract: an overall limit with its own message)
    on_line: Callable[[str], None],
    ignore_daemonsets: bool = True,
    delete_emptydir_data: bool = True,
    retry_interval: float = 5.0,
    on_progress: Callable[[DrainProgress], None] | None = None,
) -> DrainResult:
    """Cordon and drain `node`; never raises for cluster trouble (see `DrainResult.ok/error`).

    Idempotent: a drained node gives `already cordoned`, the DaemonSet warning and `drained`.
    Cancelling the task stops at once and leaves the node cordoned, like Ctrl+C on kubectl.
    """
    drain = _Drain(conn, node, on_line, on_progress, timeout=timeout, ignore_daemonsets=ignore_daemonsets,
                   delete_emptydir_data=delete_emptydir_data, retry_interval=retry_interval)
    result = drain.result
    try:
        async with asyncio.timeout(timeout):
            await drain.run()
        result.ok = True
    except TimeoutError:
        waiting = sorted(drain.pending)
        for ref in waiting:
            ns, name = ref.split("/", 1)
            drain.line(f'error when evicting pods/"{name}" -n "{ns}": global timeout reached: {_go_duration(timeout)}')
        still = f"; still waiting for {', '.join(waiting)}" if waiting else ""
        result.error = f"drain of node {node} did not finish within {_go_duration(timeout)} ({drain.phase}){still}"
    except _Stop as exc:
        result.error = str(exc)
    except ClusterError as exc:
        drain.line(f"error: {exc.message}")
        result.error = exc.message
    finally:
        result.elapsed = drain.elapsed()
        drain.phase = "done" if result.ok else drain.phase
        drain.progress()
    return result


async def uncordon_node(conn: ClusterConnection, node: str, *, on_line: Callable[[str], None] | None = None) -> bool:
    """`kubectl uncordon`: `node/<n> uncordoned` or `node/<n> already uncordoned`; returns True if it changed.

    Raises ClusterError when the node cannot be read or patched (one line).
    """
    say = on_line or (lambda _line: None)
    doing = f"get node {node}"
    status, obj = await _call(conn, "GET", "/api/v1/nodes/{name}", {"name": node}, doing=doing, needs="get nodes")
    if status != 200:
        raise status_error(status, conn.server, doing, "get nodes", _message(obj))
    if not (obj.get("spec") or {}).get("unschedulable"):
        say(f"node/{node} already uncordoned")
        return False
    doing = f"patch node {node}"
    status, obj = await _call(
        conn, "PATCH", "/api/v1/nodes/{name}", {"name": node}, body={"spec": {"unschedulable": None}},
        content_type="application/strategic-merge-patch+json", doing=doing, needs="patch nodes",
    )
    if status != 200:
        raise status_error(status, conn.server, doing, "patch nodes", _message(obj))
    say(f"node/{node} uncordoned")
    return True
