"""Adding a lab node's etcd member back, retried the way kubeadm retries `member add`.

Both re-join paths of the lab use it: KubeOne's `apply` (`kubeone.py`) and kubeadm's `join --control-plane`
(`kubeadm_join.py`). Right after a membership change or a start, etcd answers "unhealthy cluster" (or "not
enough started members") until every member has been connected for a few seconds; kubeadm retries then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

log = logging.getLogger(__name__)

JOIN_PATIENCE = 30.0
JOIN_RETRY_DELAY = 1.0
RETRYABLE_JOIN_ERRORS = ("unhealthy cluster", "not enough started members")


async def join_with_retries(ring: Ring, node: str) -> None:
    """`ring.join(node)` (member add, then the member started), retried like kubeadm retries `member add`."""
    await add_with_retries(node, lambda: ring.join(node))


async def add_with_retries(node: str, add: Callable[[], Awaitable[None]]) -> None:
    """`add()`, retried while etcd refuses `member add` for a retryable reason (at most JOIN_PATIENCE)."""
    deadline = time.monotonic() + JOIN_PATIENCE
    while True:
        try:
            await add()
            return
        except Exception as exc:
            if not any(s in str(exc) for s in RETRYABLE_JOIN_ERRORS) or time.monotonic() > deadline:
                raise
            log.info("member add for %s refused for now (%s); retrying", node, str(exc).splitlines()[-1])
            await asyncio.sleep(JOIN_RETRY_DELAY)
