"""The lab daemon: `python -m etcdtui.lab.daemon --dir DIR ...`, started detached by `etcdtui lab up`.

One asyncio loop runs everything the lab is: the etcd ring, the HTTPS API server, the SSH nodes, and the
control API on a unix socket (0600) that the CLI and `bin/kubeone` talk to. `lab.json` (0600) is written
last: its appearance tells the CLI the lab is ready. On failure the daemon writes one line to `lab.error`,
stops whatever it had started, and exits 1. On SIGTERM or `POST /shutdown` it stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from etcdtui.lab.api.rbac import ServiceAccount
from etcdtui.lab.control_api import build_control_app, cancel_background
from etcdtui.lab.etcd_binary import EtcdNotFound, resolve_etcd
from etcdtui.lab.layout import LabLayout, lab_context
from etcdtui.lab.objects import ObjectStore
from etcdtui.lab.pki import write_private
from etcdtui.lab.ports import PortInUse, ensure_free
from etcdtui.lab.ring import Ring
from etcdtui.lab.ring_member import RingError

log = logging.getLogger("etcdtui.lab.daemon")

API_HOST = "127.0.0.1"
CONTEXT = "etcdtui-lab"  # the default lab's context; `lab up --name NAME` gives etcdtui-NAME
ERROR_FILE = "lab.error"
STATE_REFRESH = 0.5


class LabStartError(Exception):
    """Starting the lab failed; the message is the one line the CLI shows."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m etcdtui.lab.daemon")
    p.add_argument("--dir", required=True, type=Path)
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--corrupt-checks", choices=("on", "off"), default="off")
    p.add_argument("--etcd", default=None)
    p.add_argument("--api-port", type=int, default=0)
    p.add_argument("--bastion", choices=("on", "off"), default="on")
    p.add_argument("--quota-backend-bytes", type=int, default=0)
    p.add_argument("--name", default="lab", help="lab name: the kubeconfig context is etcdtui-NAME")
    p.add_argument("--flavour", choices=("kubeone", "kubeadm"), default="kubeone")
    return p.parse_args(argv)


