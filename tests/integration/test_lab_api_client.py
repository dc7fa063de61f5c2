"""The lab API server through the official async python client (`kubernetes.aio`) and raw HTTPS.

Real HTTPS on loopback with the lab CA and bearer token; exec runs the real etcdctl against a real etcd.
The store is filled by the test fixture (`_api_lab.py`) the way the ring fills it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from _api_lab import ApiLab, cri_line
from kubernetes.aio import client, config, watch
from kubernetes.aio.stream import WsApiClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiLab]:
    lab = ApiLab(tmp_path_factory.mktemp("api-lab"))
    yield lab
    lab.close()


@pytest.fixture
def fresh_lab(tmp_path: Path) -> Iterator[ApiLab]:
    """A lab of its own for tests that change objects (evictions, outages)."""
    lab = ApiLab(tmp_path, with_etcd=False, ready_delay=1.0)
    yield lab
    lab.close()


async def _api(lab: ApiLab) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(lab.kubeconfig), client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


@pytest.fixture
async def v1(lab: ApiLab) -> AsyncIterator[client.CoreV1Api]:
    api = await _api(lab)
    async with api:
        yield client.CoreV1Api(api)


def _ssl(lab: ApiLab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.pki.ca_cert))


async def _raw_get(lab: ApiLab, path: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(lab.url + path, headers=headers, ssl=_ssl(lab)) as resp:
            return resp.status, await resp.read()


# -- authentication and errors ---------------------------------------------------------------------
async def test_requests_without_the_token_get_the_real_401_status(lab: ApiLab) -> None:
    expected = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    for token in (None, "wrong-token"):
        code, body = await _raw_get(lab, "/api/v1/namespaces/kube-system/pods", token)
        assert code == 401
        assert json.loads(body) == expected
    code, _ = await _raw_get(lab, "/api/v1/namespaces/kube-system/pods", lab.token)
    assert code == 200


async def test_a_missing_pod_is_a_404_not_found_status(v1: client.CoreV1Api) -> None:
    with pytest.raises(client.ApiException) as info:
        await v1.read_namespaced_pod("etcd-lab-cp-9", "kube-system")
    assert info.value.status == 404
    body = json.loads(info.value.body)
    assert (body["reason"], body["message"]) == ("NotFound", 'pods "etcd-lab-cp-9" not found')


async def test_the_server_listens_on_the_given_address_only(lab: ApiLab) -> None:
    # 127.0.0.2 reaches this machine too: a server bound to 0.0.0.0 would answer there.
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.2", lab.server.port)


# -- list, selectors, watch ------------------------------------------------------------------------
async def test_list_pods_with_label_and_field_selectors(v1: client.CoreV1Api) -> None:
    etcd = await v1.list_namespaced_pod("kube-system", label_selector="component=etcd")
    assert [p.metadata.name for p in etcd.items] == ["etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"]
    assert int(etcd.metadata.resource_version) > 0
    assert {p.spec.node_name for p in etcd.items} == {"lab-cp-1", "lab-cp-2", "lab-cp-3"}
    on_node = await v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=lab-cp-3")
    assert on_node.items and {p.spec.node_name for p in on_node.items} == {"lab-cp-3"}
    one = await v1.list_namespaced_pod("kube-system", field_selector="metadata.name=etcd-lab-cp-2")
    assert [p.metadata.name for p in one.items] == ["etcd-lab-cp-2"]
    nodes = await v1.list_node(label_selector="node-role.kubernetes.io/control-plane")
    assert len(nodes.items) == 3


async def test_watch_sees_a_cordon_as_modified(v1: client.CoreV1Api, lab: ApiLab) -> None:
    listed = await v1.list_node()
    w = watch.Watch()
    events: list[tuple[str, str, bool]] = []

    async def collect() -> None:
        async for ev in w.stream(v1.list_node, resource_version=listed.metadata.resource_version,
                                 timeout_seconds=10):
            node = ev["object"]
            events.append((ev["type"], node.metadata.name, bool(node.spec.unschedulable)))
            if ev["type"] == "MODIFIED" and node.metadata.name == "lab-cp-3":
                w.stop()
                return

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.2)
    await v1.patch_node("lab-cp-3", {"spec": {"unschedulable": True}})
    try:
        await asyncio.wait_for(task, 10)
    finally:
        await v1.patch_node("lab-cp-3", {"spec": {"unschedulable": None}})
    assert ("MODIFIED", "lab-cp-3", True) in events


async def test_watch_with_a_selector_sees_objects_leave_and_enter_it(fresh_lab: ApiLab) -> None:
    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        listed = await v1.list_namespaced_pod("kube-system", label_selector="component=etcd")
        w = watch.Watch()
        seen: list[tuple[str, str]] = []

        async def collect() -> None:
            async for ev in w.stream(v1.list_namespaced_pod, "kube-system", label_selector="component=etcd",
                                     resource_version=listed.metadata.resource_version, timeout_seconds=10):
                seen.append((ev["type"], ev["object"].metadata.name))
                if len(seen) == 3:
                    w.stop()
                    return

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.2)
        await v1.patch_namespaced_pod("etcd-lab-cp-3", "kube-system", {"metadata": {"labels": {"component": "x"}}})
        await v1.patch_namespaced_pod("etcd-lab-cp-3", "kube-system", {"metadata": {"labels": {"tier": "y"}}})
        await v1.patch_namespaced_pod("etcd-lab-cp-3", "kube-system", {"metadata": {"labels": {"component": "etcd"}}})
        await v1.patch_namespaced_pod("etcd-lab-cp-2", "kube-system", {"metadata": {"labels": {"tier": "z"}}})
        await asyncio.wait_for(task, 10)
    assert seen == [("DELETED", "etcd-lab-cp-3"), ("ADDED", "etcd-lab-cp-3"), ("MODIFIED", "etcd-lab-cp-2")]


async def test_watch_from_a_too_old_resource_version_gets_410(fresh_lab: ApiLab) -> None:
    def churn() -> None:
        obj = fresh_lab.store.get("Node", "", "lab-cp-1")
        for i in range(2100):  # more changes than the store keeps for resuming watches
            obj["metadata"].setdefault("annotations", {})["churn"] = str(i)
            obj = fresh_lab.store.replace(obj)

    fresh_lab.call(churn)
    path = "/api/v1/nodes?watch=true&resourceVersion=1001&timeoutSeconds=5"
    code, body = await _raw_get(fresh_lab, path, fresh_lab.token)
    assert code == 200
    event = json.loads(body.splitlines()[0])
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 1001")

    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        with pytest.raises(client.ApiException) as info:
            async for _ in watch.Watch().stream(v1.list_node, resource_version="1001", timeout_seconds=5):
                pass
        assert info.value.status == 410


# -- logs ------------------------------------------------------------------------------------------
async def test_logs_options(v1: client.CoreV1Api) -> None:
    text = await v1.read_namespaced_pod_log("etcd-lab-cp-3", "kube-system")
    assert text.splitlines() == [f'{{"level":"info","msg":"line {i} of lab-cp-3"}}' for i in range(5)]
    tail = await v1.read_namespaced_pod_log("etcd-lab-cp-3", "kube-system", tail_lines=2, timestamps=True)
    lines = tail.splitlines()
    assert len(lines) == 2 and lines[1].endswith('"line 4 of lab-cp-3"}')
    assert lines[0].split(" ", 1)[0].endswith("Z")
    limited = await v1.read_namespaced_pod_log("etcd-lab-cp-3", "kube-system", limit_bytes=10)
    assert limited == text[:10]
    previous = await v1.read_namespaced_pod_log("etcd-lab-cp-1", "kube-system", previous=True)
    assert "previous run of lab-cp-1" in previous
    with pytest.raises(client.ApiException) as info:
        await v1.read_namespaced_pod_log("etcd-lab-cp-2", "kube-system", previous=True)
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == (
        'previous terminated container "etcd" in pod "etcd-lab-cp-2" not found'
    )
    with pytest.raises(client.ApiException) as info:
        await v1.read_namespaced_pod_log("etcd-lab-cp-2", "kube-system", container="nope")
    assert info.value.status == 400


async def test_logs_since_time_and_since_seconds(fresh_lab: ApiLab) -> None:
    from datetime import UTC, datetime, timedelta

    run = fresh_lab.store.runtimes[("kube-system", "etcd-lab-cp-2")].current
    assert run is not None
    old = datetime.now(UTC) - timedelta(hours=2)
    await asyncio.to_thread(Path(run.log_path).write_text, cri_line("old line", when=old) + cri_line("new line"))
    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        recent = await v1.read_namespaced_pod_log("etcd-lab-cp-2", "kube-system", since_seconds=60)
        assert recent == "new line\n"
        since = (old + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        raw = await _raw_get(fresh_lab, f"/api/v1/namespaces/kube-system/pods/etcd-lab-cp-2/log?sinceTime={since}",
                             fresh_lab.token)
        assert raw == (200, b"new line\n")


async def test_follow_streams_new_lines_and_ends_when_the_container_ends(fresh_lab: ApiLab) -> None:
    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        resp = await v1.read_namespaced_pod_log_without_preload_content(
            "etcd-lab-cp-2", "kube-system", follow=True, tail_lines=1
        )
        got = [await resp.content.readline()]
        fresh_lab.append_log("etcd-lab-cp-2", "fresh 1", "fresh 2")
        got += [await asyncio.wait_for(resp.content.readline(), 5) for _ in range(2)]
        assert got == [b'{"level":"info","msg":"line 4 of lab-cp-2"}\n', b"fresh 1\n", b"fresh 2\n"]
        started = time.monotonic()
        fresh_lab.end_run("etcd-lab-cp-2")
        assert await asyncio.wait_for(resp.content.read(), 5) == b""  # the response ends
        assert time.monotonic() - started < 2
        resp.close()


# -- exec ------------------------------------------------------------------------------------------
async def _exec_channels(lab: ApiLab, command: list[str]) -> dict[int, bytes]:
    """Runs `command` in etcd-lab-cp-1 through the python client's WebSocket exec; returns bytes per channel."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(lab.kubeconfig), client_configuration=cfg)
    channels: dict[int, bytes] = {}
    async with WsApiClient(configuration=cfg) as ws_api:
        v1 = client.CoreV1Api(api_client=ws_api)
        ws_ctx = await v1.connect_get_namespaced_pod_exec_without_preload_content(
            "etcd-lab-cp-1", "kube-system", command=command, stderr=True, stdin=False, stdout=True, tty=False
        )
        async with ws_ctx as ws:
            assert ws._response.headers["Sec-WebSocket-Protocol"] == "v4.channel.k8s.io"
            async for msg in ws:
                channels[msg.data[0]] = channels.get(msg.data[0], b"") + msg.data[1:]
    return channels


