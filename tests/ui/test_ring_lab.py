"""The ring view on the real lab: real etcd members, the lab's Kubernetes API, etcdctl through exec, and the
real engine; driven by Textual's Pilot. One lab for the module (started with `etcdtui lab up`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ui_lab import lab_cli, running_lab
from ui_support import SIZE

from etcdtui.engine.snapshot import LinkState, RingSnapshot
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.member_table import MemberTable
from etcdtui.ui.widgets.ring_header import RingHeader

pytestmark = [pytest.mark.integration, pytest.mark.ui]

PODS = ("etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("ui-lab")
    with running_lab(root) as kubeconfig:
        yield kubeconfig


async def _until(  # type: ignore[no-untyped-def]
    pilot, app: EtcdTuiApp, condition: Callable[[RingSnapshot], bool], wait_s: float
) -> RingSnapshot:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        snap = app.ring.snapshot
        if snap is not None and condition(snap):
            return snap
    snap = app.ring.snapshot
    if snap is None:
        raise AssertionError("timed out before any snapshot")
    rows = [(r.key, r.healthy, r.revision, r.hash_revision, r.hash_agrees, r.hash_note, r.alarms) for r in snap.rows]
    raise AssertionError(f"timed out; last snapshot seq={snap.seq} verdict={snap.verdict.value} exec={snap.exec} "
                         f"findings={[f.message for f in snap.findings][:4]} rows={rows}")


async def test_table_shows_the_healthy_lab(lab: Path) -> None:
    async with connected_services(Connection(kubeconfig=str(lab), poll_interval=5)) as services:
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, app, lambda s: s.complete, 30)
            await pilot.pause()
            table = app.ring.query_one(MemberTable)
            assert sorted(str(k.value) for k in table.rows) == list(PODS)
            assert [table.get_cell(p, "status").plain for p in PODS] == ["Running"] * 3
            assert [table.get_cell(p, "ready").plain for p in PODS] == ["1/1"] * 3
            assert sum(table.get_cell(p, "leader").plain == "★" for p in PODS) == 1
            assert [table.get_cell(p, "hash").plain for p in PODS] == ["✓ equal"] * 3
            assert [table.get_cell(p, "checks").plain for p in PODS] == ["off/off/off"] * 3
            assert all(len(table.get_cell(p, "member").plain) >= 8 for p in PODS)  # real member IDs
            header = str(app.ring.query_one(RingHeader).render())
            assert "members 3" in header and "quorum 2" in header and "data: live" in header
            # Selecting a member shows its real node facts.
            await pilot.press("down")
            title = str(app.ring.query_one("#detail-title").render())
            assert table.selected_key in title


async def test_restart_shows_and_outage_marks_stale(lab: Path) -> None:
    async with connected_services(Connection(kubeconfig=str(lab), poll_interval=3)) as services:
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            healthy = await _until(pilot, app, lambda s: s.complete, 30)
            table = app.ring.query_one(MemberTable)
            before = int(table.get_cell("etcd-lab-cp-3", "restarts").plain)
            assert lab_cli(lab.parent, "kill", "lab-cp-3").returncode == 0
            def restarted(s: RingSnapshot) -> bool:
                row = s.row("etcd-lab-cp-3")
                return row is not None and row.pod is not None and row.pod.restarts > before

            await _until(pilot, app, restarted, 30)
            await pilot.pause()
            assert int(table.get_cell("etcd-lab-cp-3", "restarts").plain) == before + 1
            # ...and the verdict comes back to what it was once the member is healthy again.
            await _until(pilot, app, lambda s: s.complete and s.verdict is healthy.verdict and all(
                r.healthy for r in s.rows), 40)
            await pilot.pause()
            assert table.get_cell("etcd-lab-cp-3", "status").plain == "Running"
            done = lab_cli(lab.parent, "api-outage", "4")
            assert done.returncode == 0, done.stderr
            await _until(pilot, app, lambda s: s.connection.state is LinkState.STALE, 20)
            await pilot.pause()
            assert "STALE since" in str(app.ring.query_one(RingHeader).render())
            assert table.row_count == 3  # the last data stays visible
            await _until(pilot, app, lambda s: s.connection.state is LinkState.LIVE, 40)
            await pilot.pause()
            assert "data: live" in str(app.ring.query_one(RingHeader).render())


def test_etcdtui_runs_in_a_terminal_and_quits_on_q(lab: Path) -> None:
    """The real entry point (`etcdtui --kubeconfig K`) in a real pseudo-terminal, read back with a terminal
    emulator: the populated table (member IDs, versions, equal hashes) reaches the screen, and q quits.
    This is the only test of the command's own order: the engine started before Textual (ui/session.py)."""
    import os
    import pty
    import select
    import subprocess
    import sys

    import pyte

    screen = pyte.Screen(160, 45)
    stream = pyte.ByteStream(screen)
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "45"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdtui", "--kubeconfig", str(lab)],
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )
    os.close(slave)

    def rows() -> list[str]:
        # Table rows only (NAME READY ...): the detail panel's title line names the selected pod too.
        return [line for line in screen.display if re.match(r"\s*etcd-lab-cp-\d\s+\d+/\d+\s", line)]

    def populated() -> bool:
        return len(rows()) == 3 and all(
            re.search(r"\b[0-9a-f]{12,16}\b", r) and "3.5.1" in r and "✓ equal" in r for r in rows()
        )

    try:
        deadline = time.monotonic() + 30
        while not populated() and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                stream.feed(os.read(master, 65536))
        assert populated(), "\n".join(screen.display)
        os.write(master, b"q")
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:  # keep draining: a full pty blocks the app
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


async def test_corruption_is_shown_naming_the_victim(tmp_path: Path) -> None:
    """Acceptance: with checks on, `lab corrupt lab-cp-2` turns the screen to CORRUPTION naming lab-cp-2."""
    with running_lab(tmp_path / "lab", "--corrupt-checks", "on") as kubeconfig:
        async with connected_services(Connection(kubeconfig=str(kubeconfig), poll_interval=3)) as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, app, lambda s: s.complete, 30)
                started = time.monotonic()
                assert lab_cli(kubeconfig.parent, "corrupt", "lab-cp-2").returncode == 0
                # The leader's CORRUPT alarm can make the verdict CORRUPTION a poll before the hashes name the
                # member: what must hold within 60 s is the screen naming it.
                def header() -> str:
                    return str(app.ring.query_one(RingHeader).render())

                await _until(pilot, app, lambda s: s.verdict.value == "CORRUPTION" and "lab-cp-2" in header(), 60)
                assert time.monotonic() - started < 60
                assert "CORRUPTION" in header() and "lab-cp-2" in header()
                # The header can name it from etcd's own evidence (alarm, log) a poll before the hashes compare:
                # the table's hash cell follows within the same minute.
                await _until(pilot, app, lambda s: any(r.pod_name == "etcd-lab-cp-2" and r.hash_agrees is False
                                                       for r in s.rows), 60 - (time.monotonic() - started))
                table = app.ring.query_one(MemberTable)
                assert table.get_cell("etcd-lab-cp-2", "hash").plain == "✗ DIFFERS"
                assert table.get_cell("etcd-lab-cp-2", "findings").plain.startswith("✗")
