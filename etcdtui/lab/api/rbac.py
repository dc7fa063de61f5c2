"""RBAC for the lab's second identity: the etcdtui exporter's service account, bound to the shipped rules.

The admin token of the kubeconfig may do everything. The service-account token (written by `lab up` under
`<lab>/serviceaccount/` as a pod sees it in /var/run/secrets/kubernetes.io/serviceaccount/) is user
`system:serviceaccount:kube-system:etcdtui` and may do exactly what deploy/kubernetes/rbac.yaml grants
(a test keeps the two equal). Anything else is answered like the real API server: 403 with a `Status`
whose message names the verb, the resource, the API group and the scope.

Request attributes follow the apiserver's RequestInfo: GET on a collection is `list` (`watch` with
?watch=true), on a name `get`; POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` or
`deletecollection`; the WebSocket GET of pods/exec, attach and portforward is `create` (Kubernetes >= 1.30).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from etcdtui.lab.api.errors import ApiError, Obj

SA_NAMESPACE = "kube-system"
SA_NAME = "etcdtui"
SA_USER = f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"
CONNECT_SUBRESOURCES = {"exec", "attach", "portforward"}


@dataclass(frozen=True)
class Rule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]  # "pods", "pods/exec"
    verbs: tuple[str, ...]
    namespace: str | None  # a Role's namespace; None: a ClusterRole bound cluster-wide


# deploy/kubernetes/rbac.yaml: Role etcdtui in kube-system, ClusterRole etcdtui-nodes.
EXPORTER_RULES = (
    Rule(("",), ("pods",), ("list", "watch"), SA_NAMESPACE),
    Rule(("",), ("pods/exec",), ("get", "create"), SA_NAMESPACE),
    Rule(("",), ("pods/log",), ("get",), SA_NAMESPACE),
    Rule(("",), ("nodes",), ("list", "watch"), None),
)


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes | None:
    """The RBAC attributes of a request; None for non-resource URLs (discovery, /version, health)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # /api/v1: discovery
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if resource == "namespaces" and namespace is None and name is not None:
        namespace = name  # a namespace is in its own namespace for RBAC
    verb = _verb(method, name, sub, query)
    return Attributes(verb, group, resource, sub, namespace, name)


def _verb(method: str, name: str | None, sub: str | None, query: Mapping[str, str]) -> str:
    if method in ("GET", "HEAD"):
        if sub in CONNECT_SUBRESOURCES:
            return "create"
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if name is not None else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name is not None else "deletecollection"}.get(method, method.lower())


def allowed(attrs: Attributes, rules: Sequence[Rule]) -> bool:
    for rule in rules:
        if rule.namespace is not None and rule.namespace != attrs.namespace:
            continue
        if (attrs.group in rule.api_groups or "*" in rule.api_groups) \
                and (attrs.full_resource in rule.resources or "*" in rule.resources) \
                and (attrs.verb in rule.verbs or "*" in rule.verbs):
            return True
    return False


def forbidden(user: str, attrs: Attributes) -> ApiError:
    """The real apiserver's 403 (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters)."""
    prefix = attrs.resource + (f".{attrs.group}" if attrs.group else "")
    if attrs.name is not None:
        prefix += f' "{attrs.name}"'
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (f'{prefix} is forbidden: User "{user}" cannot {attrs.verb} resource "{attrs.full_resource}" '
               f'in API group "{attrs.group}" {scope}')
    details: Obj = {}
    if attrs.name is not None:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    return ApiError(403, message, "Forbidden", details)


@dataclass(frozen=True)
class ServiceAccount:
    token: str
    user: str = SA_USER
    rules: tuple[Rule, ...] = EXPORTER_RULES

    @classmethod
    def new(cls) -> ServiceAccount:
        return cls(secrets.token_urlsafe(32))

    def check(self, method: str, path: str, query: Mapping[str, str]) -> ApiError | None:
        attrs = request_attributes(method, path, query)
        if attrs is None or allowed(attrs, self.rules):
            return None
        return forbidden(self.user, attrs)

    def write(self, directory: Path, ca_cert: Path) -> None:
        """token, ca.crt and namespace, as /var/run/secrets/kubernetes.io/serviceaccount/ holds them."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, data, mode in (("token", self.token.encode(), 0o600), ("ca.crt", ca_cert.read_bytes(), 0o644),
                                 ("namespace", SA_NAMESPACE.encode(), 0o644)):
            path = directory / name
            path.unlink(missing_ok=True)
            path.touch(mode)
            path.write_bytes(data)
