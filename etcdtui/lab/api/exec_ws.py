"""`pods/NAME/exec` over WebSocket with the Kubernetes channel protocols (v5, v4, v1 `channel.k8s.io`).

Every binary message starts with a channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error (v4/v5: a JSON
`Status`), 4 resize; v5 adds 255 "close" (the next byte names the stream the peer will not write again).
The command runs as an argv list (never a shell) after the pod's `exec_resolver` maps it to this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from asyncio.subprocess import PIPE, Process

from aiohttp import WSMsgType, web

from etcdtui.lab.api.errors import Obj, bad_request
from etcdtui.lab.objects import ExecRefused, ObjectStore

log = logging.getLogger("etcdtui.lab.api")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
READ_SIZE = 64 * 1024


def _go_argv(argv: list[str]) -> str:
    return "[" + " ".join(argv) + "]"


def exit_status(argv: list[str], code: int) -> Obj:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {_go_argv(argv)}, "
        f"exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _refused_status(message: str) -> Obj:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: error executing command in container: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": f"error executing command in container: {message}"}]},
        "code": 500,
    }


class ExecRequest:
    def __init__(self, request: web.Request, pod: Obj) -> None:
        q = request.query
        self.command = q.getall("command", [])
        if not self.command:
            raise bad_request("you must specify at least 1 command")
        name = pod["metadata"]["name"]
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        self.container = q.get("container") or (containers[0] if len(containers) == 1 else "")
        if not self.container:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
            )
        if self.container not in containers:
            raise bad_request(f"container {self.container} is not valid for pod {name}")
        flags = {k: q.get(k) in ("true", "1") for k in ("stdin", "stdout", "stderr", "tty")}
        self.stdin, self.stdout, self.stderr, self.tty = (flags[k] for k in ("stdin", "stdout", "stderr", "tty"))
        if not (self.stdin or self.stdout or self.stderr):
            raise bad_request("you must specify at least 1 of stdin, stdout, stderr")


async def serve_exec(request: web.Request, store: ObjectStore, pod: Obj) -> web.StreamResponse:
    meta = pod["metadata"]
    ns, name = meta.get("namespace", ""), meta["name"]
    spec = ExecRequest(request, pod)
    runtime = store.runtimes.get((ns, name))
    if runtime is None or runtime.current is None or runtime.current.done.is_set():
        raise bad_request(f'unable to upgrade connection: container not found ("{spec.container}")')
    if request.headers.get("Upgrade", "").lower() != "websocket":
        # kubectl would fall back to SPDY; the lab speaks only WebSocket, like a server with SPDY disabled.
        raise bad_request("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=16 << 20)
    await ws.prepare(request)
    structured = ws.ws_protocol in ("v4.channel.k8s.io", "v5.channel.k8s.io")
    try:
        if runtime.exec_resolver is None:
            raise ExecRefused(f'exec: "{spec.command[0]}": executable file not found in $PATH: unknown')
        argv, env = runtime.exec_resolver(list(spec.command))
        devnull = asyncio.subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=PIPE if spec.stdin else devnull, stdout=PIPE if spec.stdout else devnull,
            stderr=PIPE if spec.stderr or (spec.tty and spec.stdout) else devnull,
        )
    except (ExecRefused, OSError) as exc:
        await _send_error(ws, structured, _refused_status(str(exc)))
        return ws
    except Exception as exc:  # a resolver bug must still end the stream with a status, not a dead socket
        log.exception("exec resolver failed for %s/%s", ns, name)
        await _send_error(ws, structured, _refused_status(f"the lab could not run the command: {exc}"))
        return ws
    code = await _pump(ws, proc, spec)
    if code is not None:
        await _send_error(ws, structured, exit_status(list(spec.command), code))
    return ws


async def _send_error(ws: web.WebSocketResponse, structured: bool, body: Obj) -> None:
    if ws.closed:
        return
    if structured:
        payload = json.dumps(body, separators=(",", ":")).encode()
    else:
        payload = b"" if body.get("status") == "Success" else str(body.get("message", "")).encode()
    with contextlib.suppress(ConnectionError, RuntimeError):
        if payload:
            await ws.send_bytes(bytes([ERROR]) + payload)
        await ws.close()


async def _pump(ws: web.WebSocketResponse, proc: Process, spec: ExecRequest) -> int | None:
    """Streams output and input until the process exits; None if the client went away first."""
    # With a TTY there is no separate stderr: both streams show up on stdout, as in a terminal.
    streams = [(proc.stdout, STDOUT), (proc.stderr, STDOUT if spec.tty else STDERR)]
    outputs = [asyncio.create_task(_copy_out(ws, stream, ch)) for stream, ch in streams if stream is not None]
    reader = asyncio.create_task(_copy_in(ws, proc))
    outputs_done: asyncio.Future[list[None]] = asyncio.gather(*outputs)
    try:
        waiting: set[asyncio.Future[object]] = {outputs_done, reader}  # type: ignore[arg-type]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not outputs_done.done():  # the client closed the socket before the command ended
            return None
        return await proc.wait()
    finally:
        reader.cancel()
        outputs_done.cancel()
        # Collect every outcome so no exception is left unretrieved.
        await asyncio.gather(outputs_done, reader, return_exceptions=True)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def _copy_out(ws: web.WebSocketResponse, stream: asyncio.StreamReader, channel: int) -> None:
    prefix = bytes([channel])
    while chunk := await stream.read(READ_SIZE):
        if ws.closed:
            return
        await ws.send_bytes(prefix + chunk)


async def _copy_in(ws: web.WebSocketResponse, proc: Process) -> None:
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            # base64 channel protocols are not offered; text frames carry nothing we can use.
            continue
        if msg.type != WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if proc.stdin is None:
            continue
        with contextlib.suppress(ConnectionError):  # the command may have exited and closed its stdin
            if channel == STDIN:
                proc.stdin.write(data)
                await proc.stdin.drain()
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                proc.stdin.close()
    # Returning means the socket closed: the caller stops the command, its output has nowhere to go.

