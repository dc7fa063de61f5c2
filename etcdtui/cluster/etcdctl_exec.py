"""Run `etcdctl` inside an etcd pod through the exec API (WebSocket, `v4.channel.k8s.io`), argv only.

The certificates and the client URL come from the pod's own etcd command line, so whatever the
cluster uses (kubeadm paths or not) is what we use. The exit code comes from the Status on channel 3;
stdout is returned even when rc != 0 because etcdctl prints the endpoints that answered and exits 1
for the others (etcd-facts §5.1).
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import aiohttp
from kubernetes.aio import client as k8s
from kubernetes.aio.stream import WsApiClient

from etcdtui.cluster.kube import ClusterConnection, ErrorKind
from etcdtui.cluster.rawapi import exec_connect
from etcdtui.core.etcdctl import EtcdctlConnection, connection_from_command

MAX_OUTPUT = 4 * 1024 * 1024  # per stream; etcdctl JSON for a ring is a few KB
STDOUT, STDERR, ERROR = 1, 2, 3


class ExecFailure(enum.StrEnum):
    FORBIDDEN = "forbidden"  # RBAC: create pods/exec
    NO_ETCDCTL = "no-etcdctl"  # the image has no etcdctl
    NO_CERTS = "no-certs"  # the pod's command line names no usable certs, or they are missing
    NOT_FOUND = "not-found"  # the pod is gone
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    OTHER = "other"


class EtcdctlExecError(Exception):
    def __init__(self, failure: ExecFailure, reason: str) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason


@dataclass(frozen=True)
class ExecResult:
    rc: int | None  # None when the Status did not carry an exit code
    stdout: str
    stderr: str
    dropped_bytes: int = 0  # output beyond MAX_OUTPUT, not kept


@dataclass(frozen=True)
class EtcdctlTarget:
    """How to reach etcd from inside one pod: taken from the pod's own flags (the core decides how)."""

    pod: str
    namespace: str
    container: str
    connection: EtcdctlConnection
    fallbacks: tuple[EtcdctlConnection, ...] = ()  # other client certs to try if the first is missing

    def with_connection(self, connection: EtcdctlConnection) -> EtcdctlTarget:
        return replace(self, connection=connection, fallbacks=tuple(c for c in self.fallbacks if c != connection))


def target_from_pod(pod: str, namespace: str, command: Sequence[str], container: str = "etcd") -> EtcdctlTarget:
    """The etcdctl target from the pod's etcd flags; raises EtcdctlExecError(NO_CERTS) when it names none.

    kubeadm's healthcheck-client certificate is tried first (a pure client cert), the member's own
    server certificate (which kubeadm issues with ClientAuth too) second.
    """
    if not command:
        raise EtcdctlExecError(ExecFailure.NO_CERTS, f"pod {pod}: no etcd command line to take certificates from")
    preferred = connection_from_command(command)
    server_cert = connection_from_command(command, existing_files=())
    if preferred.endpoint.startswith("https") and not (preferred.cacert and preferred.cert and preferred.key):
        raise EtcdctlExecError(
            ExecFailure.NO_CERTS,
            f"pod {pod}: etcd command line names no --trusted-ca-file/--cert-file/--key-file for {preferred.endpoint}",
        )
    fallbacks = (server_cert,) if server_cert != preferred else ()
    return EtcdctlTarget(pod=pod, namespace=namespace, container=container, connection=preferred, fallbacks=fallbacks)


