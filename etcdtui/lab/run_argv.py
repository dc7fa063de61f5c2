"""Running a program of the lab (etcdctl, etcdutl) with an argv list: capped output, a time limit, one-line errors."""

from __future__ import annotations

import asyncio
import contextlib

MAX_ETCDCTL_OUTPUT = 4 * 1024 * 1024

ETCDCTL_TIMEOUT = 20.0


def last_line(text: str) -> str:
    """etcdctl prints zap warnings before its `Error: ...` line; errors shown to users are one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "etcdctl failed"


async def run_argv(argv: list[str], limit_s: float = ETCDCTL_TIMEOUT) -> tuple[int, str, str]:
    """Run a program (argv list, no shell) and return (rc, stdout, stderr), output capped in size."""
    return await run_argv_input(argv, None, limit_s)


async def run_argv_input(argv: list[str], stdin: bytes | None, limit_s: float = ETCDCTL_TIMEOUT) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), limit_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return 124, "", f"{argv[0]}: timed out after {limit_s:.0f} s\n"
    return (proc.returncode or 0, out[:MAX_ETCDCTL_OUTPUT].decode(errors="replace"),
            err[:MAX_ETCDCTL_OUTPUT].decode(errors="replace"))
