"""`etcdtui --all-contexts` / several `--context`: the fleet screen, and each context's ring view on demand.

The FleetWatch (one running RingEngine per context) lives for the whole command, outside any app: the
fleet screen and a context's ring view (the one app factory, `make_app`, on that context's engine) take
turns on the terminal. Enter on a row opens the ring view; Esc there comes back to the fleet, whose rows
and engines never stopped.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from textual.app import App
from textual.binding import Binding

from etcdtui import exitcodes
from etcdtui.engine.context_settings import ClusterSettings
from etcdtui.engine.fleet_config import FleetSettings
from etcdtui.engine.fleet_watch import FleetWatch
from etcdtui.ui.config import ConfigError, UiConfig, load_config
from etcdtui.ui.navigation import BACK_TO_FLEET, FLEET_RING_VIEW
from etcdtui.ui.screens.fleet import FleetScreen
from etcdtui.ui.services import Services
from etcdtui.ui.session import Connection, _fail


class FleetApp(App[str | None]):
    """Hosts the fleet screen; exits with the context to open (None: quit etcdtui)."""

    TITLE = "etcdtui"
    BINDINGS = [Binding("q", "quit_fleet", "Quit")]

    def __init__(self, watch: FleetWatch, *, readonly: bool = False, config: UiConfig | None = None) -> None:
        super().__init__()
        self.fleet_watch = watch
        self.readonly = readonly
        self.fleet = FleetScreen(watch.rows.values())
        if config is not None and config.theme:
            self.theme = config.theme

    def on_mount(self) -> None:
        self.title = "etcdtui · fleet" + (" · read-only" if self.readonly else "")
        self.push_screen(self.fleet)
        self.fleet_watch.on_row = self.fleet.put_row

    def on_unmount(self) -> None:
        self.fleet_watch.on_row = None

    def on_fleet_screen_open_context(self, message: FleetScreen.OpenContext) -> None:
        if self.fleet_watch.engine(message.context) is None:
            reason = self.fleet_watch.rows[message.context].worst
            self.notify(f"{message.context}: not connected: {reason}", severity="warning", markup=False)
            return
        self.exit(message.context)

    def action_quit_fleet(self) -> None:
        self.exit(None)


def ring_services(watch: FleetWatch, context: str, *, readonly: bool, config: UiConfig, where: Connection,
                  flags: ClusterSettings | None = None) -> Services | None:
    """The Services of one context's ring view, on the engine the fleet keeps running (its kubeone and ssh
    settings resolved as for a single context: flags, config.yaml, the kubeconfig's extension)."""
    engine = watch.engine(context)
    if engine is None:
        return None
    return Services(
        ring=engine, conn=engine.conn, context_label=context, readonly=readonly or config.readonly_for(context),
        config=config, namespace=where.namespace, selector=where.selector,
        settings=config.clusters.settings_for(context, where.kubeconfig, flags),
    )


async def fleet_loop(watch: FleetWatch, *, readonly: bool, config: UiConfig, where: Connection,
                     flags: ClusterSettings | None = None) -> int:
    from etcdtui.ui.app import make_app

    while True:
        context = await FleetApp(watch, readonly=readonly, config=config).run_async()
        if context is None:
            return exitcodes.OK
        services = ring_services(watch, context, readonly=readonly, config=config, where=where, flags=flags)
        if services is None:
            continue
        result = await make_app(services, FLEET_RING_VIEW).run_async()
        if result != BACK_TO_FLEET:
            return int(result or exitcodes.OK)


def run_fleet_command(where: Connection, contexts: Sequence[str], settings: FleetSettings, *,
                      readonly: bool = False, flags: ClusterSettings | None = None) -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        _fail(f"etcdtui: {exc}")
        return exitcodes.UNKNOWN
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        _fail("etcdtui: the fleet screen needs a terminal; use `etcdtui check --all-contexts` in scripts")
        return exitcodes.UNKNOWN

    async def main() -> int:
        watch = FleetWatch(where.kubeconfig, contexts, namespace=where.namespace, selector=where.selector,
                           concurrency=settings.concurrency, timeout=settings.timeout or 20.0,
                           poll_interval=where.poll_interval)
        async with watch:
            return await fleet_loop(watch, readonly=readonly, config=config, where=where,
                                    flags=flags)

    return asyncio.run(main())
