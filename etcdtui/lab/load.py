"""`etcdtui lab load`: real writes and compactions through etcdctl, so revisions and hashes move."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

MAX_SECONDS = 600.0
PUTS_PER_BATCH = 20  # one `etcdctl txn` applies a batch atomically; one process per batch keeps the rate up
COMPACT_EVERY = 2.0
KEEP_REVISIONS = 20


async def generate_load(ring: Ring, seconds: float) -> dict[str, Any]:
    """Write keys under /etcdtui-lab/load/ for `seconds`, compacting every COMPACT_EVERY s; return counts."""
    seconds = max(0.1, min(seconds, MAX_SECONDS))
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    next_compact = loop.time() + COMPACT_EVERY
    puts = failed = compactions = 0
    revision = 0
    n = 0
    while loop.time() < end:
        # etcdctl's non-interactive txn: compares, blank line, success ops, blank line, failure ops, blank line.
        txn = "\n" + "\n".join(
            f'put /etcdtui-lab/load/{(n + i) % 200:03d} "{secrets.token_hex(16)}"' for i in range(PUTS_PER_BATCH)
        ) + "\n\n\n"
        n += PUTS_PER_BATCH
        rc, out, _ = await _txn(ring, txn)
        applied = _revision(out)
        if rc == 0 and applied:  # etcdctl can exit 0 on a malformed txn; only a header with a revision counts
            puts += PUTS_PER_BATCH
            revision = applied
        else:
            failed += PUTS_PER_BATCH
            await asyncio.sleep(0.2)  # e.g. a CORRUPT alarm: writes fail until it is disarmed
        if loop.time() >= next_compact and revision > KEEP_REVISIONS:
            rc, _, _ = await ring.run_etcdctl("compact", str(revision - KEEP_REVISIONS))
            compactions += rc == 0
            next_compact = loop.time() + COMPACT_EVERY
    return {"puts": puts, "failed_puts": failed, "compactions": compactions, "revision": revision}


async def _txn(ring: Ring, script: str) -> tuple[int, str, str]:
    from etcdtui.lab.run_argv import run_argv_input

    node = ring.any_member()
    if node is None:
        return 1, "", "no running member\n"
    return await run_argv_input(ring.etcdctl_argv(node, "txn", "-w", "json"), script.encode())


def _revision(out: str) -> int:
    try:
        return int(json.loads(out)["header"]["revision"])
    except (ValueError, KeyError, TypeError):
        return 0
