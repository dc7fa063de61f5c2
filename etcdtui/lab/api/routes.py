"""Resource routes: list/get/watch, patch, delete, and the pod subresources (log, exec, eviction).

Paths are parsed once (`/api/v1/...`, `/apis/GROUP/v1/...`) into resource, namespace, name and subresource,
then dispatched by method. Objects come from the `ObjectStore`; every error is a real `Status`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from etcdtui.lab.api import eviction, exec_ws, logs, tables, watch
from etcdtui.lab.api.discovery import Resource, resource_for
from etcdtui.lab.api.errors import ApiError, Obj, bad_request, json_response, not_found, success
from etcdtui.lab.api.patch import apply_patch
from etcdtui.lab.api.workloads import Workloads
from etcdtui.lab.objects import NotFound, ObjectStore, match_fields, match_labels

METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"


@dataclass
class Target:
    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None


def _dry_run(request: web.Request, options: Any = None) -> bool:
    """`?dryRun=All` or DeleteOptions `dryRun: [All]` (kubectl --dry-run=server): validate, change nothing."""
    if "All" in request.query.getall("dryRun", []):
        return True
    return isinstance(options, dict) and "All" in (options.get("dryRun") or [])


def _page_not_found() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", "NotFound", {})


def parse(group: str, segments: list[str]) -> Target:
    namespace: str | None = None
    if len(segments) >= 3 and segments[0] == "namespaces":
        namespace, segments = segments[1], segments[2:]
    if not segments or len(segments) > 3:
        raise _page_not_found()
    res = resource_for(group, segments[0])
    if res is None:
        raise _page_not_found()
    name = segments[1] if len(segments) > 1 else None
    sub = segments[2] if len(segments) > 2 else None
    if namespace is not None and not res.namespaced:
        raise _page_not_found()
    if name is not None and res.namespaced and namespace is None:
        raise _page_not_found()
    return Target(res, namespace, name, sub)


class ResourceRoutes:
    def __init__(self, store: ObjectStore, workloads: Workloads | None) -> None:
        self.store = store
        self.workloads = workloads

    def add_to(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/v1/{tail:.+}", self.core)
        app.router.add_route("*", "/apis/{group}/v1/{tail:.+}", self.grouped)

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self._dispatch(request, parse("", request.match_info["tail"].split("/")))

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        return await self._dispatch(request, parse(request.match_info["group"], request.match_info["tail"].split("/")))

    # -- dispatch ------------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request, t: Target) -> web.StreamResponse:
        method = request.method
        if t.sub is not None:
            return await self._subresource(request, t)
        if t.name is None:
            if method in ("GET", "HEAD"):
                return await self._list(request, t)
            raise ApiError(405, METHOD_NOT_ALLOWED, "MethodNotAllowed", {})
        if method in ("GET", "HEAD"):
            return self._get(request, t)
        if method == "PATCH" and "patch" in t.res.verbs:
            return await self._patch(request, t)
        if method == "PUT" and "update" in t.res.verbs:
            return await self._put(request, t)
        if method == "DELETE" and "delete" in t.res.verbs:
            return await self._delete(request, t)
        raise ApiError(405, METHOD_NOT_ALLOWED, "MethodNotAllowed", {})

    def present(self, res: Resource, obj: Obj) -> Obj:
        obj["kind"] = res.kind
        obj["apiVersion"] = res.group_version
        return obj

    def _fetch(self, t: Target) -> Obj:
        assert t.name is not None
        obj = self.store.find(t.res.kind, t.namespace or "", t.name)
        if obj is None:
            raise not_found(t.res.plural, t.name, t.res.group)
        return obj

    # -- read ----------------------------------------------------------------------------------
    def _matcher(self, request: web.Request, t: Target) -> Any:
        labels = request.query.get("labelSelector", "")
        fields = request.query.get("fieldSelector", "")
        namespace = t.namespace

        def matches(obj: Obj) -> bool:
            meta = obj.get("metadata", {})
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if labels and not match_labels(labels, meta.get("labels") or {}):
                return False
            return not fields or match_fields(fields, obj)

        return matches

    async def _list(self, request: web.Request, t: Target) -> web.StreamResponse:
        matches = self._matcher(request, t)
        if request.query.get("watch") in ("true", "1"):
            return await watch.serve_watch(request, self.store, t.res.kind, matches, self._watch_renderer(request, t))
        rv = str(self.store.resource_version)
        items = [self.present(t.res, o) for o in self.store.list(t.res.kind, t.namespace) if matches(o)]
        return self._render(request, t.res, items, rv, as_list=True)

    def _watch_renderer(self, request: web.Request, t: Target) -> Any:
        """Events carry the object, or a one-row Table when kubectl asked for tables (`get -w`)."""
        as_table = tables.wants_table(request.headers.get("Accept", "")) and t.res.kind in tables.PRINTERS

        def render(obj: Obj) -> Obj:
            shown = self.present(t.res, obj)
            if as_table and "name" in shown.get("metadata", {}):
                tab = tables.table(t.res.kind, [shown], shown["metadata"].get("resourceVersion", ""))
                if tab is not None:
                    return tab
            return shown

        return render

    def _get(self, request: web.Request, t: Target) -> web.Response:
        obj = self.present(t.res, self._fetch(t))
        return self._render(request, t.res, [obj], obj["metadata"].get("resourceVersion", ""), as_list=False)

    def _render(self, request: web.Request, res: Resource, items: list[Obj], rv: str, *, as_list: bool) -> web.Response:
        if tables.wants_table(request.headers.get("Accept", "")):
            tab = tables.table(res.kind, items, rv)
            if tab is not None:
                return json_response(tab, content_type="application/json")
        if not as_list:
            return json_response(items[0])
        return json_response(
            {"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": {"resourceVersion": rv},
             "items": items}
        )

    # -- write ---------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise bad_request("the body of the request could not be parsed as JSON") from None

    async def _patch(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request)
        obj = self._fetch(t)
        patched = apply_patch(obj, request.content_type, body)
        # Identity fields cannot change through a patch.
        for key in ("name", "namespace", "uid", "creationTimestamp"):
            if key in obj["metadata"]:
                patched.setdefault("metadata", {})[key] = obj["metadata"][key]
        patched["kind"] = obj.get("kind", t.res.kind)
        return self._save(request, t, patched)

    async def _put(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request)
        obj = self._fetch(t)
        if not isinstance(body, dict) or (body.get("metadata") or {}).get("name") != t.name:
            raise bad_request("the name of the object does not match the name on the URL")
        sent_rv = body["metadata"].get("resourceVersion")
        if sent_rv and sent_rv != obj["metadata"].get("resourceVersion"):
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on {t.res.plural} "{t.name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                "Conflict",
                {"name": t.name, "kind": t.res.plural},
            )
        for key in ("namespace", "uid", "creationTimestamp"):
            if key in obj["metadata"]:
                body["metadata"][key] = obj["metadata"][key]
        body["kind"] = t.res.kind
        return self._save(request, t, body)

    def _save(self, request: web.Request, t: Target, obj: Obj) -> web.Response:
        if _dry_run(request):
            return json_response(self.present(t.res, obj))
        try:
            saved = self.store.replace(obj)
        except NotFound:
            raise not_found(t.res.plural, t.name or "", t.res.group) from None
        return json_response(self.present(t.res, saved))

    async def _delete(self, request: web.Request, t: Target) -> web.Response:
        body = await self._body(request)
        obj = self._fetch(t)
        uid = ((body or {}).get("preconditions") or {}).get("uid") if isinstance(body, dict) else None
        if uid and uid != obj["metadata"].get("uid"):
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {obj['metadata'].get('uid')}",
                "Conflict",
                {"name": t.name, "kind": t.res.plural},
            )
        deleted = obj if _dry_run(request, body) else self._remove(t.res, obj)
        if t.res.kind == "Pod":
            return json_response(self.present(t.res, deleted))
        return json_response(success({"name": t.name, "kind": t.res.plural, "uid": obj["metadata"].get("uid")}))

    def _remove(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        try:
            deleted = self.store.delete(res.kind, meta.get("namespace", ""), meta["name"])
        except NotFound:
            raise not_found(res.plural, meta["name"], res.group) from None
        if res.kind == "Pod" and self.workloads is not None:
            self.workloads.pod_deleted(deleted)
        return deleted

    # -- subresources --------------------------------------------------------------------------
    async def _subresource(self, request: web.Request, t: Target) -> web.StreamResponse:
        method, sub = request.method, t.sub
        if t.res.kind != "Pod" or sub not in ("log", "exec", "eviction"):
            raise _page_not_found()
        if sub == "log" and method in ("GET", "HEAD"):
            query = logs.LogQuery(request)
            pod = self._fetch(t)
            return await logs.stream_log(request, logs.pick_run(self.store, pod, query), query)
        if sub == "exec" and method in ("GET", "POST"):
            return await exec_ws.serve_exec(request, self.store, self._fetch(t))
        if sub == "eviction" and method == "POST":
            body = await self._body(request)
            pod = eviction.check_eviction(self.store, t.namespace or "", t.name or "", body)
            options = body.get("deleteOptions") if isinstance(body, dict) else None
            if not _dry_run(request, options):
                self._remove(t.res, pod)
            return json_response(success(code=201), code=201)
        raise ApiError(405, METHOD_NOT_ALLOWED, "MethodNotAllowed", {})
