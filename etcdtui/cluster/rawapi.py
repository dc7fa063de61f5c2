"""The few Kubernetes API calls etcdtui makes, through `ApiClient.param_serialize` + `call_api` directly.

Why not `CoreV1Api`: importing `kubernetes.aio.client.api.core_v1_api` builds pydantic validators for
hundreds of methods and takes about a second of CPU, on the event loop, at the first call (measured:
first pod list 1.05–1.5 s vs 7 ms for the request itself). The ApiClient path below is what the
generated methods do internally (same auth, TLS, headers), minus that import.
"""

from __future__ import annotations

from typing import Any, cast

Query = list[tuple[str, Any]]


async def get_raw(api: Any, path: str, path_params: dict[str, str], query: Query, timeout_s: float) -> Any:
    """GET `path`; returns the aiohttp ClientResponse unread (the caller checks status, reads, releases)."""
    params = await api.param_serialize(
        method="GET",
        resource_path=path,
        path_params=path_params,
        query_params=[(k, v) for k, v in query if v is not None],
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = await api.call_api(*params, _preload_content=False, _request_timeout=timeout_s)
    return cast(Any, response).response


async def exec_connect(ws_api: Any, namespace: str, pod: str, argv: list[str], container: str | None) -> Any:
    """Open the pods/exec WebSocket (the `ws_connect` context manager); argv goes as repeated `command=`."""
    query: Query = [("command", argv)]
    if container:
        query.append(("container", container))
    query += [("stderr", True), ("stdin", False), ("stdout", True), ("tty", False)]
    params = await ws_api.param_serialize(
        method="GET",
        resource_path="/api/v1/namespaces/{namespace}/pods/{name}/exec",
        path_params={"namespace": namespace, "name": pod},
        query_params=query,
        header_params={"Accept": "*/*"},
        auth_settings=["BearerToken"],
        collection_formats={"command": "multi"},
    )
    response = await ws_api.call_api(*params, _preload_content=False)
    return cast(Any, response).response
