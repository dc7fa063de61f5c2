"""The lab daemon's control API (aiohttp on the unix socket `control.sock`, 0600).

`GET /status`, `POST /kill {node}`, `POST /corrupt {node}`, `POST /api-outage {seconds}`,
`POST /load {seconds}`, `POST /shutdown`. Errors are `{"error": "<one line>"}` with 400 (bad input),
404 (unknown node) or 409/500 (the lab could not do it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from aiohttp import web

from etcdtui.lab.load import generate_load
from etcdtui.lab.ring import Ring
from etcdtui.lab.ring_member import RingError, UnknownNode

log = logging.getLogger(__name__)

LAB_KEY: web.AppKey[Any] = web.AppKey("lab", object)
MAX_OUTAGE = 3600.0
_background: set[asyncio.Task[Any]] = set()


class Lab(Protocol):
    """What the control API drives; `etcdtui.lab.daemon.Lab` is the one (no import back: no cycle)."""

    ring: Ring | None
    api: Any  # the fake API server (host, port, outage()) or None before it starts
    stopping: asyncio.Event

    def state(self) -> dict[str, Any]: ...

    def write_state(self) -> None: ...


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}', content_type="application/json")
    return data


def _lab(request: web.Request) -> Lab:
    return request.app[LAB_KEY]  # type: ignore[no-any-return]


async def status(request: web.Request) -> web.Response:
    lab = _lab(request)
    assert lab.ring is not None
    state = lab.state()
    state.pop("token", None)  # never hand out the token over the socket's status
    state["members_status"] = lab.ring.status()
    state["api_up"] = lab.api is not None and await _accepts(str(lab.api.host), int(lab.api.port))
    return web.json_response(state)


async def _accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def cancel_background() -> None:
    """Stop running outages and the like before the lab stops (an outage must not re-open the API later)."""
    for task in list(_background):
        task.cancel()
    await asyncio.gather(*_background, return_exceptions=True)


async def _node_action(request: web.Request, action: str) -> web.Response:
    lab = _lab(request)
    assert lab.ring is not None
    body = await _body(request)
    node = body.get("node")
    if not isinstance(node, str) or not node:
        return _error(400, "missing 'node'")
    try:
        if action == "kill":
            await lab.ring.kill(node)
            message = f"killed etcd on {node} (SIGKILL); it restarts with backoff"
        else:
            await lab.ring.corrupt(node)
            message = f"corrupted {node}: its data now diverges from its peers"
            if not any("corrupt-check-time" in f for f in lab.ring.corrupt_checks_flags()):
                message += (" (corruption checks are off: etcd raises no alarm; a restart with"
                            " --experimental-initial-corrupt-check=true fails its startup check)")
    except UnknownNode as exc:
        return _error(404, str(exc))
    except RingError as exc:
        return _error(409, str(exc))
    lab.write_state()
    return web.json_response({"ok": True, "message": message})


async def kill(request: web.Request) -> web.Response:
    return await _node_action(request, "kill")


async def corrupt(request: web.Request) -> web.Response:
    return await _node_action(request, "corrupt")


async def member_flags(request: web.Request) -> web.Response:
    """Restart one member with these extra etcd flags, like the kubelet after its static pod manifest changed
    (`lab incident 13766` raises --snapshot-count: the lab's 10 forces a commit every 10 entries)."""
    lab = _lab(request)
    assert lab.ring is not None
    body = await _body(request)
    node, flags = body.get("node"), body.get("flags")
    if not isinstance(node, str) or not node:
        return _error(400, "missing 'node'")
    if not isinstance(flags, list) or not all(isinstance(f, str) and f.startswith("--") for f in flags):
        return _error(400, "'flags' must be a list of --flag=value strings")
    try:
        await lab.ring.restart_with_flags(node, flags)
    except UnknownNode as exc:
        return _error(404, str(exc))
    except RingError as exc:
        return _error(409, str(exc))
    lab.write_state()
    return web.json_response({"ok": True, "message": f"etcd on {node} restarted with {' '.join(flags)}"})


def _seconds(body: dict[str, Any], default: float | None, maximum: float) -> float:
    value = body.get("seconds", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise web.HTTPBadRequest(
            text=f'{{"error": "seconds must be a number in (0, {maximum:.0f}]"}}', content_type="application/json"
        )
    return float(value)


async def api_outage(request: web.Request) -> web.Response:
    lab = _lab(request)
    seconds = _seconds(await _body(request), None, MAX_OUTAGE)
    if lab.api is None:
        return _error(409, "the lab has no API server")
    task = asyncio.create_task(lab.api.outage(seconds), name="api-outage")
    _background.add(task)
    task.add_done_callback(_background.discard)
    await asyncio.sleep(0.05)  # let the listener close before the CLI reports it
    return web.json_response({"ok": True, "message": f"API server refuses connections for {seconds:g} s"})


async def load(request: web.Request) -> web.Response:
    lab = _lab(request)
    assert lab.ring is not None
    seconds = _seconds(await _body(request), 5.0, 600.0)
    result = await generate_load(lab.ring, seconds)
    return web.json_response({"ok": True, **result})


async def fill_db(request: web.Request) -> web.Response:
    from etcdtui.lab.fill import MAX_MB, fill

    lab = _lab(request)
    assert lab.ring is not None
    body = await _body(request)
    nodes, mb = body.get("nodes"), body.get("mb")
    if isinstance(mb, bool) or not isinstance(mb, int) or not 0 < mb <= MAX_MB:
        return _error(400, f"mb must be a whole number in (0, {MAX_MB}]")
    if not nodes:
        nodes = [n for n in lab.ring.nodes if lab.ring.healthy(n)]
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        return _error(400, "nodes must be a list of node names")
    try:
        for node in nodes:
            lab.ring.validate_node(node)
    except UnknownNode as exc:
        return _error(404, str(exc))
    if not nodes:
        return _error(409, "no healthy member to write through")
    return web.json_response({"ok": True, **await fill(lab.ring, nodes, mb)})


async def shutdown(request: web.Request) -> web.Response:
    lab = _lab(request)
    # Answer first; the daemon then stops everything and exits.
    asyncio.get_running_loop().call_later(0.05, lab.stopping.set)
    return web.json_response({"ok": True, "message": "stopping"})


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("control API %s %s failed", request.method, request.path)
        with contextlib.suppress(Exception):
            return _error(500, f"{type(exc).__name__}: {exc}")
        raise


def build_control_app(lab: Lab) -> web.Application:
    app = web.Application(middlewares=[_json_errors], client_max_size=1024 * 1024)
    app[LAB_KEY] = lab
    app.router.add_get("/status", status)
    app.router.add_post("/kill", kill)
    app.router.add_post("/corrupt", corrupt)
    app.router.add_post("/api-outage", api_outage)
    app.router.add_post("/load", load)
    app.router.add_post("/fill", fill_db)
    app.router.add_post("/member-flags", member_flags)
    app.router.add_post("/shutdown", shutdown)
    return app