async def test_exec_runs_the_real_etcdctl_over_websocket(lab: ApiLab) -> None:
    channels = await _exec_channels(lab, ["etcdctl", "--endpoints=https://127.0.0.1:2379",
                                          "--cacert=/etc/kubernetes/pki/etcd/ca.crt", "endpoint", "status", "-w",
                                          "json"])
    status = json.loads(channels[1])
    assert status[0]["Status"]["version"] == "3.5.1"
    assert json.loads(channels[3]) == {"metadata": {}, "status": "Success"}


async def test_exec_reports_the_exit_code_on_the_error_channel(lab: ApiLab) -> None:
    channels = await _exec_channels(lab, ["etcdctl", "get", "--bogus"])
    assert b"unknown flag: --bogus" in channels[2]
    assert WsApiClient.parse_error_data(channels[3].decode()) == 1
    assert json.loads(channels[3])["reason"] == "NonZeroExitCode"


async def test_exec_of_a_missing_executable_says_what_the_runtime_says(lab: ApiLab) -> None:
    channels = await _exec_channels(lab, ["sh", "-c", "true"])
    error = json.loads(channels[3])
    assert error["status"] == "Failure"
    assert 'exec: "sh": executable file not found in $PATH' in error["message"]


async def test_exec_speaks_the_plain_channel_protocol_too(lab: ApiLab) -> None:
    """`channel.k8s.io` (v1): raw frames, no JSON status on success; spoken here with aiohttp directly."""
    url = (lab.url.replace("https://", "wss://") + "/api/v1/namespaces/kube-system/pods/etcd-lab-cp-1/exec"
           "?command=etcdctl&command=version&stdout=true&stderr=true")
    frames: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=("channel.k8s.io",), ssl=_ssl(lab),
                                      headers={"Authorization": f"Bearer {lab.token}"}) as ws:
            assert ws.protocol == "channel.k8s.io"
            frames = [msg.data async for msg in ws if msg.type == aiohttp.WSMsgType.BINARY]
    stdout = b"".join(f[1:] for f in frames if f[0] == 1)
    assert b"etcdctl version: 3.5.1" in stdout
    assert not any(f[0] == 3 for f in frames)