class EtcdctlExec:
    """Runs etcdctl in pods of one connection; one WebSocket client reused for every call."""

    def __init__(self, conn: ClusterConnection) -> None:
        self.conn = conn
        self._ws_client: Any = None

    async def close(self) -> None:
        if self._ws_client is not None:
            await cast(Any, self._ws_client).close()
            self._ws_client = None

    async def exec(
        self, pod: str, namespace: str, argv: list[str], *, container: str | None = None, limit_s: float = 10.0
    ) -> ExecResult:
        try:
            async with asyncio.timeout(limit_s):
                return await self._exec(pod, namespace, argv, container)
        except TimeoutError:
            raise EtcdctlExecError(
                ExecFailure.TIMEOUT, f"etcdctl in pod {pod} did not finish within {limit_s:g}s"
            ) from None
        except EtcdctlExecError:
            raise
        except aiohttp.WSServerHandshakeError as exc:
            raise _handshake_error(exc, pod, namespace) from None
        except k8s.ApiException as exc:
            raise _status_failure(int(exc.status or 0), pod, namespace, str(exc.reason or "")) from None
        except (aiohttp.ClientError, OSError) as exc:
            err = self.conn.error(exc, f"exec into pod {pod}")
            failure = ExecFailure.UNREACHABLE if err.kind is ErrorKind.UNREACHABLE else ExecFailure.OTHER
            raise EtcdctlExecError(failure, err.message) from None

    async def _exec(self, pod: str, namespace: str, argv: list[str], container: str | None) -> ExecResult:
        if self._ws_client is None:
            self._ws_client = cast(Any, WsApiClient)(configuration=self.conn.api.configuration)
        connect: Any = await exec_connect(self._ws_client, namespace, pod, argv, container)
        out = _Capped()
        err = _Capped()
        status: dict[str, Any] | None = None
        async with connect as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    data: bytes = msg.data
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    data = msg.data.encode("utf-8")
                else:
                    break  # CLOSE/ERROR: the command is over
                if len(data) < 1:
                    continue
                channel, payload = data[0], data[1:]
                if channel == STDOUT:
                    out.add(payload)
                elif channel == STDERR:
                    err.add(payload)
                elif channel == ERROR and payload:
                    try:
                        status = json.loads(payload)
                    except ValueError:
                        status = {"status": "Failure", "message": payload.decode("utf-8", "replace")}
        rc = _exit_code(status, pod, err.text())
        return ExecResult(rc=rc, stdout=out.text(), stderr=err.text(), dropped_bytes=out.dropped + err.dropped)


class _Capped:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = MAX_OUTPUT - self.size
        if room <= 0:
            self.dropped += len(data)
            return
        self.parts.append(data[:room])
        self.size += min(room, len(data))
        self.dropped += max(0, len(data) - room)

    def text(self) -> str:
        return b"".join(self.parts).decode("utf-8", "replace")


def _exit_code(status: dict[str, Any] | None, pod: str, stderr: str) -> int | None:
    """0 for Success; the ExitCode cause for NonZeroExitCode; a runtime refusal raises."""
    if status is None:
        return None  # the stream ended without a Status (old servers): unknown
    if status.get("status") == "Success":
        return 0
    causes = ((status.get("details") or {}).get("causes")) or []
    for cause in causes:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                return None
    message = " ".join(str(status.get("message") or "").split())
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered and "etcdctl" in lowered:
        raise EtcdctlExecError(ExecFailure.NO_ETCDCTL, f"no etcdctl in the image of pod {pod}: {message[:200]}")
    raise EtcdctlExecError(ExecFailure.OTHER, f"exec in pod {pod} failed: {message[:200] or stderr[:200]}")


def _handshake_error(exc: aiohttp.WSServerHandshakeError, pod: str, namespace: str) -> EtcdctlExecError:
    return _status_failure(exc.status, pod, namespace, exc.message)


def _status_failure(status: int, pod: str, namespace: str, detail: str) -> EtcdctlExecError:
    if status == 403:
        return EtcdctlExecError(
            ExecFailure.FORBIDDEN,
            f"403 Forbidden: cannot exec into pod {pod} in namespace {namespace} (RBAC: needs create pods/exec)",
        )
    if status == 401:
        return EtcdctlExecError(ExecFailure.OTHER, "401 Unauthorized: the credentials were rejected (token expired?)")
    if status == 404:
        return EtcdctlExecError(ExecFailure.NOT_FOUND, f"pod {pod} not found in namespace {namespace}")
    detail = " ".join(detail.split())[:200]
    return EtcdctlExecError(ExecFailure.OTHER, f"exec into pod {pod} failed with HTTP {status}: {detail}")
