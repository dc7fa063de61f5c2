"""One place turns a command into a running app: connect, build `Services`, check the cluster answers, run.

`etcdtui` (the ring view) and `etcdtui replace NODE` differ only in their `Destination`; a fleet screen or a
recover command adds one. The screenshots scripts and the lab UI tests use `connected_services` to get the
same `Services` a command gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from etcdtui import exitcodes
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.context_settings import ClusterSettings, SettingsError
from etcdtui.engine.snapshot import LinkState, RingSnapshot
from etcdtui.ui.config import ConfigError, UiConfig, load_config
from etcdtui.ui.navigation import RING_VIEW, Destination
from etcdtui.ui.services import Services
from etcdtui.ui.source import SnapshotSource

PREFLIGHT_TIMEOUT = 15.0  # seconds to wait for the first answer from the cluster before opening the UI


@dataclass(frozen=True)
class Connection:
    """Which cluster, and how to find the etcd pods on it."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "kube-system"
    selector: str = "component=etcd"
    poll_interval: float = 15.0


@contextlib.asynccontextmanager
async def connected_services(
    where: Connection,
    *,
    config: UiConfig | None = None,
    readonly: bool = False,
    flags: ClusterSettings | None = None,
    replace_state_dir: Path | None = None,
) -> AsyncIterator[Services]:
    """`Services` on a started ring engine (raises `ClusterError`); the engine stops on exit.

    The context's kubeone and ssh settings are resolved here, the same way for a lab and for a cluster
    configured by hand (`engine/context_settings.py`): flags, config.yaml, the kubeconfig's extension."""
    config = config or UiConfig()
    async with connected_engine(kubeconfig=where.kubeconfig, context=where.context, namespace=where.namespace,
                                selector=where.selector, poll_interval=where.poll_interval) as engine:
        context = engine.conn.context
        yield Services(
            ring=engine,
            conn=engine.conn,
            context_label=context,
            readonly=readonly or config.readonly_for(context),
            config=config,
            namespace=where.namespace,
            selector=where.selector,
            settings=config.clusters.settings_for(context, where.kubeconfig, flags),
            replace_state_dir=replace_state_dir,
        )


def run_command(
    where: Connection,
    open_at: Destination = RING_VIEW,
    *,
    prog: str = "etcdtui",
    readonly: bool = False,
    flags: ClusterSettings | None = None,
    replace_state_dir: Path | None = None,
) -> int:
    """Connect, check that the cluster answers, then run the UI; errors before that are one stderr line."""
    try:
        config = load_config()
    except ConfigError as exc:
        _fail(f"{prog}: {exc}")
        return exitcodes.UNKNOWN

    async def main() -> int:
        from etcdtui.cluster.kube import ClusterError

        try:
            async with connected_services(where, config=config, readonly=readonly, flags=flags,
                                          replace_state_dir=replace_state_dir) as services:
                failure = await preflight(services.ring)
                if failure:
                    _fail(f"{prog}: {failure}")
                    return exitcodes.UNKNOWN
                if not (sys.stdin.isatty() and sys.stdout.isatty()):
                    _fail(f"{prog}: the ring view needs a terminal; use `etcdtui check` in scripts")
                    return exitcodes.UNKNOWN
                from etcdtui.ui.app import make_app  # Textual, once the engine's first requests are out

                result = await make_app(services, open_at).run_async()
                return int(result or exitcodes.OK)
        except ClusterError as exc:
            _fail(f"{prog}: {exc.message}")
            return exitcodes.UNKNOWN
        except SettingsError as exc:  # a bad `etcdtui` extension in the kubeconfig
            _fail(f"{prog}: {exc}")
            return exitcodes.UNKNOWN

    return asyncio.run(main())


async def preflight(source: SnapshotSource) -> str | None:
    """The first verdict on the connection: a lasting error (401/403/unreachable at start) ends here."""

    async def first_answer() -> RingSnapshot | None:
        latest = source.latest
        if latest is not None and latest.connection.state is not LinkState.CONNECTING:
            return latest
        async for snap in source.subscribe():
            if snap.connection.state is not LinkState.CONNECTING:
                return snap
        return None

    try:
        snap = await asyncio.wait_for(first_answer(), PREFLIGHT_TIMEOUT)
    except TimeoutError:
        return None  # slow, not broken: the UI opens and shows "connecting"
    if snap is None:
        return None
    if snap.connection.state is LinkState.ERROR or (snap.connection.state is LinkState.STALE and not snap.rows):
        return snap.connection.reason or "cannot reach the cluster"
    return None


def _fail(message: str) -> None:
    """One line on stderr, never a traceback (the exit code is the caller's)."""
    sys.stderr.write(message.rstrip() + "\n")
