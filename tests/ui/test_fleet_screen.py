"""The fleet screen on fixed data (tests/ui/fixed_ring.py): SVG snapshots, worst-first order, `/` filter, Enter
posting the context to open, the cursor staying on its context across live updates."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import fixed_ring as fixtures
import pytest
from textual.app import App

from etcdtui.engine.fleet_summary import FleetRow, row_from_failure, row_from_snapshot
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.screens.fleet import FleetScreen

pytestmark = pytest.mark.ui

SIZE = (160, 20)


def fleet_rows() -> list[FleetRow]:
    healthy = fixtures.healthy_ring(checks_on=True)
    rows = [
        row_from_snapshot(replace(healthy, context="prod-eu", server="https://10.0.1.10:6443")),
        row_from_snapshot(replace(fixtures.healthy_ring(), context="prod-us", server="https://10.0.2.10:6443")),
        row_from_snapshot(replace(fixtures.corrupted_ring(), context="staging", server="https://10.0.3.10:6443")),
        row_from_failure("old-lab", "cannot reach the API server https://10.0.4.10:6443: connection refused",
                         "https://10.0.4.10:6443"),
        row_from_failure("edge-1", "no answer within 20s", "https://10.0.5.10:6443"),
    ]
    return rows


class FleetApp(App[None]):
    def __init__(self, rows: list[FleetRow]) -> None:
        super().__init__()
        self.screen_rows = rows
        self.opened: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(FleetScreen(self.screen_rows, clock=lambda: fixtures.clock() + timedelta(seconds=7)))

    def on_fleet_screen_open_context(self, message: FleetScreen.OpenContext) -> None:
        self.opened.append(message.context)


def test_fleet_screen_worst_first(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(FleetApp(fleet_rows()), terminal_size=SIZE)


def test_fleet_screen_filtered(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def filter_prod(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("slash", "p", "r", "o", "d", "enter")

    assert snap_compare(FleetApp(fleet_rows()), terminal_size=SIZE, run_before=filter_prod)


async def test_order_filter_enter_and_cursor_kept_across_updates() -> None:
    app = FleetApp(fleet_rows())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        # CRITICAL > UNKNOWN > WARNING > OK; ties by name.
        assert screen.table.shown == ["staging", "edge-1", "old-lab", "prod-eu", "prod-us"]
        await pilot.press("down", "down", "down")
        assert screen.table.selected == "prod-eu"
        # prod-us turns CORRUPTION: it moves to the top, the cursor stays on prod-eu.
        screen.put_row(replace(screen.rows["prod-us"], verdict=Verdict.CORRUPTION, hashes="DIFFER"))
        await pilot.pause(0.2)
        assert screen.table.shown[:2] == ["prod-us", "staging"] and screen.table.selected == "prod-eu"
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == ["prod-eu"]
        await pilot.press("slash", "e", "d", "g", "e")
        await pilot.pause()
        assert screen.table.shown == ["edge-1"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(screen.table.shown) == 5 and screen.filter_text == ""
