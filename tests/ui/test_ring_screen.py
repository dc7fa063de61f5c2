"""Pilot tests of the ring view on fixed data (`tests/ui/fixed_ring.py`): keys, help, read-only, selection,
in-place updates, and errors shown instead of crashing. Fixed data stands in for the engine here; the same
screen on the real lab is `test_ring_lab.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import fixed_ring as fixtures
import pytest
from textual.command import CommandPalette
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Footer, Static
from ui_support import SIZE, fixed_app, source_of

from etcdtui.engine.snapshot import RingSnapshot
from etcdtui.ui.app import make_app
from etcdtui.ui.commands import RingCommands
from etcdtui.ui.screens.help import HelpScreen
from etcdtui.ui.screens.ring import RingScreen
from etcdtui.ui.services import Services
from etcdtui.ui.widgets.flag_list import FlagList
from etcdtui.ui.widgets.member_detail import MemberDetail
from etcdtui.ui.widgets.member_table import MemberTable
from etcdtui.ui.widgets.ring_header import RingHeader

pytestmark = pytest.mark.ui


def _notes(messages: list[Message]) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


def _text(widget: Static) -> str:
    return str(widget.render())


async def _ready(pilot, app, seq: int = 1) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        await pilot.pause()
        if app.ring.snapshots_applied >= seq:
            return
    raise AssertionError("the ring screen never received a snapshot")


async def test_a_snapshot_known_at_start_is_in_the_first_frame() -> None:
    """The command's engine has usually polled before the app opens (ui/session.py): that snapshot is applied
    at mount, so the first frame is the table, not "waiting…"."""
    snap = fixtures.healthy_ring()
    services = fixtures.fixed_services()
    ring = services.ring
    assert isinstance(ring, fixtures.FixedSource)
    ring.already_polled(snap)
    app = make_app(services)
    async with app.run_test(size=SIZE):
        assert app.ring.snapshot is snap and app.ring.snapshots_applied == 1  # before any message ran
        assert app.ring.query_one(MemberTable).row_count == 3


async def test_table_shows_every_member_with_one_leader() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        table = app.ring.query_one(MemberTable)
        assert table.row_count == 3
        leaders = [key for key in ("etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3")
                   if table.get_cell(key, "leader").plain == "★"]
        assert leaders == ["etcd-lab-cp-1"]
        assert {table.get_cell(k, "status").plain for k in ("etcd-lab-cp-1", "etcd-lab-cp-2")} == {"Running"}
        assert table.get_cell("etcd-lab-cp-2", "hash").plain == "✓ equal"
        assert table.get_cell("etcd-lab-cp-2", "checks").plain == "off/off/off"
        header = _text(app.ring.query_one(RingHeader))
        assert "WARNING" in header and "members 3" in header and "quorum 2" in header and "can lose 1" in header


async def test_pending_feature_keys_say_so() -> None:
    messages: list[Message] = []
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _ready(pilot, app)
        await pilot.press("l", "L", "R")  # `c` opens the checks screen (tests/ui/test_checks_screen.py)
        await pilot.pause()
    notes = _notes(messages)
    assert notes.count("logs need a live cluster connection") == 2  # fixed data: no cluster to read logs from
    assert "replacing needs a live cluster connection" in notes  # fixed data: no cluster to change


async def test_help_screen_opens_and_closes() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = " ".join(_text(s) for s in app.screen.query(Static))
        assert "replace the selected member" in body and "ctrl+p" in body
        await pilot.press("escape")
        assert isinstance(app.screen, RingScreen)


async def test_footer_lists_the_ring_keys() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        keys = {b.binding.key for b in app.ring.active_bindings.values() if b.binding.show and b.enabled}
        assert {"l", "L", "c", "R", "question_mark", "q"} <= keys
        assert app.ring.query_one(Footer).display


async def test_readonly_hides_replace_everywhere() -> None:
    messages: list[Message] = []
    app = fixed_app(fixtures.healthy_ring(), readonly=True)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _ready(pilot, app)
        shown = {b.binding.key for b in app.ring.active_bindings.values() if b.binding.show}
        assert "R" not in shown and "l" in shown
        await pilot.press("R")
        await pilot.pause()
        assert not any("Replacing" in n for n in _notes(messages))
        await pilot.press("question_mark")
        body = " ".join(_text(s) for s in app.screen.query(Static))
        assert "replace the selected member" not in body and "read-only" in body


async def test_palette_offers_the_same_actions_and_respects_readonly() -> None:
    for readonly, expect_replace in ((False, True), (True, False)):
        app = fixed_app(fixtures.healthy_ring(), readonly=readonly)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot, app)
            provider = RingCommands(app.ring)
            titles = [str(hit.text) async for hit in provider.discover()]
            assert any(t.startswith("Logs:") for t in titles)
            assert any(t.startswith("Replace:") for t in titles) is expect_replace
            found = [hit async for hit in provider.search("all logs")]
            assert found and "All logs" in str(found[0].text)


async def test_palette_runs_an_action() -> None:
    messages: list[Message] = []
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _ready(pilot, app)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"all logs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
    assert "logs need a live cluster connection" in _notes(messages)


async def test_selection_moves_the_detail_panel() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        title = app.ring.query_one("#detail-title", Static)
        assert "etcd-lab-cp-1" in _text(title)
        await pilot.press("down")
        assert "etcd-lab-cp-2" in _text(title)
        findings = _text(app.ring.query_one("#detail-findings-text", Static))
        assert "corruption.hash_mismatch" in findings and "peers_hash" in findings
        node = _text(app.ring.query_one("#detail-node-text", Static))
        assert "InternalIP: 10.0.0.12" in node and "kubelet: v1.32.4" in node
        assert "--experimental-initial-corrupt-check=true" in app.ring.query_one(FlagList).flags
        assert app.ring.query_one(MemberDetail).query_one("#trend-db-size").query_one("Sparkline").data


async def test_update_keeps_cursor_and_patches_only_changed_cells() -> None:
    first = fixtures.healthy_ring()
    app = fixed_app(first)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        table = app.ring.query_one(MemberTable)
        await pilot.press("down", "down")
        assert table.selected_key == "etcd-lab-cp-3"
        before = table.cells_updated
        # One member's revision moves on: exactly one cell changes.
        rows = tuple(replace(r, revision=41_999) if r.key == "etcd-lab-cp-2" else r for r in first.rows)
        source_of(app).push(replace(first, rows=rows, seq=2))
        await _ready(pilot, app, seq=2)
        assert table.cells_updated - before == 1
        assert table.get_cell("etcd-lab-cp-2", "revision").plain == "41999"
        assert table.selected_key == "etcd-lab-cp-3"
        # A member disappears and another appears before the cursor: the cursor stays on its member.
        extra = replace(first.rows[0], key="etcd-a-new", member_id="1234")
        source_of(app).push(replace(first, rows=(extra, first.rows[1], first.rows[2]), seq=3))
        await _ready(pilot, app, seq=3)
        assert table.row_count == 3
        assert table.selected_key == "etcd-lab-cp-3"
        assert "etcd-lab-cp-1" not in [str(k.value) for k in table.rows]


async def test_stale_data_is_marked_and_recovers() -> None:
    messages: list[Message] = []
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _ready(pilot, app)
        source_of(app).push(fixtures.stale_ring())
        await _ready(pilot, app, seq=2)
        header = _text(app.ring.query_one(RingHeader))
        assert "STALE since 02:59:20 (40s ago)" in header and "connection refused" in header
        assert app.ring.query_one(MemberTable).row_count == 3  # the last data stays on screen
        source_of(app).push(fixtures.healthy_ring())
        await _ready(pilot, app, seq=3)
        assert "STALE" not in _text(app.ring.query_one(RingHeader))
    notes = _notes(messages)
    assert any("lost the API server" in n for n in notes) and any("live again" in n for n in notes)


async def test_corruption_transition_raises_an_error_toast() -> None:
    messages: list[Message] = []
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await _ready(pilot, app)
        source_of(app).push(fixtures.corrupted_ring())
        await _ready(pilot, app, seq=2)
    errors = [m.notification for m in messages if isinstance(m, Notify) and m.notification.severity == "error"]
    assert errors and errors[0].message.startswith("CORRUPTION: etcd-lab-cp-2 hashes revision 41870")


@pytest.mark.parametrize(
    "reason",
    [
        "cannot list pods in namespace kube-system (RBAC: needs list/watch pods)",
        "no etcd pods in kube-system matching component=etcd: managed clusters such as EKS, GKE and AKS hide etcd",
    ],
)
async def test_lasting_errors_are_shown_not_crashed_on(reason: str) -> None:
    app = fixed_app(fixtures.error_ring(reason))
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        empty = app.ring.query_one("#empty-state", Static)
        assert empty.display and reason in _text(empty)
        assert "ERROR" in _text(app.ring.query_one(RingHeader))
        assert not app.ring.query_one(MemberTable).display
        await pilot.press("l")  # nothing selected: a warning, not a crash
        await pilot.pause()


class _BrokenSource:
    """A source whose stream dies (e.g. a bug or a lost engine): the app must say so and stay up."""

    latest: RingSnapshot | None = None

    async def subscribe(self) -> AsyncIterator[RingSnapshot]:
        yield fixtures.healthy_ring()
        raise RuntimeError("engine stopped unexpectedly")


async def test_a_failing_source_is_shown_not_crashed_on() -> None:
    app = make_app(Services(ring=_BrokenSource(), context_label="lab", clock=fixtures.clock))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.pause()
            if "engine stopped" in _text(app.ring.query_one(RingHeader)):
                break
        assert "lost the data source: RuntimeError: engine stopped unexpectedly" in _text(
            app.ring.query_one(RingHeader)
        )
        assert app.ring.query_one(MemberTable).row_count == 3  # what we had stays visible
        assert app.is_running


async def test_refresh_key_asks_the_source() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("ctrl+r")
        assert source_of(app).refreshes == 1


async def test_q_quits() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_theme_change_recolours_the_cells() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        table = app.ring.query_one(MemberTable)

        def differs_colour() -> str:
            style = table.get_cell("etcd-lab-cp-2", "hash").style
            assert not isinstance(style, str) and style.color is not None and style.color.triplet is not None
            return style.color.triplet.hex.lower()

        assert differs_colour() == app.theme_variables["error"].lower()
        app.theme = "nord"
        await pilot.pause()
        assert differs_colour() == app.theme_variables["error"].lower() != "#b93c5b"


async def test_exec_unavailable_is_explained() -> None:
    from etcdtui.engine.snapshot import ExecState, ExecStatus

    reason = "pods/exec forbidden: RBAC needs create on pods/exec in kube-system"
    snap = replace(fixtures.healthy_ring(), exec=ExecState(ExecStatus.UNAVAILABLE, reason=reason))
    app = fixed_app(snap)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot, app)
        header = _text(app.ring.query_one(RingHeader))
        assert f"etcdctl unavailable ({reason}): pod-level data only" in header
        assert app.ring.query_one(MemberTable).row_count == 3
