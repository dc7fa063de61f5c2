"""The lab's etcd members as the #13766 scenario talks to them: the v3 JSON gateway over HTTPS, etcdctl for hashkv."""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from etcdtui.lab.layout import LabLayout
from etcdtui.lab.run_argv import run_argv

REQUEST_TIMEOUT = 5.0


class IncidentError(Exception):
    """The scenario could not run (one line for the user)."""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode(errors="replace")


def prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# == talking to the lab's members ==========================================================================
@dataclass(frozen=True)
class MemberStatus:
    node: str
    member_id: str  # hex, as etcd logs it
    revision: int
    raft_index: int
    applied_index: int


class LabEtcd:
    """The lab's members over their client URLs (gateway JSON) with the node's healthcheck-client cert."""

    def __init__(self, layout: LabLayout, urls: dict[str, str], connections: int) -> None:
        self.layout = layout
        self.urls = urls
        pki = layout.node_pki_dir(next(iter(urls)))
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "healthcheck-client.crt"), str(pki / "healthcheck-client.key"))
        self._pki = pki
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=connections),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def close(self) -> None:
        await self._session.close()

    async def post(self, node: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One gateway call; raises aiohttp.ClientError / TimeoutError / ValueError on failure."""
        async with self._session.post(self.urls[node] + path, json=body) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(data, dict):
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                                  message=str(data)[:200])
            return data

    async def status(self, node: str) -> MemberStatus | None:
        try:
            data = await self.post(node, "/v3/maintenance/status", {})
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        header = data.get("header", {})
        return MemberStatus(
            node=node, member_id=format(int(header.get("member_id", 0)), "x"),
            revision=int(header.get("revision", 0)), raft_index=int(data.get("raftIndex", 0)),
            applied_index=int(data.get("raftAppliedIndex", 0)),
        )

    async def keys(self, node: str, prefix: str) -> dict[str, int]:
        """key -> create_revision of every key under `prefix` that this member itself holds (serializable)."""
        data = await self.post(node, "/v3/kv/range", {
            "key": b64(prefix), "range_end": b64(prefix_end(prefix)), "keys_only": True, "serializable": True,
        })
        return {unb64(kv["key"]): int(kv.get("create_revision", 0)) for kv in data.get("kvs", [])}

    async def hashkv(self, node: str, revision: int, etcdctl: Path) -> int | None:
        argv = [str(etcdctl), f"--endpoints={self.urls[node]}", f"--cacert={self._pki / 'ca.crt'}",
                f"--cert={self._pki / 'healthcheck-client.crt'}", f"--key={self._pki / 'healthcheck-client.key'}",
                "--dial-timeout=2s", "--command-timeout=5s", "endpoint", "hashkv", f"--rev={revision}", "-w", "json"]
        rc, out, _ = await run_argv(argv, 10.0)
        try:
            return int(json.loads(out)[0]["HashKV"]["hash"]) if rc == 0 else None
        except (ValueError, LookupError, TypeError):
            return None