class Lab:
    """Everything one lab started, so it can all be stopped again, in reverse order."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.layout = LabLayout(args.dir.resolve())
        self.store = ObjectStore()
        self.ring: Ring | None = None
        self.api: Any = None
        self.ssh: Any = None
        self.token = secrets.token_urlsafe(32)
        self.service_account = ServiceAccount.new()  # the exporter's identity, held to deploy/kubernetes/rbac.yaml
        self.stopping = asyncio.Event()
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self._control_runner: web.AppRunner | None = None
        self._state_task: asyncio.Task[None] | None = None
        self.started_at = time.time()

    async def start(self) -> None:
        args = self.args
        try:
            binaries = resolve_etcd(args.etcd)
            if args.api_port:
                ensure_free(API_HOST, args.api_port)
        except (EtcdNotFound, PortInUse) as exc:
            raise LabStartError(str(exc)) from None
        self.ring = Ring(self.layout, self.store, binaries, members=args.members,
                         corrupt_checks=args.corrupt_checks == "on", quota_backend_bytes=args.quota_backend_bytes)
        self._cleanups.append(self.ring.stop)
        try:
            await self.ring.start()
        except (RingError, PortInUse) as exc:
            raise LabStartError(str(exc)) from None
        await self._start_api()
        self._write_kubeconfig()  # before node access: kubeone.yaml's apiEndpoint reads the API port from it
        await self._start_node_access()
        await self._start_control()
        self.write_state()
        self._state_task = asyncio.create_task(self._keep_state_fresh(), name="lab-state")

    async def _keep_state_fresh(self) -> None:
        """Rewrite lab.json when member pids change (restarts), so scripts and `down` see current pids."""
        assert self.ring is not None
        last = self.ring.pids()
        while True:
            await asyncio.sleep(STATE_REFRESH)
            now = self.ring.pids()
            if now != last:
                last = now
                self.write_state()

    async def _start_api(self) -> None:
        try:
            from etcdtui.lab.apiserver import start_api_server
        except ImportError as exc:
            log.warning("API server not available yet (%s); the lab runs without it", exc)
            return
        try:
            self.api = await start_api_server(
                self.store, host=API_HOST, port=self.args.api_port, token=self.token,
                cert_file=self.layout.pki / "apiserver.crt", key_file=self.layout.pki / "apiserver.key",
                service_account=self.service_account,
            )
        except OSError as exc:
            raise LabStartError(f"cannot start the API server on {API_HOST}:{self.args.api_port}: {exc.strerror or exc}") from None
        self._cleanups.append(self.api.stop)

    async def _start_node_access(self) -> None:
        assert self.ring is not None
        try:
            from etcdtui.lab.sshd import start_node_access
        except ImportError as exc:
            log.warning("ssh node access not available yet (%s)", exc)
            return
        self.ssh = await start_node_access(self.ring, self.layout, bastion=self.args.bastion == "on")
        self._cleanups.append(self.ssh.stop)
        if self.args.flavour == "kubeadm":
            return  # a plain kubeadm cluster: no kubeone.yaml, tf.json or bin/kubeone
        try:
            from etcdtui.lab.kubeone import write_kubeone_files
        except ImportError as exc:
            log.warning("kubeone files not available yet (%s)", exc)
            return
        write_kubeone_files(self.ring, self.layout, self.ssh)

    async def _start_control(self) -> None:
        assert self.ring is not None
        app = build_control_app(self)
        try:
            from etcdtui.lab.kubeone import add_kubeone_routes
        except ImportError as exc:
            log.warning("kubeone control routes not available yet (%s)", exc)
        else:
            if self.args.flavour == "kubeone":
                add_kubeone_routes(app, self.ring)
        from etcdtui.lab.machines import add_machine_routes  # noqa: PLC0415 - issue #13's machine faults

        add_machine_routes(app, self)
        sock = self.layout.control_socket
        sock.unlink(missing_ok=True)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        old_umask = os.umask(0o177)  # the socket is created 0600: only the lab's owner may steer it
        try:
            await web.UnixSite(runner, str(sock)).start()
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)
        self._control_runner = runner

        async def stop_control() -> None:
            await runner.cleanup()
            sock.unlink(missing_ok=True)

        self._cleanups.append(stop_control)

    def _write_kubeconfig(self) -> None:
        import yaml

        if self.api is None:
            return
        ca = base64.b64encode((self.layout.pki / "ca.crt").read_bytes()).decode()
        context = lab_context(self.args.name)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": f"https://{API_HOST}:{self.api.port}",
                                                       "certificate-authority-data": ca}}],
            "users": [{"name": f"{context}-admin", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin",
                                                       "extensions": [self._context_settings()]}}],
            "current-context": context,
            "preferences": {},
        }
        write_private(self.layout.kubeconfig, yaml.safe_dump(config, sort_keys=False).encode())
        self.service_account.write(self.layout.service_account_dir, self.layout.pki / "ca.crt")

    def _context_settings(self) -> dict[str, Any]:
        """The lab's kubeone and ssh settings as the kubeconfig extension any context may carry (the product
        reads it like a hand-configured one; docs/notes/lab-context-settings.md says why not config.yaml)."""
        layout = self.layout
        if self.args.flavour == "kubeadm":  # no kubeone files: the product decides kubeadm from the flavour key
            return {"name": "etcdtui", "extension": {"flavour": "kubeadm",
                                                      "ssh": {"known_hosts": str(layout.known_hosts)}}}
        return {"name": "etcdtui", "extension": {
            "kubeone": {"binary": str(layout.kubeone_bin), "manifest": str(layout.kubeone_yaml),
                        "tf": str(layout.tf_json)},
            "ssh": {"known_hosts": str(layout.known_hosts)},
        }}

    def state(self) -> dict[str, Any]:
        assert self.ring is not None
        ssh: dict[str, Any] = {}
        if self.ssh is not None:
            ssh = {ep.name: {"host": ep.host, "port": ep.port} for ep in self.ssh.endpoints()}
        ports = [list(p) for p in self.ring.ports()]
        if self.api is not None:
            ports.append([API_HOST, self.api.port])
        ports += [[v["host"], v["port"]] for v in ssh.values()]
        return {
            "pid": os.getpid(),
            "dir": str(self.layout.root),
            "started_at": self.started_at,
            "etcd_version": self.ring.etcd_version,
            "members": len(self.ring.nodes),
            "nodes": self.ring.nodes,
            "corrupt_checks": self.args.corrupt_checks,
            "quota_backend_bytes": self.args.quota_backend_bytes,
            "flavour": self.args.flavour,
            "api": {"host": API_HOST, "port": self.api.port} if self.api is not None else None,
            "token": self.token,
            "kubeconfig": str(self.layout.kubeconfig) if self.api is not None else None,
            "control_socket": str(self.layout.control_socket),
            "etcd_pids": self.ring.pids(),
            "ssh": ssh,
            "ports": ports,
        }

    def write_state(self) -> None:
        write_private(self.layout.state_file, json.dumps(self.state(), indent=2).encode())

    async def stop(self) -> None:
        if self._state_task is not None:
            self._state_task.cancel()
        await cancel_background()
        for cleanup in reversed(self._cleanups):
            log.info("stopping: %s", getattr(cleanup, "__qualname__", cleanup))
            try:
                await cleanup()
            except Exception:  # keep stopping the rest: nothing may be left behind
                log.exception("while stopping the lab")
        self._cleanups.clear()
        self.layout.state_file.unlink(missing_ok=True)


async def amain(args: argparse.Namespace) -> int:
    lab = Lab(args)
    (lab.layout.root / ERROR_FILE).unlink(missing_ok=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, lab.stopping.set)
    try:
        start = asyncio.ensure_future(lab.start())
        stopped = asyncio.ensure_future(lab.stopping.wait())
        await asyncio.wait({start, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start
            return 0
        stopped.cancel()
        start.result()
        log.info("lab ready in %s (%.2f s)", lab.layout.root, time.time() - lab.started_at)
        await lab.stopping.wait()
        log.info("stopping the lab")
        return 0
    except LabStartError as exc:
        _write_error(lab.layout, str(exc))
        log.error("lab failed to start: %s", exc)
        return 1
    except Exception as exc:
        _write_error(lab.layout, f"{type(exc).__name__}: {exc}")
        log.exception("lab failed")
        return 1
    finally:
        await lab.stop()
        log.info("lab stopped")


def _write_error(layout: LabLayout, message: str) -> None:
    with contextlib.suppress(OSError):
        write_private(layout.root / ERROR_FILE, (message.splitlines()[0] if message else "failed") .encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # asyncssh logs every connection at INFO; lab.log would grow with each ssh/kubeone call.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    args.dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    raise SystemExit(main())
