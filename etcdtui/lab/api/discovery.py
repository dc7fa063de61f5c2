"""Discovery documents (`/version`, `/api`, `/apis`, group versions) for kubectl and the python client.

kubectl 1.32 first asks for aggregated discovery (`as=APIGroupDiscoveryList`); answering with the legacy
documents and `Content-Type: application/json` makes client-go fall back to legacy discovery, as it does
against API servers older than 1.26.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from etcdtui.lab.api.errors import Obj, json_response

# kubectl 1.30+ runs exec over WebSocket by default; older ones need SPDY, which the lab does not speak. gcloud's
# kubectl dispatcher (/usr/bin/kubectl on these machines) picks the kubectl minor matching this version.
GIT_VERSION = "v1.32.4"


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"


READ = ("get", "list", "watch")
RESOURCES: tuple[Resource, ...] = (
    Resource("", "namespaces", "Namespace", False, READ, ("ns",)),
    Resource("", "events", "Event", True, READ, ("ev",)),  # none are recorded; listed so kubectl finds the type
    Resource("", "nodes", "Node", False, (*READ, "patch", "update", "delete"), ("no",)),
    Resource("", "pods", "Pod", True, (*READ, "patch", "update", "delete"), ("po",)),
    Resource("apps", "daemonsets", "DaemonSet", True, READ, ("ds",)),
    Resource("apps", "deployments", "Deployment", True, READ, ("deploy",)),
    Resource("apps", "replicasets", "ReplicaSet", True, READ, ("rs",)),
    Resource("policy", "poddisruptionbudgets", "PodDisruptionBudget", True, READ, ("pdb",)),
    Resource("batch", "cronjobs", "CronJob", True, READ, ("cj",)),  # KubeOne's backups-restic, when a test adds it
)
SUBRESOURCES: dict[str, tuple[Obj, ...]] = {
    "v1": (
        {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions", "verbs": ["create", "get"]},
        {
            "name": "pods/eviction",
            "singularName": "",
            "namespaced": True,
            "group": "policy",
            "version": "v1",
            "kind": "Eviction",
            "verbs": ["create"],
        },
    ),
}
GROUPS = ("apps", "policy", "batch")


def resource_for(group: str, plural: str) -> Resource | None:
    for res in RESOURCES:
        if res.group == group and res.plural == plural:
            return res
    return None


def _resource_list(group_version: str) -> Obj:
    resources: list[Obj] = []
    for res in RESOURCES:
        if res.group_version != group_version:
            continue
        entry: Obj = {
            "name": res.plural,
            "singularName": res.kind.lower(),
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        resources.append(entry)
    resources.extend(SUBRESOURCES.get(group_version, ()))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _group(name: str) -> Obj:
    gv = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


async def version(_: web.Request) -> web.Response:
    major, minor = GIT_VERSION.lstrip("v").split(".")[:2]
    return json_response(
        {
            "major": major,
            "minor": minor,
            "gitVersion": GIT_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-02-12T21:24:24Z",
            "goVersion": "go1.22.12",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    )


async def core_versions(request: web.Request) -> web.Response:
    host = request.host
    return json_response(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }
    )


async def core_v1(_: web.Request) -> web.Response:
    return json_response(_resource_list("v1"))


async def groups(_: web.Request) -> web.Response:
    return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in GROUPS]})


async def group(request: web.Request) -> web.Response:
    name = request.match_info["group"]
    if name not in GROUPS:
        return _not_found()
    return json_response({"kind": "APIGroup", "apiVersion": "v1", **_group(name)})


async def group_version(request: web.Request) -> web.Response:
    name, ver = request.match_info["group"], request.match_info["version"]
    if name not in GROUPS or ver != "v1":
        return _not_found()
    return json_response(_resource_list(f"{name}/v1"))


def _not_found() -> web.Response:
    # What the real server answers for an unknown group/version path.
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/version", version)
    app.router.add_get("/api", core_versions)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/apis", groups)
    app.router.add_get("/apis/{group}", group)
    app.router.add_get("/apis/{group}/{version}", group_version)
