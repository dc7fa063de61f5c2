"""The checks screen on a real lab, end to end: real etcd 3.5.1 members (checks off), the lab's Kubernetes API,
the lab's `kubeone` run in a real PTY, KubeOne's plan and prompt answered through the dialog; driven by Pilot.
The lab is this module's own (enabling the checks restarts its members)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, Log
from ui_lab import running_lab
from ui_support import SIZE

from etcdtui.engine.checks import ENABLED, ChecksService, KubeOneSettings
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.screens.checks import ChecksScreen
from etcdtui.ui.screens.checks_dialogs import ConfirmEnableScreen, PlanDialog
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checks_members import ChecksMembersTable

pytestmark = [pytest.mark.integration, pytest.mark.ui]

PODS = ("etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_lab(tmp_path_factory.mktemp("ui-checks-lab")) as kubeconfig:
        yield kubeconfig


async def _until(pilot, what: str, condition: Callable[[], bool], wait_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def _click(pilot, selector: str, wait_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Click once the widget is on the current screen and laid out (a click on a screen that is still
    mounting can land nowhere)."""
    def ready() -> bool:
        found = pilot.app.screen.query(selector)
        return bool(found) and found.first().region.area > 0

    await _until(pilot, selector, ready, wait_s)
    await pilot.pause()
    await pilot.click(selector)


def _cells(table: ChecksMembersTable, column: str) -> list[str]:
    return [table.get_cell(p, column).plain for p in PODS]


async def test_answering_no_in_the_dialog_leaves_the_lab_unchanged(lab: Path) -> None:
    async with connected_services(Connection(kubeconfig=str(lab), poll_interval=5)) as services:
        assert services.conn is not None
        service = ChecksService(services.conn, KubeOneSettings.of(services.settings.kubeone))
        app: EtcdTuiApp = make_app(replace(services, checks=service))
        before = {m.pod: (m.uid, m.command) for m in await service.audit()}
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            screen = app.screen
            assert isinstance(screen, ChecksScreen)
            await _until(pilot, "the first report", lambda: screen.reports_loaded > 0, 20)
            await pilot.press("e")
            # Mounted, not only pushed: focus is set in on_mount, which may run a frame after the push.
            await _until(pilot, "the confirmation",
                         lambda: isinstance(app.screen, ConfirmEnableScreen) and app.screen.focused is not None, 5)
            await _click(pilot, "#confirm-run")
            await _until(pilot, "KubeOne's plan",
                         lambda: isinstance(app.screen, PlanDialog) and app.screen.focused is not None, 60)
            await _click(pilot, "#plan-no")
            await _until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 60)
            result = str(screen.query_one("#checks-result").render())
            assert "declined" in result and "the cluster is unchanged" in result
            assert "Operation canceled." in "\n".join(screen.query_one("#checks-output", Log).lines)
            assert _cells(screen.query_one(ChecksMembersTable), "initial") == ["off"] * 3
        assert {m.pod: (m.uid, m.command) for m in await service.audit()} == before


async def test_enable_through_the_dialogs_turns_every_check_on(lab: Path) -> None:
    async with connected_services(Connection(kubeconfig=str(lab), poll_interval=5)) as services:
        app: EtcdTuiApp = make_app(services)  # the app builds the real ChecksService on its connection
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, "a complete ring", lambda: bool(app.ring.snapshot and app.ring.snapshot.complete), 30)
            await pilot.press("c")
            assert isinstance(app.screen, ChecksScreen)
            screen = app.screen
            await _until(pilot, "the first report", lambda: screen.reports_loaded > 0, 20)
            table = screen.query_one(ChecksMembersTable)
            assert _cells(table, "initial") == ["off"] * 3
            assert _cells(table, "periodic") == ["off"] * 3
            assert _cells(table, "compaction") == ["n/a on 3.5.1"] * 3
            assert all("3.5.1 ✗ risk" == c for c in _cells(table, "etcd"))
            assert all(c.startswith("not enabled") for c in _cells(table, "logs"))
            assert "#13766" in str(screen.query_one("#checks-risk").render())
            assert "1.8.2" in str(screen.query_one("#checks-kubeone").render())
            assert "not deployed" in str(screen.query_one("#checks-backups").render())
            assert "--force-upgrade" in str(screen.query_one("#checks-command").render())

            await _click(pilot, "#checks-enable")
            # Mounted, not only pushed: focus is set in on_mount, which may run a frame after the push.
            await _until(pilot, "the confirmation",
                         lambda: isinstance(app.screen, ConfirmEnableScreen) and app.screen.focused is not None, 5)
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-cancel"
            assert str(app.context_label) in str(app.screen.query_one("#confirm-text").render())
            await _click(pilot, "#confirm-run")

            await _until(pilot, "KubeOne's plan",
                         lambda: isinstance(app.screen, PlanDialog) and app.screen.focused is not None, 60)
            dialog = app.screen
            assert isinstance(dialog, PlanDialog)
            assert dialog.plan.safe and sorted(dialog.plan.hosts) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
            await _until(pilot, "the dialog's focus", lambda: dialog.focused is not None, 5)  # set after mount
            assert dialog.focused is not None and dialog.focused.id == "plan-yes"
            assert "Do you want to proceed (yes/no):" in str(dialog.query_one("#plan-text").render())
            await _click(pilot, "#plan-yes")

            await _until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 150)
            outcome = screen.outcome
            assert outcome is not None and outcome.status == ENABLED, outcome and outcome.message
            assert _cells(table, "initial") == ["on"] * 3
            assert _cells(table, "periodic") == ["on, every 4h"] * 3
            assert _cells(table, "compaction") == ["n/a on 3.5.1"] * 3
            assert all(c.startswith("enabled (4h0m0s)") for c in _cells(table, "logs"))
            assert outcome.after is not None and all(m.logs.enabled for m in outcome.after.members)
            assert all(c.restarted and "--experimental-initial-corrupt-check=true" in c.added
                       for c in outcome.changes)
            output = "\n".join(screen.query_one("#checks-output", Log).lines)
            assert 'force upgrade control plane node "lab-cp-2"' in output and "Operation canceled" not in output
            assert "✓ corruption checks are on for all 3 members" in str(screen.query_one("#checks-result").render())
            assert screen.query_one("#checks-before-after").display
            assert screen.query_one("#checks-enable", Button).label.plain == "Enable (already on)"
