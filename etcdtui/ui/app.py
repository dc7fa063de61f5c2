"""The Textual app: wires a snapshot source (the engine, or fixed data) to the ring screen.

`make_app()` is the one factory used by `etcdtui`, the tests and the screenshots script (Posting's pattern);
`run_app()` builds the real engine and runs the app on one asyncio loop with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from textual.app import App
from textual.worker import Worker, WorkerState

from etcdtui import exitcodes
from etcdtui.engine.snapshot import LinkState, RingSnapshot
from etcdtui.ui.commands import RingCommands
from etcdtui.ui.config import ConfigError, UiConfig, load_config
from etcdtui.ui.screens.ring import RingScreen
from etcdtui.ui.source import SnapshotSource, refresh

PREFLIGHT_TIMEOUT = 15.0  # seconds to wait for the first answer from the cluster before opening the UI


def _fail(message: str) -> None:
    """One line on stderr, never a traceback (the exit code is the caller's)."""
    sys.stderr.write(message.rstrip() + "\n")


def _now() -> datetime:
    return datetime.now(UTC)


class EtcdTuiApp(App[int]):
    CSS_PATH = "etcdtui.tcss"
    TITLE = "etcdtui"
    COMMANDS = App.COMMANDS | {RingCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        source: SnapshotSource,
        *,
        readonly: bool = False,
        context_label: str | None = None,
        config: UiConfig | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.source = source
        self.readonly = readonly
        self.config = config or UiConfig()
        self.clock = clock
        latest = source.latest
        self.context_label = context_label or (latest.context if latest else None)
        self._accent = self.config.accent_for(self.context_label) if self.context_label else None
        super().__init__()
        if self.config.theme:
            self.theme = self.config.theme
        self.ring = RingScreen(readonly=readonly, context=self.context_label, clock=clock)

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()
        # `$context-accent`: the per-context colour from the config (e.g. red for production), else the theme's.
        accent = getattr(self, "_accent", None)
        variables["context-accent"] = accent or variables.get("accent", "#ffa62b")
        return variables

    def on_mount(self) -> None:
        self.push_screen(self.ring)
        self.title = f"etcdtui · {self.context_label or 'cluster'}" + (" · read-only" if self.readonly else "")
        self.run_worker(self._follow_source(), name="snapshots", group="snapshots", exit_on_error=False)
        from etcdtui.ui.screens.logs import ensure_log_engine

        ensure_log_engine(self)  # log findings feed the ring view from the start (no-op without a cluster)
        if not self.readonly:  # an interrupted replace procedure of this cluster is offered for resuming
            from etcdtui.ui.widgets.checklist_resume import offer_resume

            self.call_later(offer_resume, self)

    async def _follow_source(self) -> None:
        latest = self.source.latest
        if latest is not None:
            self.ring.post_message(RingScreen.SnapshotArrived(latest))
        async for snapshot in self.source.subscribe():
            self.ring.post_message(RingScreen.SnapshotArrived(snapshot))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The source failing must be shown, never crash the app (exit_on_error=False above).
        if event.worker.group == "snapshots" and event.state is WorkerState.ERROR:
            error = event.worker.error
            reason = f"lost the data source: {type(error).__name__}: {error}".splitlines()[0]
            self.ring.post_message(RingScreen.SourceFailed(reason))

    def refresh_source(self) -> bool:
        return refresh(self.source)


def make_app(
    source: SnapshotSource,
    *,
    readonly: bool = False,
    context_label: str | None = None,
    config: UiConfig | None = None,
    clock: Callable[[], datetime] = _now,
) -> EtcdTuiApp:
    return EtcdTuiApp(source, readonly=readonly, context_label=context_label, config=config, clock=clock)


def run_app(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str = "kube-system",
    selector: str = "component=etcd",
    readonly: bool = False,
    poll_interval: float = 15.0,
    kubeone: tuple[str | None, str | None, str | None] = (None, None, None),  # binary, kubeone.yaml, tf.json
) -> int:
    """Connect, check that the cluster answers, then run the UI; errors before that are one stderr line."""
    try:
        config = load_config()
    except ConfigError as exc:
        _fail(f"etcdtui: {exc}")
        return exitcodes.UNKNOWN
    return asyncio.run(
        _run(
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            selector=selector,
            readonly=readonly,
            poll_interval=poll_interval,
            config=config,
            kubeone=kubeone,
        )
    )


@contextlib.asynccontextmanager
async def connected_engine(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str = "kube-system",
    selector: str = "component=etcd",
    poll_interval: float = 15.0,
) -> AsyncIterator[Any]:
    """A started `RingEngine` on its own connection, stopped and closed on exit (raises `ClusterError`).

    Shared by `run_app`, the screenshots script, the startup benchmark and the lab UI tests.
    """
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.ring_engine import RingEngine

    conn = await ClusterConnection.open(kubeconfig=kubeconfig, context=context)
    engine = RingEngine(conn, namespace=namespace, selector=selector, poll_interval=poll_interval)
    try:
        await engine.start()
        yield engine
    finally:
        await engine.stop()
        await conn.close()


async def _run(
    *, config: UiConfig, readonly: bool, kubeone: tuple[str | None, str | None, str | None], **engine_args: Any
) -> int:
    from etcdtui.cluster.kube import ClusterError

    try:
        async with connected_engine(**engine_args) as engine:
            failure = await _preflight(engine)
            if failure:
                _fail(f"etcdtui: {failure}")
                return exitcodes.UNKNOWN
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                _fail("etcdtui: the ring view needs a terminal; use `etcdtui check` in scripts")
                return exitcodes.UNKNOWN
            context = engine.conn.context
            app = make_app(
                engine, readonly=readonly or config.readonly_for(context), context_label=context, config=config
            )
            from etcdtui.engine.checks import settings_for

            binary, manifest, tfjson = kubeone  # flags win over the config file, which wins over the lab's
            paths = config.kubeone_for(context)
            app.kubeone_settings = settings_for(  # type: ignore[attr-defined]  # read by the checks screen
                engine_args.get("kubeconfig"), binary=binary or paths.binary,
                manifest=manifest or paths.manifest, tfjson=tfjson or paths.tf,
            )
            result = await app.run_async()
            return int(result or exitcodes.OK)
    except ClusterError as exc:
        _fail(f"etcdtui: {exc.message}")
        return exitcodes.UNKNOWN


async def _preflight(source: SnapshotSource) -> str | None:
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
