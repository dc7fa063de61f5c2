"""Helpers for the node-access tests: a lab of real parts (etcd ring, ssh servers, kubeone control routes on
a unix socket) running in the test's event loop, and a pseudo-terminal driver for `bin/kubeone`.

This is the lab daemon's node-access half without the API server, so these tests run on their own; the
full manual procedure against the real daemon is in test_lab_kubeone_procedure.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from etcdtui.lab.etcd_binary import resolve_etcd
from etcdtui.lab.kubeone import add_kubeone_routes, write_kubeone_files
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.objects import ObjectStore
from etcdtui.lab.ring import Ring
from etcdtui.lab.sshd import NodeAccess, start_node_access

SSH = shutil.which("ssh")


@dataclass
class NodeLab:
    layout: LabLayout
    ring: Ring
    access: NodeAccess

    def ssh_argv(self, node: str, *command: str) -> list[str]:
        assert SSH, "the OpenSSH client is not installed (apt-get install openssh-client)"
        return [SSH, "-F", str(self.layout.ssh_config), "-o", "ConnectTimeout=10", node, *command]

    async def ssh(self, node: str, *command: str, within: float = 60) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.ssh_argv(node, *command), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), within)
        return proc.returncode or 0, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def node_lab(root: Path, *, members: int = 3, bastion: bool = False) -> AsyncIterator[NodeLab]:
    layout = LabLayout(root)
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    ring = Ring(layout, ObjectStore(), resolve_etcd(None), members=members)
    await ring.start()
    access: NodeAccess | None = None
    runner: web.AppRunner | None = None
    try:
        access = await start_node_access(ring, layout, bastion=bastion)
        app = web.Application()
        add_kubeone_routes(app, ring)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.UnixSite(runner, str(layout.control_socket)).start()
        os.chmod(layout.control_socket, 0o600)
        write_kubeone_files(ring, layout, access)
        yield NodeLab(layout, ring, access)
    finally:
        if runner is not None:
            await runner.cleanup()
        if access is not None:
            await access.stop()
        await ring.stop()


class PtyProcess:
    """A child whose stdin and stdout are a pseudo-terminal (stderr a pipe), as a person at a terminal runs it."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self._master = master
        self.output = ""

    @classmethod
    async def start(cls, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> PtyProcess:
        master, slave = os.openpty()
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=asyncio.subprocess.PIPE, cwd=cwd,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        return cls(proc, master)

    async def _read_some(self) -> bool:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(self._master, ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(self._master)
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return True
        except OSError:  # EIO: the child closed the terminal
            return False
        if not data:
            return False
        self.output += data.decode(errors="replace").replace("\r\n", "\n")
        return True

    async def read_until(self, text: str, within: float) -> str:
        async def loop() -> None:
            while text not in self.output:
                if not await self._read_some():
                    raise AssertionError(f"terminal closed before {text!r}; got:\n{self.output}")

        await asyncio.wait_for(loop(), within)
        return self.output

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    async def finish(self, within: float) -> tuple[int, str, str]:
        async def drain() -> None:
            while await self._read_some():
                pass

        assert self.proc.stderr is not None
        try:
            _, err, _ = await asyncio.wait_for(
                asyncio.gather(drain(), self.proc.stderr.read(), self.proc.wait()), within
            )
        finally:
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            os.close(self._master)
        return self.proc.returncode or 0, self.output, err.decode()


def kubeone_argv(lab: NodeLab, *args: str) -> list[str]:
    return [str(lab.layout.kubeone_bin), *args]


PYTHON = sys.executable
