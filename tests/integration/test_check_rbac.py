"""`etcdtui check` against an API server that denies by RBAC (403): the message names the missing permission.

The lab API server has no RBAC (every valid token may do everything), so no real part here can answer 403.
These tests therefore run a small real HTTP server (aiohttp, on a port from binding 0) that answers the
way the Kubernetes API server does for a denied request: status 403 with a `Status` body. The client side
(kubeconfig loading, the kubernetes.aio client, the engine, the CLI subprocess) is all real.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ETCD_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "etcd-cp-1", "namespace": "kube-system", "uid": "u1", "resourceVersion": "10",
                 "labels": {"component": "etcd"}},
    "spec": {"nodeName": "cp-1", "containers": [{
        "name": "etcd", "image": "registry.k8s.io/etcd:3.5.21-0",
        "command": ["etcd", "--name=cp-1", "--listen-client-urls=https://127.0.0.1:2379",
                    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
                    "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--key-file=/etc/kubernetes/pki/etcd/server.key"],
    }]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "podIP": "10.0.0.1",
               "containerStatuses": [{"name": "etcd", "ready": True, "restartCount": 0,
                                      "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
}


def forbidden(message: str) -> web.Response:
    return web.json_response(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": "Forbidden",
         "code": 403}, status=403)


async def pod_list(request: web.Request) -> web.StreamResponse:
    if request.query.get("watch") == "true":
        return web.Response(status=200, text="")  # an empty watch stream: the client re-watches
    return web.json_response({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "10"},
                              "items": [ETCD_POD]})


@pytest.fixture
async def server_factory(tmp_path: Path) -> AsyncIterator:  # type: ignore[type-arg]
    runners: list[web.AppRunner] = []

    async def start(routes: list[web.RouteDef]) -> Path:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "rbac-test",
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": "limited-user-token"}}],
            "contexts": [{"name": "rbac-test", "context": {"cluster": "c", "user": "u"}}],
        }))
        kubeconfig.chmod(0o600)
        return kubeconfig

    yield start
    for runner in runners:
        await runner.cleanup()


async def run_check(kubeconfig: Path) -> tuple[int, str, str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "etcdtui", "check", "--timeout", "15",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 45)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_403_on_pods_names_the_permission(server_factory) -> None:  # type: ignore[no-untyped-def]
    async def deny(request: web.Request) -> web.Response:
        return forbidden('pods is forbidden: User "limited" cannot list resource "pods" in API group "" '
                         'in the namespace "kube-system"')

    kubeconfig = await server_factory([web.get("/api/v1/namespaces/kube-system/pods", deny),
                                       web.get("/api/v1/nodes", deny)])
    rc, out, err = await run_check(kubeconfig)
    assert rc == 3, (out, err)
    assert err.strip().splitlines() == [
        "etcdtui check: could not check: 403 Forbidden: cannot list pods in namespace kube-system "
        "(RBAC: needs list/watch pods)"
    ]
    assert "Traceback" not in err and "limited-user-token" not in err


async def test_403_on_exec_names_pods_exec(server_factory) -> None:  # type: ignore[no-untyped-def]
    exec_calls = 0

    async def deny_exec(request: web.Request) -> web.Response:
        nonlocal exec_calls
        exec_calls += 1
        assert request.query.getall("command")[0] == "etcdctl"  # argv as repeated command=, no shell
        return forbidden('pods "etcd-cp-1" is forbidden: User "limited" cannot create resource "pods/exec"')

    async def no_nodes(request: web.Request) -> web.Response:
        return web.json_response({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "10"},
                                  "items": []})

    kubeconfig = await server_factory([
        web.get("/api/v1/namespaces/kube-system/pods", pod_list),
        web.get("/api/v1/nodes", no_nodes),
        web.get("/api/v1/namespaces/kube-system/pods/etcd-cp-1/exec", deny_exec),
    ])
    rc, out, err = await run_check(kubeconfig)
    assert rc == 3, (out, err)
    assert exec_calls >= 1
    assert "etcd-cp-1" in out  # the pod-level data is still shown
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "RBAC: needs create pods/exec" in lines[0], err
