"""SVG snapshots of the ring view on fixed data (`tests/ui/fixed_ring.py`): fixed size, fixed clock, UTC.

Regenerate with `pytest tests/ui/test_snapshots.py --snapshot-update` and look at the SVGs before
committing them (`rsvg-convert` turns one into a PNG).
"""

from __future__ import annotations

import fixed_ring as fixtures
import pytest
from ui_support import SIZE, fixed_app

from etcdtui.ui.config import UiConfig, parse_config
from etcdtui.ui.widgets.flag_list import FlagList

pytestmark = pytest.mark.ui


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    # The snapshot worker posts the first snapshot right after mount; let it land.
    for _ in range(20):
        await pilot.pause()
        if pilot.app.ring.snapshots_applied:
            break


def test_healthy_ring(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(fixtures.healthy_ring()), terminal_size=SIZE, run_before=_settle)


def test_corrupted_ring_with_victim_selected(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def select_victim(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("down")

    assert snap_compare(fixed_app(fixtures.corrupted_ring()), terminal_size=SIZE, run_before=select_victim)


def test_stale_ring(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(fixed_app(fixtures.stale_ring()), terminal_size=SIZE, run_before=_settle)


def test_no_etcd_pods(snap_compare) -> None:  # type: ignore[no-untyped-def]
    reason = "no etcd pods in kube-system matching component=etcd: managed clusters such as EKS, GKE and AKS hide etcd"
    assert snap_compare(fixed_app(fixtures.error_ring(reason)), terminal_size=SIZE, run_before=_settle)


def test_help_readonly_with_production_accent(snap_compare) -> None:  # type: ignore[no-untyped-def]
    config: UiConfig = parse_config({"contexts": {"lab": {"accent": "#d70000"}}})

    async def open_help(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("question_mark")

    app = fixed_app(fixtures.healthy_ring(), readonly=True, config=config)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)


def test_corrupted_ring_narrow_with_an_elided_flag_in_full(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """120 cells: the key flags stay whole (one continues on a second line), long paths are cut in their middle,
    and the selected one is shown in full below the list."""
    async def select_ca_flag(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("down")
        await pilot.pause()
        pilot.app.ring.query_one(FlagList).focus()
        await pilot.press("end")
        await pilot.pause()

    assert snap_compare(fixed_app(fixtures.corrupted_ring()), terminal_size=(120, 45), run_before=select_ca_flag)
