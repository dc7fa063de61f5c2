"""Talking to a running lab daemon over its unix socket (used by the CLI and `bin/kubeone`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from etcdtui.lab.layout import LabLayout


class ControlError(Exception):
    """The daemon answered with an error, or could not be reached (message: one line)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


async def call(
    layout: LabLayout, method: str, path: str, body: dict[str, Any] | None = None, *, limit_s: float = 60.0
) -> dict[str, Any]:
    sock = layout.control_socket
    if not sock.exists():
        raise ControlError(f"no lab running in {layout.root}")
    connector = aiohttp.UnixConnector(path=str(sock))
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=limit_s)
        ) as session, session.request(method, f"http://lab{path}", json=body) as resp:
            text = await resp.text()
            try:
                data = json.loads(text) if text else {}
            except ValueError:
                data = {"error": text.strip()[:200]}
            if resp.status >= 400:
                raise ControlError(str(data.get("error") or f"HTTP {resp.status}"), resp.status)
            return dict(data)
    except aiohttp.ClientConnectionError as exc:
        raise ControlError(f"cannot reach the lab daemon in {layout.root}: {exc}") from None
    except TimeoutError:
        raise ControlError(f"the lab daemon in {layout.root} did not answer within {limit_s:.0f} s") from None


def request(
    layout: LabLayout, method: str, path: str, body: dict[str, Any] | None = None, *, limit_s: float = 60.0
) -> dict[str, Any]:
    return asyncio.run(call(layout, method, path, body, limit_s=limit_s))
