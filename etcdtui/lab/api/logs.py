"""`GET .../pods/NAME/log`: serve a container run's CRI log file like the kubelet does.

CRI lines are `<RFC3339Nano> <stream> <P|F> <text>`. History is read in large chunks off the event loop;
`follow` tails the file every POLL seconds until the run's `done` event is set, then ends the response, as
the kubelet does when the container exits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from etcdtui.lab.api.errors import ApiError, Obj, bad_request
from etcdtui.lab.objects import ContainerRun, ObjectStore

CHUNK = 1 << 20
POLL = 0.1


class LogQuery:
    def __init__(self, request: web.Request) -> None:
        q = request.query
        self.container = q.get("container", "")
        self.follow = _flag(q.get("follow"))
        self.timestamps = _flag(q.get("timestamps"))
        self.previous = _flag(q.get("previous"))
        self.tail = _int(q, "tailLines")
        self.limit_bytes = _int(q, "limitBytes")
        since_seconds = _int(q, "sinceSeconds")
        self.since: datetime | None = None
        if since_seconds is not None:
            if since_seconds < 1:
                raise ApiError(422, "PodLogOptions.meta.k8s.io \"\" is invalid: sinceSeconds: Invalid value: "
                               f"{since_seconds}: must be greater than 0", "Invalid")
            self.since = datetime.now(UTC) - timedelta(seconds=since_seconds)
        if "sinceTime" in q:
            if since_seconds is not None:
                raise ApiError(422, "PodLogOptions \"\" is invalid: : Forbidden: at most one of `sinceTime` or "
                               "`sinceSeconds` may be specified", "Invalid")
            self.since = parse_time(q["sinceTime"])
            if self.since is None:
                raise bad_request(f'parsing time "{q["sinceTime"]}" as RFC3339 failed')


def _flag(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _int(q: Mapping[str, str], key: str) -> int | None:
    raw = q.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f'{key}: invalid value "{raw}"') from None


def parse_time(text: str) -> datetime | None:
    """RFC3339 with up to nanoseconds (Python keeps microseconds)."""
    try:
        text = text.strip().replace("Z", "+00:00")
        if "." in text:
            head, rest = text.split(".", 1)
            digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        return None


def pick_run(store: ObjectStore, pod: Obj, query: LogQuery) -> ContainerRun | None:
    """The run to serve, or an ApiError with the kubelet's wording. None means an empty log."""
    meta = pod["metadata"]
    ns, name = meta.get("namespace", ""), meta["name"]
    containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
    container = query.container
    if not container:
        if len(containers) > 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
        container = containers[0] if containers else ""
    elif container not in containers:
        raise bad_request(f"container {container} is not valid for pod {name}")
    runtime = store.runtimes.get((ns, name))
    if query.previous:
        if runtime is None or runtime.previous is None:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return runtime.previous
    if runtime is None:
        phase = pod.get("status", {}).get("phase")
        if phase == "Pending":
            raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        return None
    if runtime.current is None:
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    return runtime.current


class LineFilter:
    """Turns raw CRI bytes into what the client asked for: prefix stripped or `<ts> <text>`, since, limit."""

    def __init__(self, query: LogQuery) -> None:
        self.timestamps = query.timestamps
        self.since = query.since
        self.remaining = query.limit_bytes
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        return self._render(data[:cut])

    def flush(self) -> bytes:
        rest, self._partial = self._partial, b""
        return self._render(rest + b"\n") if rest else b""

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def _render(self, block: bytes) -> bytes:
        out: list[bytes] = []
        for line in block.splitlines():
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            ts, text = parts[0], parts[3] if len(parts) == 4 else b""
            if self.since is not None:
                when = parse_time(ts.decode(errors="replace"))
                if when is not None and when < self.since:
                    continue
            # "P" marks a partial line the runtime split; the kubelet joins it with the next one.
            end = b"" if parts[2] == b"P" else b"\n"
            out.append((ts + b" " + text if self.timestamps else text) + end)
        rendered = b"".join(out)
        if self.remaining is not None:
            rendered = rendered[: max(self.remaining, 0)]
            self.remaining -= len(rendered)
        return rendered


def _read_from(path: Path, offset: int, size: int) -> bytes:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(size)
    except FileNotFoundError:
        return b""


def tail_offset(path: Path, lines: int) -> int:
    """Byte offset where the last `lines` lines of the file start, reading backwards in chunks."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if lines <= 0:
        return size
    with path.open("rb") as fh:
        pos, seen = size, 0
        # A trailing newline ends the last line; it does not start another one.
        fh.seek(max(size - 1, 0))
        skip_last = fh.read(1) == b"\n"
        while pos > 0:
            step = min(CHUNK, pos)
            pos -= step
            fh.seek(pos)
            block = fh.read(step)
            end = len(block) - 1 if (skip_last and pos + step == size) else len(block)
            idx = end
            while True:
                idx = block.rfind(b"\n", 0, idx)
                if idx < 0:
                    break
                seen += 1
                if seen == lines:
                    return pos + idx + 1
    return 0


async def stream_log(request: web.Request, run: ContainerRun | None, query: LogQuery) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    if run is None:
        await resp.write_eof()
        return resp
    path = Path(run.log_path)
    offset = 0
    if query.tail is not None:
        offset = await asyncio.to_thread(tail_offset, path, query.tail)
    filt = LineFilter(query)
    while not filt.exhausted:
        data = await asyncio.to_thread(_read_from, path, offset, CHUNK)
        if data:
            offset += len(data)
            out = filt.feed(data)
            if out:
                await resp.write(out)
            continue
        if not query.follow:
            break
        if run.done.is_set():
            # The run has ended: whatever was written before `done` is in the file; read it once more.
            tail = await asyncio.to_thread(_read_from, path, offset, CHUNK)
            if not tail:
                break
            offset += len(tail)
            await resp.write(filt.feed(tail))
            continue
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(POLL):
                await run.done.wait()
    if not filt.exhausted:
        rest = filt.flush()
        if rest:
            await resp.write(rest)
    await resp.write_eof()
    return resp