# -- update ------------------------------------------------------------------------------------------
async def test_replace_node_with_a_stale_resource_version_is_a_409_conflict(fresh_lab: ApiLab) -> None:
    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        node = await v1.read_node("lab-cp-2")
        node.spec.unschedulable = True
        saved = await v1.replace_node("lab-cp-2", node)
        assert saved.spec.unschedulable is True
        assert int(saved.metadata.resource_version) > int(node.metadata.resource_version)
        with pytest.raises(client.ApiException) as info:
            await v1.replace_node("lab-cp-2", node)  # still carries the old resourceVersion
        assert info.value.status == 409
        assert json.loads(info.value.body)["reason"] == "Conflict"


# -- eviction and the PodDisruptionBudget ------------------------------------------------------------
async def test_eviction_answers_429_while_the_budget_would_be_violated(fresh_lab: ApiLab) -> None:
    api = await _api(fresh_lab)
    async with api:
        v1 = client.CoreV1Api(api)
        fresh_lab.wait_for(lambda: len(fresh_lab.store.list("Pod", "default")) == 2)
        pods = [p.metadata.name for p in (await v1.list_namespaced_pod("default", label_selector="app=lab-cache")).items]
        first, second = sorted(pods)

        def evict(name: str) -> client.V1Eviction:
            return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace="default"))

        await v1.create_namespaced_pod_eviction(first, "default", evict(first))
        with pytest.raises(client.ApiException) as info:
            await v1.create_namespaced_pod_eviction(second, "default", evict(second))
        assert info.value.status == 429
        body = json.loads(info.value.body)
        assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
        assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"
        # The replacement turns Ready after ready_delay; then the budget allows the second eviction.
        deadline = time.monotonic() + 10
        while True:
            try:
                await v1.create_namespaced_pod_eviction(second, "default", evict(second))
                break
            except client.ApiException as exc:
                assert exc.status == 429 and time.monotonic() < deadline
                await asyncio.sleep(0.2)
        with pytest.raises(client.ApiException) as info:
            await v1.create_namespaced_pod_eviction(second, "default", evict(second))
        assert info.value.status == 404


# -- api-outage ------------------------------------------------------------------------------------
async def test_outage_refuses_connections_then_serves_the_same_state_on_the_same_port(fresh_lab: ApiLab) -> None:
    port = fresh_lab.server.port
    before = fresh_lab.call(lambda: fresh_lab.store.resource_version)
    outage = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(fresh_lab.server.outage(1.5), fresh_lab.loop))
    await asyncio.sleep(0.3)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    await asyncio.wait_for(outage, 10)
    assert fresh_lab.server.port == port
    code, body = await _raw_get(fresh_lab, "/api/v1/nodes", fresh_lab.token)
    assert code == 200
    assert int(json.loads(body)["metadata"]["resourceVersion"]) >= before
    assert len(json.loads(body)["items"]) == 3
