"""Pilot tests of the logs screen on fixed data: real fixture logs of a corrupted 3.5.1 ring.

The store is filled from `tests/fixtures/etcd-logs` (no cluster); the screen, the line-API view, the
filter/find workers and the save path are the real ones.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input

from etcdtui.core.log_lines import LEVEL_CODE, Entry
from etcdtui.core.logstore import LogStore
from etcdtui.engine.log_replay import store_from_files
from etcdtui.ui.screens.logs import DetailScreen, LogsScreen, StoreSource
from etcdtui.ui.widgets.log_view import LogView

pytestmark = pytest.mark.ui

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "etcd-logs"
SIZE = (160, 40)


def corrupted_store() -> LogStore:
    return store_from_files({
        "etcd-lab-cp-1": FIXTURES / "3.5.1-corrupt-bbolt-leader.log",
        "etcd-lab-cp-2": FIXTURES / "3.5.1-corrupt-bbolt-follower.log",
        "etcd-lab-cp-3": FIXTURES / "3.5.1-corrupt-bbolt-victim-restart-initialcheck.log",
    })


class LogsApp(App[None]):
    def __init__(self, store: LogStore, save_dir: Path | None = None) -> None:
        super().__init__()
        self.store = store
        self.logs = LogsScreen(StoreSource(store, dict.fromkeys(store.members, "live")), context="lab",
                               save_dir=save_dir)

    def on_mount(self) -> None:
        self.push_screen(self.logs)


async def _settle(pilot, app: LogsApp) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        await pilot.pause()
        if all(worker.is_finished for worker in app.workers):
            break


async def test_filter_find_follow_and_findings(tmp_path: Path) -> None:
    store = corrupted_store()
    total = len(store)
    app = LogsApp(store, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, app)
        screen = app.logs
        view = screen.query_one(LogView)
        assert view.following and view.scroll_y == view.max_scroll_y
        # filter: only lines mentioning "hash", then invert
        await pilot.press("slash", *"hash", "enter")
        await _settle(pilot, app)
        shown = len(store)
        assert 0 < shown < total
        assert all("hash" in line.text.lower() or line.is_marker for line in store.iter_view())
        await pilot.press("v")
        await _settle(pilot, app)
        assert len(store) == total - shown
        await pilot.press("v", "slash", "ctrl+u", "enter")  # clear the pattern
        await _settle(pilot, app)
        assert len(store) == total
        # find does not change the view; n moves the cursor to a match and pauses follow
        await pilot.press("f", *"alarm", "enter")
        await _settle(pilot, app)
        assert len(store) == total
        assert screen.find_count is not None and screen.find_count > 0
        assert view.cursor_seq is not None and "alarm" in store.line(view.cursor_seq).text.lower()  # type: ignore[union-attr]
        assert not view.following
        first = view.cursor_seq
        await pilot.press("n")
        assert view.cursor_seq is not None and view.cursor_seq > first
        await pilot.press("N")
        assert view.cursor_seq == first
        # follow back on
        await pilot.press("space")
        assert view.following and view.cursor_seq is None
        # next finding jumps to a corruption line; the findings pane lists them newest first
        await pilot.press("home", "right_square_bracket")
        line = store.line(view.cursor_seq)  # type: ignore[arg-type]
        assert line is not None and line.finding is not None
        kinds = [p.finding.kind for p in store.pinned]
        assert any(k.startswith("corruption.") for k in kinds)
        # expand the line to its fields
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert '"msg":' in app.screen.body and f"finding: {line.finding.kind}" in app.screen.body
        await pilot.press("escape")
        assert app.screen is screen


async def test_bad_regex_keeps_the_view(tmp_path: Path) -> None:
    store = corrupted_store()
    app = LogsApp(store, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, app)
        await pilot.press("x", "slash", *"(unclosed", "enter")
        await _settle(pilot, app)
        assert "bad regex" in app.logs.filter_error
        assert len(store) == store.total_lines


async def test_member_filter_and_save(tmp_path: Path) -> None:
    store = corrupted_store()
    app = LogsApp(store, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, app)
        await pilot.press("m")  # first member only
        await _settle(pilot, app)
        assert {line.member for line in store.iter_view()} == {"etcd-lab-cp-1"}
        target = tmp_path / "saved.log"
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#save-path", Input).value = str(target)  # typing 60 keys costs seconds
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.logs.last_saved:
                break
        assert app.logs.last_saved == target
    mode = stat.S_IMODE(os.stat(target).st_mode)
    assert mode == 0o600
    text = target.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert "# context: lab" in header
    assert any(h.startswith("# members: etcd-lab-cp-1, etcd-lab-cp-2, etcd-lab-cp-3") for h in header)
    assert any("members etcd-lab-cp-1" in h for h in header if h.startswith("# filter"))
    assert any(h.startswith("# time window: 20") for h in header)
    assert body and all(" etcd-lab-cp-1 " in line for line in body)
    assert len(body) == len([1 for line in (FIXTURES / "3.5.1-corrupt-bbolt-leader.log").read_text().splitlines()
                             if line.strip()])


def _live(store: LogStore, start: int, count: int) -> None:
    now = time.time()
    store.add([Entry("etcd-lab-cp-1", now + i / 1000, LEVEL_CODE["info"], f"live {start + i}")
               for i in range(count)], time.monotonic())


async def _released(pilot, store: LogStore) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        await pilot.pause(0.05)
        if store.pending == 0:
            break
    await pilot.pause(0.1)


async def test_follow_and_pause_with_live_lines() -> None:
    store = corrupted_store()
    app = LogsApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot, app)
        view = app.logs.query_one(LogView)
        bottom = view.max_scroll_y
        _live(store, 0, 50)  # live lines: released after the reordering window, then followed
        await _released(pilot, store)
        last = store.line(store.seq_at(len(store) - 1))  # type: ignore[arg-type]
        assert last is not None and last.text == "live 49"
        assert view.following and view.scroll_y == view.max_scroll_y > bottom
        await pilot.press("space")  # pause: new lines are counted, the view stays
        assert not view.following
        where = view.scroll_y
        _live(store, 50, 30)
        await _released(pilot, store)
        assert view.scroll_y == where and view.new_while_paused == 30
        await pilot.press("space")  # follow again: jumps to the end
        await pilot.pause()
        assert view.following and view.scroll_y == view.max_scroll_y
        await pilot.press("pageup")  # scrolling up pauses following
        assert not view.following


def test_snapshot_corruption_highlighted(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Fixed data: the victim's initial-check failure selected (red), findings pane newest first."""

    async def select_corruption(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot, pilot.app)
        store = pilot.app.store
        seq = next(line.seq for line in store.iter_view()
                   if line.finding is not None and line.finding.kind == "corruption.initial_hash_mismatch")
        pilot.app.logs.query_one(LogView).go_to_seq(seq)
        await pilot.pause()

    assert snap_compare(LogsApp(corrupted_store()), terminal_size=SIZE, run_before=select_corruption)


