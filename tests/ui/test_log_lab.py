"""The logs screen in the real app on a real lab (corruption checks on), driven by Pilot: `L` opens all
members' logs; `lab corrupt lab-cp-2` -> the corruption lines are in the logs (highlighted) and in the
findings pane, and the ring view's verdict turns CORRUPTION, within 30 s; `l` opens one member's logs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_lab import lab_cli, running_lab
from ui_support import SIZE

from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.logs import LogsScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.log_view import CORRUPTION_STYLE, LogView

pytestmark = [pytest.mark.integration, pytest.mark.ui, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("ui-log-lab")
    with running_lab(root, "--corrupt-checks", "on"):
        yield root


async def _until(pilot: Any, condition: Callable[[], Any], wait_s: float, what: str) -> Any:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.2)
        value = condition()
        if value:
            return value
    raise AssertionError(f"not within {wait_s:.0f} s: {what}")


async def test_logs_of_the_corrupted_lab(lab: Path) -> None:
    async with connected_services(Connection(kubeconfig=str(lab / "kubeconfig"), poll_interval=3)) as services:
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.ring.snapshot and app.ring.snapshot.complete, 30, "a complete ring")
            await pilot.press("L")
            screen = await _until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen, 5, "logs open")
            store = screen.store
            await _until(pilot, lambda: len(store.members) == 3 and len(store) > 100, 20, "history of 3 members")
            done = await asyncio.to_thread(lab_cli, lab, "corrupt", "lab-cp-2")
            assert done.returncode == 0, done.stderr
            started = time.monotonic()
            await _until(pilot, lambda: any(p.finding.is_corruption for p in store.pinned), 30,
                         "corruption in the findings pane")
            await _until(pilot, lambda: app.ring.snapshot and app.ring.snapshot.verdict is Verdict.CORRUPTION,
                         30 - (time.monotonic() - started), "the ring verdict CORRUPTION")
            # the corruption line is highlighted in the log view
            view = screen.query_one(LogView)
            seq = next(p.seq for p in store.pinned if p.finding.is_corruption)
            view.go_to_seq(seq)
            await pilot.pause()
            strip = view._strips(seq, None)[0]
            assert any(seg.style is not None and seg.style.bgcolor == CORRUPTION_STYLE.bgcolor for seg in strip)
            # back to the ring, then one member's logs
            await pilot.press("escape")
            assert app.screen is app.ring
            await pilot.press("down")
            await pilot.press("l")
            one = await _until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen, 5, "member logs")
            await _until(pilot, lambda: len(one.store.filter.members) == 1 and len(one.store) > 0, 10, "filtered")
            assert {line.member for line in one.store.iter_view()} == set(one.store.filter.members)
