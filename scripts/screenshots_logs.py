"""The logs screen screenshot (used by `scripts/screenshots.py`; runnable alone: `python scripts/screenshots_logs.py`).

A real lab with corruption checks on, the real app on it, the logs of all members open; `lab corrupt
lab-cp-2`, then wait until a corruption line is in the logs, select it -> logs-corruption.svg (+ PNG).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from etcdtui.ui.app import make_app
from etcdtui.ui.screens.logs import LogsScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.log_view import LogView


async def shoot_logs(root: Path, out: Path, size: tuple[int, int], to_png: Callable[[Path], None]) -> None:
    async with connected_services(Connection(kubeconfig=str(root / "kubeconfig"), poll_interval=3)) as services:
        app = make_app(services)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)
            app.open_logs()
            await pilot.pause(3.0)  # history of all members
            await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "etcdtui", "lab", "corrupt", "lab-cp-2", "--dir", str(root)],
                check=True, capture_output=True, timeout=60)
            screen = app.screen
            assert isinstance(screen, LogsScreen)
            deadline = time.monotonic() + 60
            while not any(p.finding.is_corruption for p in screen.store.pinned):
                if time.monotonic() > deadline:
                    raise SystemExit("screenshots: no corruption line in the logs after 60 s")
                await pilot.pause(0.5)
            await pilot.pause(2.0)
            first = next(p for p in screen.store.pinned if p.finding.is_corruption)
            screen.query_one(LogView).go_to_seq(first.seq)
            await pilot.pause(0.5)
            app.save_screenshot("logs-corruption.svg", path=str(out))
    print(f"wrote {out / 'logs-corruption.svg'}")
    to_png(out / "logs-corruption.svg")


if __name__ == "__main__":
    from screenshots import ROOT, SIZE, running_lab, to_png  # scripts/ is on sys.path when run as a script

    with running_lab("--corrupt-checks", "on") as lab_root:
        asyncio.run(shoot_logs(lab_root, ROOT / "screenshots", SIZE, to_png))
