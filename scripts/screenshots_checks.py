"""The checks screen before and after enabling the checks through the lab's kubeone (used by screenshots.py).

checks-before.svg: every member's checks off, the etcd 3.5.1 risk, KubeOne and backups panels.
checks-after.svg: after Enable → confirm → KubeOne's plan answered "yes": all checks on, before/after table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.screens.checks import ChecksScreen
from etcdtui.ui.screens.checks_dialogs import ConfirmEnableScreen, PlanDialog
from etcdtui.ui.session import Connection, connected_services


async def _until(pilot: Any, what: str, condition: Callable[[], bool], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: checks: timed out waiting for {what}")
        await pilot.pause(0.2)


async def shoot_checks(kubeconfig: Path, out: Path, size: tuple[int, int], to_png: Callable[[Path], None]) -> None:
    async with connected_services(Connection(kubeconfig=str(kubeconfig), poll_interval=3)) as services:
        app: EtcdTuiApp = make_app(services)
        async with app.run_test(size=size) as pilot:
            await _until(pilot, "a complete ring", lambda: bool(app.ring.snapshot and app.ring.snapshot.complete), 60)
            await pilot.press("c")
            screen = app.screen
            assert isinstance(screen, ChecksScreen)
            await _until(pilot, "the report", lambda: screen.reports_loaded > 0, 30)
            await pilot.pause(0.3)
            _save(app, out, "checks-before", to_png)
            await _click(pilot, "#checks-enable")
            await _until(pilot, "the confirmation", lambda: isinstance(app.screen, ConfirmEnableScreen), 10)
            await _click(pilot, "#confirm-run")
            await _until(pilot, "KubeOne's plan", lambda: isinstance(app.screen, PlanDialog), 60)
            await _click(pilot, "#plan-yes")
            await _until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 180)
            app.clear_notifications()
            await pilot.pause(0.3)
            _save(app, out, "checks-after", to_png)


async def _click(pilot: Any, selector: str) -> None:
    """Click once the widget is on the current screen and laid out."""
    def ready() -> bool:
        found = pilot.app.screen.query(selector)
        return bool(found) and found.first().region.area > 0

    await _until(pilot, selector, ready, 60)
    await pilot.pause()
    await pilot.click(selector)


def _save(app: EtcdTuiApp, out: Path, name: str, to_png: Callable[[Path], None]) -> None:
    app.save_screenshot(f"{name}.svg", path=str(out))
    print(f"wrote {out / (name + '.svg')}")
    to_png(out / f"{name}.svg")
