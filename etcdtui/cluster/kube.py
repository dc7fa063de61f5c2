"""Connection to the Kubernetes API with `kubernetes.aio`, and every failure as a one-line `ClusterError`.

Sources, in kubectl's order: `--kubeconfig`, then `$KUBECONFIG` (a `:`-separated list), then
`~/.kube/config`, then the in-cluster service account. The kubeconfig is never written back
(`persist_config=False`): etcdtui only reads credentials.
"""

from __future__ import annotations

import asyncio
import enum
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aiohttp
import yaml
from kubernetes.aio import client as k8s
from kubernetes.aio import config as _k8s_config

# The generated client is untyped; calling it through Any keeps mypy quiet without scattering ignores.
k8s_config: Any = _k8s_config

MANAGED_HINT = "managed clusters such as EKS, GKE and AKS hide etcd from the API"


class ErrorKind(enum.StrEnum):
    BAD_KUBECONFIG = "bad-kubeconfig"
    UNKNOWN_CONTEXT = "unknown-context"
    UNREACHABLE = "unreachable"
    UNAUTHORIZED = "unauthorized"  # 401
    FORBIDDEN = "forbidden"  # 403
    NO_ETCD_PODS = "no-etcd-pods"
    API_ERROR = "api-error"


class ClusterError(Exception):
    """A failure to talk to the cluster, with a one-line message fit for stderr or a status bar."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def lasting(self) -> bool:
        """True when retrying will not help until someone changes something (credentials, RBAC, config)."""
        return self.kind in (ErrorKind.UNAUTHORIZED, ErrorKind.FORBIDDEN, ErrorKind.BAD_KUBECONFIG)


@dataclass
class ClusterConnection:
    api: k8s.ApiClient
    context: str
    server: str

    @classmethod
    async def open(
        cls, kubeconfig: str | None = None, context: str | None = None, *, in_cluster: bool | None = None
    ) -> ClusterConnection:
        """Load credentials (no network yet); raises ClusterError(BAD_KUBECONFIG / UNKNOWN_CONTEXT)."""
        configuration = k8s.Configuration()
        paths = _kubeconfig_paths(kubeconfig)
        if paths is None and (in_cluster or (in_cluster is None and os.environ.get("KUBERNETES_SERVICE_HOST"))):
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException as exc:
                raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"in-cluster config: {_one_line(exc)}") from None
            name = "in-cluster"
        elif paths is None:
            raise ClusterError(
                ErrorKind.BAD_KUBECONFIG,
                "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config",
            )
        else:
            name = await asyncio.to_thread(_check_kubeconfig, paths, context)
            try:
                await k8s_config.load_kube_config(
                    config_file=os.pathsep.join(str(p) for p in paths),
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            except (k8s_config.ConfigException, ValueError, TypeError, KeyError, OSError) as exc:
                raise ClusterError(
                    ErrorKind.BAD_KUBECONFIG, f"kubeconfig {_show(paths)}: {_one_line(exc)}"
                ) from None
        return cls(api=k8s.ApiClient(configuration), context=name, server=str(configuration.host))

    async def close(self) -> None:
        await cast(Any, self.api).close()

    def error(self, exc: BaseException, doing: str, needs: str = "") -> ClusterError:
        """Map any exception of an API call to a ClusterError.

        `doing` says what was attempted in RBAC terms (`list pods in namespace kube-system`), `needs`
        the permission (`list/watch pods`); both end up in the 403 message.
        """
        return map_error(exc, self.server, doing, needs)


def map_error(exc: BaseException, server: str, doing: str, needs: str = "") -> ClusterError:
    if isinstance(exc, ClusterError):
        return exc
    status = getattr(exc, "status", None)
    if isinstance(exc, k8s.ApiException | aiohttp.ClientResponseError) and isinstance(status, int):
        return status_error(status, server, doing, needs, _api_message(exc))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | ssl.SSLError | aiohttp.ClientSSLError):
        return ClusterError(ErrorKind.UNREACHABLE, f"TLS error talking to {server}: {_one_line(exc)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ClusterError(ErrorKind.UNREACHABLE, f"cannot resolve the API server {server}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            reason = "connection refused"
        else:
            reason = (os_error.strerror or str(os_error)) if os_error else _one_line(exc)
        return ClusterError(ErrorKind.UNREACHABLE, f"cannot reach the API server {server}: {reason}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ClusterError(ErrorKind.UNREACHABLE, f"the API server {server} did not answer in time")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ClusterError(ErrorKind.UNREACHABLE, f"lost the API server {server}: {_one_line(exc) or type(exc).__name__}")
    return ClusterError(ErrorKind.API_ERROR, f"{doing}: {type(exc).__name__}: {_one_line(exc)}")


def status_error(status: int, server: str, doing: str, needs: str = "", detail: str = "") -> ClusterError:
    if status == 401:
        return ClusterError(
            ErrorKind.UNAUTHORIZED,
            f"401 Unauthorized from {server}: the credentials were rejected (token expired or wrong?)",
        )
    if status == 403:
        rbac = f" (RBAC: needs {needs})" if needs else ""
        return ClusterError(ErrorKind.FORBIDDEN, f"403 Forbidden: cannot {doing}{rbac}")
    suffix = f": {detail}" if detail else ""
    return ClusterError(ErrorKind.API_ERROR, f"API server {server} answered {status} to {doing}{suffix}")


def no_etcd_pods(namespace: str, selector: str) -> ClusterError:
    return ClusterError(
        ErrorKind.NO_ETCD_PODS,
        f"no etcd pods in namespace {namespace} with selector {selector} ({MANAGED_HINT})",
    )


# -- kubeconfig checks with clear messages ------------------------------------------------------


def _kubeconfig_paths(explicit: str | None) -> list[Path] | None:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    if paths:
        return paths
    default = Path("~/.kube/config").expanduser()
    return [default] if default.exists() else None


def kubeconfig_contexts(kubeconfig: str | None) -> list[str]:
    """Every context of the kubeconfig(s), in kubectl's merge order (first definition wins); ClusterError."""
    paths = _kubeconfig_paths(kubeconfig)
    if paths is None:
        raise ClusterError(ErrorKind.BAD_KUBECONFIG,
                           "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config")
    contexts, _ = _read_contexts(paths)
    return list(dict.fromkeys(contexts))


