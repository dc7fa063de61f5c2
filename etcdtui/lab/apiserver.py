"""The lab's Kubernetes-compatible HTTPS API server (aiohttp), serving the `ObjectStore`.

HTTPS with the lab CA's certificate on the given host only; every request needs `Authorization: Bearer
<token>` (401 `Status` otherwise); the service-account token of `api/rbac.py` is held to its rules (403). `outage(seconds)` closes the listener and every connection, refuses
connections for that long, then listens again on the same port with the same state.
The routes live in `etcdtui.lab.api`: discovery, resources (+ watch, tables, patch), logs, exec, eviction,
and the small controllers of the lab's ordinary workloads.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from etcdtui.lab.api import discovery
from etcdtui.lab.api.errors import UNAUTHORIZED, ApiError, json_response, status
from etcdtui.lab.api.rbac import ServiceAccount
from etcdtui.lab.api.routes import ResourceRoutes
from etcdtui.lab.api.workloads import Workloads
from etcdtui.lab.objects import Conflict, ObjectStore

log = logging.getLogger("etcdtui.lab.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiServer:
    def __init__(
        self, store: ObjectStore, *, host: str, port: int, token: str, ssl_context: ssl.SSLContext,
        workloads: Workloads | None, service_account: ServiceAccount | None = None,
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._token = token.encode()
        self._service_account = service_account  # a second identity, held to its RBAC rules
        self._ssl = ssl_context
        self.workloads = workloads
        self._runner: web.AppRunner | None = None
        self._requests: set[asyncio.Task[Any]] = set()
        self._outage: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def listen(self) -> None:
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        server = cast(asyncio.Server | None, site._server)  # the only place that knows the port bound for port 0
        if self.port == 0 and server is not None:
            self.port = int(server.sockets[0].getsockname()[1])
        self._runner = runner

    async def _close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.store.close_watches()
        for task in list(self._requests):
            task.cancel()
        await runner.cleanup()

    async def stop(self) -> None:
        if self._outage is not None:
            self._outage.cancel()
        await self._close()
        if self.workloads is not None:
            await self.workloads.stop()

    async def outage(self, seconds: float) -> None:
        """Refuse connections for `seconds`, then serve again on the same port with the same state."""
        await self._close()
        try:
            await asyncio.sleep(seconds)
        finally:
            if self._runner is None:
                await self.listen()

    # -- app -----------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=4 << 20)
        discovery.add_routes(app)
        for path in ("/healthz", "/livez", "/readyz"):
            app.router.add_get(path, _ok)
        ResourceRoutes(self.store, self.workloads).add_to(app)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        token = presented.strip().encode()
        sa = self._service_account
        if scheme.lower() != "bearer":
            return json_response(UNAUTHORIZED, 401)
        if not hmac.compare_digest(token, self._token):
            if sa is None or not hmac.compare_digest(token, sa.token.encode()):
                return json_response(UNAUTHORIZED, 401)
            denied = sa.check(request.method, request.path, request.query)
            if denied is not None:
                return denied.response()
        task = asyncio.current_task()
        if task is not None:
            self._requests.add(task)
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except Conflict as exc:
            return json_response(status(409, str(exc), "AlreadyExists"), 409)
        except web.HTTPNotFound:
            return web.Response(status=404, text="404 page not found\n")  # the real server's body
        except web.HTTPException:
            raise
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return json_response(status(500, "Internal error occurred: the lab API server failed"), 500)
        finally:
            if task is not None:
                self._requests.discard(task)


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


def server_ssl_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def start_api_server(
    store: ObjectStore,
    *,
    host: str,
    port: int,
    token: str,
    cert_file: Path,
    key_file: Path,
    workloads: bool = True,
    workload_node: str | None = "lab-cp-2",
    ready_delay: float = 4.0,
    service_account: ServiceAccount | None = None,
) -> ApiServer:
    """Start serving; `workloads` seeds the DaemonSet/Deployment/PDB and runs their controllers."""
    controllers = Workloads(store, workload_node=workload_node, ready_delay=ready_delay) if workloads else None
    server = ApiServer(
        store, host=host, port=port, token=token, ssl_context=server_ssl_context(cert_file, key_file),
        workloads=controllers, service_account=service_account,
    )
    await server.listen()
    if controllers is not None:
        controllers.start()
    return server


__all__ = ["ApiServer", "start_api_server"]
