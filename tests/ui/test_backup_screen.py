"""The ring view's BACKUP line and `b` through the real app on fixed data and a fake backup backend (no cluster).

The backend is the only fake (`Services.backups`, what `BackupShelf` is on a live cluster): its newest backup is
30 h old at the fixed clock (older than the default 24 h: warned), and its snapshot reports progress, then a
result. The lab test is the first act of
tests/ui/test_replace_dead_lab.py (one lab for both).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fixed_ring as fixtures
import pytest
from ui_support import SIZE, until

from etcdtui.cluster.backup import BackupError, BackupResult
from etcdtui.engine.backup_age import BackupAge, KnownBackup
from etcdtui.ui.app import make_app
from etcdtui.ui.palette import Palette
from etcdtui.ui.screens.backup import BackupScreen
from etcdtui.ui.widgets.backup_line import BackupLine, render_backup_age

pytestmark = pytest.mark.ui

NOW = fixtures.NOW.timestamp()
OWN = Path("/var/lib/etcdtui/backups")
OLD = KnownBackup(OWN / "etcd-snapshot-lab-20261122T210000.db", NOW - 30 * 3600, 2_420_768)


class FakeBackups:
    def __init__(self, newest: KnownBackup | None = OLD, fail: str | None = None) -> None:
        self.newest, self.fail = newest, fail
        self.taken = 0
        self.release = asyncio.Event()

    def look(self) -> BackupAge:
        return BackupAge(self.newest, (OWN, Path("/srv/restic/etcd")), 24 * 3600.0)

    def source(self) -> str | None:
        return "etcd-lab-cp-1"

    async def take(self, on_progress: Callable[[int, float], None]) -> BackupResult:
        on_progress(1_048_576, 0.4)
        await self.release.wait()  # the test looks at the progress first
        if self.fail:
            raise BackupError(self.fail)
        self.taken += 1
        path = OWN / "etcd-snapshot-lab-20261124T030000.db"
        self.newest = KnownBackup(path, NOW, 2_424_864)
        return BackupResult(path, 2_424_864, "9f" * 32, "etcd-lab-cp-1", "/var/lib/etcdtui-snapshot.db", 1.2,
                            revision=4711, total_keys=1024)


def _app(backups: FakeBackups, readonly: bool = False) -> Any:
    return make_app(fixtures.fixed_services(fixtures.healthy_ring(), backups=backups, readonly=readonly))


def test_snapshot_ring_warns_about_an_old_backup(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await until(pilot, "the backup age", lambda: pilot.app.ring.query_one(BackupLine).age is not None, 10)
        await pilot.pause()

    assert snap_compare(_app(FakeBackups()), terminal_size=SIZE, run_before=run_before)


def test_backup_line_says_none_and_old_and_fresh() -> None:
    palette = Palette({})
    none = render_backup_age(FakeBackups(newest=None).look(), NOW, palette).plain
    assert "NONE" in none and "/var/lib/etcdtui/backups, /srv/restic/etcd" in none
    old = render_backup_age(FakeBackups().look(), NOW, palette)
    assert " 1d6h old " in old.plain and "older than 24h" in old.plain
    fresh = render_backup_age(FakeBackups(newest=KnownBackup(OLD.path, NOW - 600, 1)).look(), NOW, palette)
    assert " 10m old " in fresh.plain and "older than" not in fresh.plain
    assert fresh.spans != old.spans  # the old one is coloured as a warning


@pytest.mark.parametrize("readonly", [False, True])
async def test_b_takes_a_snapshot_with_progress_and_result(readonly: bool) -> None:
    backups = FakeBackups()
    app = _app(backups, readonly)
    async with app.run_test(size=SIZE) as pilot:
        line = app.ring.query_one(BackupLine)
        await until(pilot, "the backup age", lambda: line.age is not None, 10)
        assert line.age is not None and line.age.stale(NOW)  # read-only too: a snapshot changes nothing
        await pilot.press("b")
        await until(pilot, "the backup dialog", lambda: isinstance(app.screen, BackupScreen), 5)
        screen = app.screen
        assert isinstance(screen, BackupScreen)
        intro = str(screen.query_one("#backup-intro").render())
        assert "etcd-lab-cp-1" in intro and fixtures.CONTEXT in intro
        await pilot.press("enter")  # "Take snapshot" has the focus
        await until(pilot, "the progress", lambda: "1048576 bytes streamed" in str(
            screen.query_one("#backup-progress").render()), 5)
        await pilot.press("escape")  # refused while it runs
        await pilot.pause()
        assert app.screen is screen
        backups.release.set()
        await until(pilot, "the result", lambda: screen.result is not None, 5)
        await pilot.pause(0.3)
        shown = str(screen.query_one("#backup-progress").render())
        for fact in ("etcd-snapshot-lab-20261124T030000.db", "revision  4711", "2424864 bytes", "9f" * 32):
            assert fact in shown, shown
        await pilot.press("escape")
        await until(pilot, "the fresh backup on the line", lambda: line.age is not None and line.age.newest is not None
                    and not line.age.stale(NOW), 5)
        assert app.screen is app.ring and backups.taken == 1


async def test_a_failed_snapshot_is_one_line_and_can_be_retried() -> None:
    backups = FakeBackups(fail="no healthy etcd member to take the snapshot from")
    backups.release.set()
    app = _app(backups)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await until(pilot, "the backup dialog", lambda: isinstance(app.screen, BackupScreen), 5)
        screen = app.screen
        await pilot.press("enter")
        await until(pilot, "the failure", lambda: "backup failed: no healthy etcd member" in str(
            screen.query_one("#backup-progress").render()), 5)
        assert not screen.query_one("#backup-start").disabled
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.ring and backups.taken == 0


async def test_fixed_data_without_a_backend_hides_the_line() -> None:
    app = make_app(fixtures.fixed_services(fixtures.healthy_ring()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.ring.query_one(BackupLine).display
        await pilot.press("b")
        await pilot.pause()
        assert app.screen is app.ring