def kubeconfig_context(kubeconfig: str | None, context: str | None = None) -> str | None:
    """`context` checked against the kubeconfig(s), else their current context, without connecting; None when
    there is no kubeconfig at all (none given, no $KUBECONFIG, no ~/.kube/config). Raises ClusterError."""
    paths = _kubeconfig_paths(kubeconfig)
    return None if paths is None else _check_kubeconfig(paths, context)


def _check_kubeconfig(paths: list[Path], context: str | None) -> str:
    """Read the kubeconfig(s) ourselves first: the client's own errors are not fit for users."""
    merged_contexts, current = _read_contexts(paths)
    wanted = context or current
    if wanted is None:
        raise ClusterError(
            ErrorKind.UNKNOWN_CONTEXT,
            f"kubeconfig {_show(paths)} has no current-context; pass --context (known: {', '.join(merged_contexts)})",
        )
    if wanted not in merged_contexts:
        raise ClusterError(
            ErrorKind.UNKNOWN_CONTEXT,
            f"context {wanted!r} not found in kubeconfig {_show(paths)} (known: {', '.join(merged_contexts)})",
        )
    return wanted


def _read_contexts(paths: list[Path]) -> tuple[list[str], str | None]:
    merged_contexts: list[str] = []
    current: str | None = None
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if len(paths) == 1:
                raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {path}: no such file") from None
            continue  # kubectl skips missing files in a KUBECONFIG list
        except (OSError, UnicodeDecodeError) as exc:
            raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {path}: {_one_line(exc)}") from None
        try:
            doc: Any = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {path} is not valid YAML{where}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("contexts", []), list):
            raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {path} is not a kubeconfig (no contexts list)")
        for item in doc.get("contexts") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                merged_contexts.append(item["name"])
        if current is None and isinstance(doc.get("current-context"), str) and doc["current-context"]:
            current = doc["current-context"]
    if not any(p.exists() for p in paths):
        raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {_show(paths)}: no such file")
    if not merged_contexts:
        raise ClusterError(ErrorKind.BAD_KUBECONFIG, f"kubeconfig {_show(paths)} has no contexts")
    return merged_contexts, current


def _show(paths: list[Path]) -> str:
    return os.pathsep.join(str(p) for p in paths)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


def _api_message(exc: BaseException) -> str:
    """The `message` of a Kubernetes Status body, when the exception carries one."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes | str):
        try:
            import json

            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                return _one_line(Exception(data["message"]))
        except ValueError:
            pass
    return _one_line(Exception(getattr(exc, "reason", "") or ""))