async def test_wrap_and_timestamps_change_the_rendering() -> None:
    store = corrupted_store()
    app = LogsApp(store)
    async with app.run_test(size=(80, 30)) as pilot:
        await _settle(pilot, app)
        view = app.logs.query_one(LogView)
        first_row = view.render_line(0).text
        assert first_row[:2].isdigit()  # HH:MM:SS… timestamp column
        await pilot.press("t")
        await pilot.pause()
        assert not view.render_line(0).text[:2].isdigit()
        long_seq = next(line.seq for line in store.iter_view() if len(line.text) > 200)
        await pilot.press("w")
        view.go_to_seq(long_seq)
        await pilot.pause()
        assert view.wrap
        rows = [view.render_line(y).text for y in range(view.size.height)]
        assert all(len(row) <= view.size.width for row in rows)
        # the long line continues on the next rows instead of being cut: its end is on screen
        parts = view._strips(long_seq, view.size.width)
        assert len(parts) >= 3
        tail = parts[-1].text.strip()
        assert any(tail and tail in row for row in rows)


async def test_save_full_buffer_ignores_the_filter_and_overwrites_as_0600(tmp_path: Path) -> None:
    from etcdtui.core.log_filter import LogFilter
    from etcdtui.engine.log_save import save

    store = corrupted_store()
    store.set_filter(LogFilter(pattern="hash"))
    target = tmp_path / "all.log"
    target.write_text("old\n")
    target.chmod(0o644)  # an existing file is truncated and made private
    count = await save(store, target, context="lab", filtered=False)
    assert count == store.total_lines
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    text = target.read_text()
    assert "# filter: none (full buffer)" in text and "old" not in text.splitlines()[-1]
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == store.total_lines
