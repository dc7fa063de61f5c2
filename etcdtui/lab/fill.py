"""`etcdtui lab fill NODE|--all --mb N`: grow and fragment the etcd database for real.

Writes N MiB of random 256 KiB values through the chosen members (every member's database grows: the data is
replicated), overwriting each key about four times, then deletes half the keys and compacts to the current
revision (`--physical`): the file keeps its size while the pages in use drop, which is fragmentation.
On a lab started with a small `--quota-backend-bytes` the writes hit the quota: etcd raises NOSPACE, the fill
stops there and leaves the history uncompacted (getting out is the defragment procedure's job).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

VALUE_BYTES = 256 * 1024
OVERWRITES = 4  # each key is written this many times: the older copies become garbage after the compaction
CONCURRENCY = 4
MAX_MB = 2048
PREFIX = "/etcdtui-lab/fill/"
NOSPACE_TEXT = "database space exceeded"


@dataclass
class _Tally:
    written: int = 0
    failed: int = 0
    nospace: bool = False
    error: str = ""


async def fill(ring: Ring, nodes: list[str], mb: int) -> dict[str, Any]:
    from etcdtui.lab.run_argv import run_argv, run_argv_input

    puts = max(1, mb * 1024 * 1024 // VALUE_BYTES)
    keys = max(2, puts // OVERWRITES)
    sem = asyncio.Semaphore(CONCURRENCY)
    state = _Tally()

    async def put(i: int) -> None:
        if state.nospace:
            return
        node = nodes[i % len(nodes)]
        async with sem:
            rc, _, err = await run_argv_input(ring.etcdctl_argv(node, "put", f"{PREFIX}{i % keys:05d}"),
                                              os.urandom(VALUE_BYTES), limit_s=30.0)
        if rc == 0:
            state.written += 1
            return
        state.failed += 1
        state.nospace = state.nospace or NOSPACE_TEXT in err
        state.error = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"

    await asyncio.gather(*(put(i) for i in range(puts)))
    result: dict[str, Any] = {"puts": state.written, "failed_puts": state.failed, "nospace": state.nospace,
                              "written_mib": round(state.written * VALUE_BYTES / 2**20, 1)}
    if state.failed and not state.nospace:
        result["error"] = state.error
    if not state.nospace:
        rc, _, err = await run_argv(ring.etcdctl_argv(nodes[0], "del", PREFIX, f"{PREFIX}{keys // 2:05d}"))
        result["deleted"] = rc == 0
        revision = await _revision(ring, nodes[0])
        if revision:
            rc, _, err = await run_argv(ring.etcdctl_argv(nodes[0], "compaction", "--physical", str(revision)),
                                        limit_s=120.0)
            result["compacted_to"] = revision if rc == 0 else None
        # bbolt releases the pages a transaction freed only after later commits: make a few, let them land.
        for n in range(3):
            await run_argv(ring.etcdctl_argv(nodes[0], "put", f"{PREFIX}filled", str(n)))
            await asyncio.sleep(0.3)
    result["db"] = await db_sizes(ring)
    return result


async def _revision(ring: Ring, node: str) -> int:
    from etcdtui.lab.run_argv import run_argv

    rc, out, _ = await run_argv(ring.etcdctl_argv(node, "endpoint", "status", "-w", "json"))
    try:
        return int(json.loads(out)[0]["Status"]["header"]["revision"]) if rc == 0 else 0
    except (ValueError, KeyError, IndexError, TypeError):
        return 0


async def db_sizes(ring: Ring) -> dict[str, dict[str, int]]:
    """Every running member's dbSize and dbSizeInUse (its own endpoint)."""
    from etcdtui.lab.run_argv import run_argv

    sizes: dict[str, dict[str, int]] = {}
    for node in ring.nodes:
        rc, out, _ = await run_argv(ring.etcdctl_argv(node, "endpoint", "status", "-w", "json"))
        try:
            status = json.loads(out)[0]["Status"] if rc == 0 else None
        except (ValueError, KeyError, IndexError, TypeError):
            status = None
        if status:
            sizes[node] = {"db_size": int(status.get("dbSize", 0)), "db_size_in_use": int(status.get("dbSizeInUse", 0))}
    return sizes
