"""Follow the log of one etcd pod through `kubernetes.aio`, without losing or repeating lines.

One `PodLogStream` per member:

1. **History.** The previous container's log (`previous=true`; HTTP 400 means there is none), then the
   current container with `follow=true&timestamps=true` from its first line. Bytes and lines read are
   counted (`history_bytes`, `history_lines`) until the stream catches up with "now"; `cancel_history()`
   skips the rest (a marker says so).
2. **Follow.** Lines are handed over in chunks (`sink.lines(member, lines, origin)`), never one at a time.
3. **Resume** after a dropped stream (stern's method): reconnect with `sinceTime` = the second of the last
   line, and skip every line older than the last one or equal to a line already seen at that timestamp.
   If the last line seen does not come back, lines between may be missing: a gap marker says so.
4. **Restarts.** The kubelet ends a follow when the container exits. The pod's `containerID` then tells a
   restart (inline marker, the new container's log from its first line) from a plain disconnect (resume).
   The old container's tail is read from `previous=true` (de-duplicated); if more than one restart happened
   while we were away, that container is gone: a gap marker says so.
5. **Same pod again** (a mirror pod deleted and re-created): `resume_from` continues without re-reading history.

Every request goes through `rawapi.get_raw` (the aiohttp response, read in chunks with `readany`).
Stream state per member: connecting, history, live, quiet, reconnecting, waiting, ended, error, with a reason.
The state, the sink and the container model are in `log_stream_model`, the resume bookkeeping in `log_resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error
from etcdtui.cluster.log_resume import Resume, ResumePoint, epoch_after, epoch_of, ts_prefix
from etcdtui.cluster.log_stream_model import (
    ContainerInfo,
    LogSink,
    Origin,
    StreamState,
    StreamStatus,
    container_info,
    exit_text,
    short_id,
)
from etcdtui.cluster.rawapi import get_raw

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 5.0
CAUGHT_UP_IDLE = 0.4  # no data for this long while reading history: caught up with "now"
MAX_LINE = 1 << 20  # a line longer than this is cut (and counted): a broken writer must not eat memory
FOLLOW_TIMEOUT = 24 * 3600.0  # aiohttp total timeout of one follow request


class PodLogStream:
    """Follows one pod's container log; `run()` until cancelled or the pod is gone."""

    def __init__(
        self,
        conn: ClusterConnection,
        namespace: str,
        pod: str,
        sink: LogSink,
        *,
        container: str | None = None,
        chunk_size: int = 1 << 16,
        clock: Callable[[], float] = time.monotonic,
        resume_from: ResumePoint | None = None,
    ) -> None:
        self.conn = conn
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.sink = sink
        self.status = StreamStatus(since=time.time())
        self._chunk_size = chunk_size
        self._clock = clock
        self._resume = Resume()
        self._history_cancel = asyncio.Event()
        self._container_changed = asyncio.Event()
        self._started_wall = time.time()
        self._following_id: str | None = None
        self._response: Any = None
        self._resume_from = resume_from
        if resume_from is not None:  # the same pod seen again (mirror pod re-created): no history re-read
            self._resume = resume_from.resume
            self.status.history_done = True

    @property
    def resume_point(self) -> ResumePoint:
        """Where this stream is: enough for a later stream of the same pod to continue without duplicates."""
        return ResumePoint(self._resume, self._following_id)

    # -- control ----------------------------------------------------------------------------------
    def cancel_history(self) -> None:
        """Stop reading history; the stream continues live from now (a marker says what was skipped)."""
        if not self.status.history_done:
            self._history_cancel.set()
            self._abort_response()

    def container_changed(self, container_id: str | None) -> None:
        """The pod watch saw a new containerID: end the current read and re-attach."""
        if container_id and self._following_id and container_id != self._following_id:
            self._container_changed.set()
            self._abort_response()

    def _abort_response(self) -> None:
        resp = self._response
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.close()

    # -- main loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a stream must report, never take the app down
            log.exception("log stream %s failed", self.pod)
            self._set(StreamState.ERROR, f"{type(exc).__name__}: {exc}".splitlines()[0])

    async def _run(self) -> None:
        info = await self._container_info_retrying()
        if info is None:
            return
        resume = False  # False: read the current container from its first line
        if self._resume_from is None:
            await self._read_previous(info)
        else:
            self._following_id = self._resume_from.container_id
            if info.container_id and self._following_id and info.container_id != self._following_id:
                await self._restarted(info)
            else:
                resume = self._resume.last_ts is not None
        delay = BACKOFF_MIN
        while True:
            self._container_changed.clear()
            self._following_id = self.status.container_id = info.container_id if info else None
            if not self.status.history_done:
                self._set(StreamState.HISTORY, "reading the current container's log")
            elif resume:
                self._set(StreamState.RECONNECTING, "resuming from the last line seen")
            else:
                self._set(StreamState.LIVE, "")
            try:
                outcome = await self._follow(resume)
                delay = BACKOFF_MIN
            except ClusterError as exc:
                outcome = "error"
                self._set(StreamState.ERROR if exc.lasting else StreamState.RECONNECTING, exc.message)
                self.status.reconnects += 1
                await asyncio.sleep(BACKOFF_MAX if exc.lasting else delay)
                delay = min(delay * 2, BACKOFF_MAX)
            if outcome == "history-cancelled":
                resume = True
                continue
            # The stream ended or failed: did the container restart, end, or did we just lose the stream?
            new = await self._next_container(outcome == "eof")
            if new is None:
                return
            if new.container_id and self._following_id and new.container_id != self._following_id:
                await self._restarted(new)
                info, resume = new, False
                continue
            info, resume = new, self._resume.last_ts is not None
            if outcome == "eof":
                await asyncio.sleep(BACKOFF_MIN)  # a server that ends follows at once must not make a busy loop

    async def _next_container(self, ended: bool) -> ContainerInfo | None:
        """After a stream ended: wait until the container runs again (same or new ID); None if the pod is gone."""
        delay = BACKOFF_MIN
        while True:
            new = await self._container_info_retrying()
            if new is None:
                return None
            if new.pod_gone:
                self._set(StreamState.ENDED, "the pod was deleted")
                self.sink.marker(self.pod, "ended", "pod deleted: stream ended", time.time())
                return None
            changed = bool(new.container_id and self._following_id and new.container_id != self._following_id)
            if changed or new.running or not ended:
                return new
            # Exited and not restarted yet (kubelet backoff): following now would only replay the old log.
            self._set(StreamState.WAITING, exit_text(new) or "container not running")
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _restarted(self, new: ContainerInfo) -> None:
        old = self._following_id
        if self._resume.last_ts is not None and new.previous_id == old:
            # The tail of the container we followed may have been written while we were away.
            await self._read_container(previous=True, origin=Origin.LIVE, since=self._resume.since_time(),
                                       dedupe=True, expect_overlap=self._resume.last_ts)
        elif self._resume.last_ts is not None:
            # More than one restart while we were away: the API keeps only the last terminated container.
            self.status.gaps += 1
            self.sink.marker(self.pod, "gap", f"container {short_id(old)} and any container between it and "
                             f"{short_id(new.container_id)} are no longer readable: lines after "
                             f"{self._resume.last_ts.decode()} may be missing", epoch_after(self._resume.last_ts))
        self.status.restarts_seen += 1
        reason = exit_text(new)
        # Placed right after the old container's last line, before the new container's first.
        last = epoch_of(self._resume.last_ts) if self._resume.last_ts else None
        self.sink.marker(self.pod, "restart",
                         f"container restarted{f' ({reason})' if reason else ''}: now {short_id(new.container_id)}",
                         last + 1e-6 if last is not None else None)
        self._resume = Resume()

    async def _read_previous(self, info: ContainerInfo) -> None:
        self._set(StreamState.HISTORY, "reading the previous container's log")
        found = await self._read_container(previous=True, origin=Origin.PREVIOUS, since=None, dedupe=False)
        self._resume = Resume()  # resuming is about the current container only
        if found:
            self.sink.marker(self.pod, "restart",
                             f"previous container ended{f' ({exit_text(info)})' if exit_text(info) else ''}; "
                             f"current container {short_id(info.container_id)}", None)

    async def _read_container(self, *, previous: bool, origin: Origin, since: str | None, dedupe: bool,
                              expect_overlap: bytes | None = None) -> bool:
        """One non-follow read; returns False when the API says there is no such container (400)."""
        query = [("timestamps", "true"), ("previous", "true" if previous else None), ("sinceTime", since),
                 ("container", self.container)]
        try:
            resp = await self._get(query, timeout_s=120.0)
        except ClusterError as exc:
            log.info("%s: %s", self.pod, exc.message)
            return False
        try:
            if resp.status == 400:
                return False
            if resp.status != 200:
                body = await resp.read()
                raise status_error(resp.status, self.conn.server, self._doing(), "get pods/log", _message(body))
            await self._pump(resp, origin, dedupe=dedupe, history=True, expect_overlap=expect_overlap)
            return True
        except ClusterError as exc:
            log.info("%s: %s", self.pod, exc.message)
            return False
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            log.info("%s: %s", self.pod, exc)
            return True
        finally:
            resp.release()

    async def _follow(self, resume: bool) -> str:
        """Follow the current container; returns "eof" (server ended it) or "history-cancelled"."""
        since = self._resume.since_time() if resume else None
        if self._history_cancel.is_set() and not self.status.history_done:
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = [("follow", "true"), ("timestamps", "true"), ("sinceTime", since), ("container", self.container)]
        self._started_wall = time.time()  # lines stamped after this are live, not history
        try:
            resp = await self._get(query, timeout_s=FOLLOW_TIMEOUT)
        except Exception as exc:
            raise self.conn.error(exc, self._doing(), "get pods/log") from None
        self._response = resp
        try:
            if resp.status == 400:
                body = await resp.read()
                self._set(StreamState.WAITING, _message(body) or "container not running")
                return "eof"
            if resp.status != 200:
                body = await resp.read()
                raise status_error(resp.status, self.conn.server, self._doing(), "get pods/log", _message(body))
            if self._history_cancel.is_set() and not self.status.history_done:
                self._history_skipped()
            if self.status.history_done:
                self._set(StreamState.LIVE, "")  # connected again; a gap marker follows if lines were lost
            expected = self._resume.last_ts if resume and not self.status.history_cancelled else None
            await self._pump(resp, Origin.HISTORY if not self.status.history_done else Origin.LIVE,
                             dedupe=resume, history=not self.status.history_done, expect_overlap=expected)
            return "eof"
        except (aiohttp_errors() + (OSError, asyncio.IncompleteReadError, TimeoutError)) as exc:
            if self._history_cancel.is_set() and not self.status.history_done:
                return "history-cancelled"
            if self._container_changed.is_set():
                return "eof"
            raise self.conn.error(exc, self._doing(), "get pods/log") from None
        finally:
            self._response = None
            resp.release()

    def _history_skipped(self) -> None:
        self.status.history_done = self.status.history_cancelled = True
        self.sink.marker(self.pod, "gap", "history skipped by the user: earlier lines of this container not read",
                         time.time())
        self.sink.history_done(self.pod)

    async def _pump(self, resp: Any, origin: Origin, *, dedupe: bool, history: bool,
                    expect_overlap: bytes | None = None) -> None:
        """Read the body in chunks, split lines, drop duplicates, hand them over in batches."""
        status = self.status
        partial = b""
        checking_overlap = expect_overlap is not None
        content = resp.content
        while True:
            if history and origin is Origin.HISTORY and not status.history_done:
                try:
                    data = await asyncio.wait_for(content.readany(), CAUGHT_UP_IDLE)
                except TimeoutError:
                    self._caught_up()
                    history = False
                    origin = Origin.LIVE
                    continue
            else:
                data = await content.readany()
            if not data:
                break
            data = partial + data
            cut = data.rfind(b"\n")
            if cut < 0:
                partial = data
                if len(partial) > MAX_LINE:
                    partial = partial[:MAX_LINE]
                    status.long_lines_cut += 1
                continue
            partial = data[cut + 1 :]
            lines = data[:cut].split(b"\n")
            if dedupe or checking_overlap:
                kept: list[bytes] = []
                for line in lines:
                    if checking_overlap and line in self._resume.at_last:
                        checking_overlap = False  # the last line we had came back: nothing was lost
                    if self._resume.is_duplicate(line):
                        status.duplicates_skipped += 1
                        continue
                    if checking_overlap:
                        checking_overlap = False
                        self._gap(line)
                    kept.append(line)
                lines = kept
            if not lines:
                continue
            resume = self._resume
            last = lines[-1]
            ts = ts_prefix(last)
            if ts is not None and ts != resume.last_ts:
                resume.last_ts, resume.at_last = ts, set()
            # Remember every line at the last timestamp (usually one or a few).
            if ts is not None:
                for line in reversed(lines):
                    if ts_prefix(line) != ts:
                        break
                    resume.at_last.add(line)
            nbytes = cut + 1
            status.bytes += nbytes
            status.lines += len(lines)
            status.last_line_at = self._clock()
            if history:
                status.history_bytes += nbytes
                status.history_lines += len(lines)
                if ts is not None and not status.history_done and origin is Origin.HISTORY:
                    epoch = epoch_of(ts)
                    if epoch is not None and epoch >= self._started_wall:
                        self.sink.lines(self.pod, lines, origin)
                        self._caught_up()
                        history, origin = False, Origin.LIVE
                        continue
            elif status.state is not StreamState.LIVE:
                self._set(StreamState.LIVE, "")
            self.sink.lines(self.pod, lines, origin)
        if partial:
            self.sink.lines(self.pod, [partial], origin)
            self._resume.seen(partial)

    def _caught_up(self) -> None:
        status = self.status
        if not status.history_done:
            status.history_done = True
            self.sink.history_done(self.pod)
        self._set(StreamState.LIVE, "")

    def _gap(self, first_new: bytes) -> None:
        self.status.gaps += 1
        last = self._resume.last_ts.decode() if self._resume.last_ts else "?"
        new = (ts_prefix(first_new) or b"?").decode()
        self.sink.marker(self.pod, "gap", f"lines between {last} and {new} may be missing (the log was not "
                         "readable back to the last line seen)", epoch_of(ts_prefix(first_new) or b""))

    async def _get(self, query: list[tuple[str, Any]], timeout_s: float) -> Any:
        return await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods/{name}/log",
                             {"namespace": self.namespace, "name": self.pod}, query, timeout_s)

    def _doing(self) -> str:
        return f"get pods/log {self.pod} in namespace {self.namespace}"

    # -- pod status -------------------------------------------------------------------------------
    async def _container_info_retrying(self) -> ContainerInfo | None:
        delay = BACKOFF_MIN
        while True:
            try:
                return await self.container_info()
            except ClusterError as exc:
                self._set(StreamState.ERROR if exc.lasting else StreamState.RECONNECTING, exc.message)
                await asyncio.sleep(BACKOFF_MAX if exc.lasting else delay)
                delay = min(delay * 2, BACKOFF_MAX)

    async def container_info(self) -> ContainerInfo:
        try:
            resp = await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods/{name}",
                                 {"namespace": self.namespace, "name": self.pod}, [], 10.0)
        except Exception as exc:
            raise self.conn.error(exc, f"get pod {self.pod}", "get pods") from None
        try:
            body = await resp.read()
            if resp.status == 404:
                return ContainerInfo(None, False, None, None, None, pod_gone=True)
            if resp.status != 200:
                raise status_error(resp.status, self.conn.server, f"get pod {self.pod}", "get pods", _message(body))
            pod = json.loads(body)
        except (ValueError, OSError) as exc:
            raise self.conn.error(exc, f"get pod {self.pod}", "get pods") from None
        finally:
            resp.release()
        return container_info(pod, self.container)

    def _set(self, state: StreamState, reason: str) -> None:
        status = self.status
        if status.state is state and status.reason == reason:
            return
        status.state, status.reason, status.since = state, reason, time.time()
        self.sink.state_changed(self.pod)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace").strip()
    message = data.get("message") if isinstance(data, dict) else None
    return " ".join(str(message).split())[:200] if message else ""


def aiohttp_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (aiohttp.ClientError,)
