"""The checks screen on fixed data, driven by Pilot: snapshots, read-only, the dialogs' defaults, messages.

`FixedChecks` stands in for `ChecksService` (it replays a scripted kubeone run): a plan with more than force
upgrades, or a refusal, cannot be produced on demand by the lab's kubeone without breaking the lab. The real
service with the real kubeone is tested in tests/integration/test_checks_enable.py and tests/ui/test_checks_lab.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import fixed_ring as fixtures
import pytest
from textual.widgets import Button
from ui_support import SIZE, fixed_app

from etcdtui.core.flags import audit_flags
from etcdtui.core.kubeone import corruption_check_support, parse_kubeone_version
from etcdtui.core.versions import assess_version, parse_version
from etcdtui.engine.checks import (
    ENABLED,
    BackupStatus,
    ChecksReport,
    EnableOutcome,
    EnableRefused,
    KubeOneFacts,
    MemberChecks,
    OutputCallback,
    PlanCallback,
    ProgressCallback,
)
from etcdtui.engine.checks_evidence import LogEvidence
from etcdtui.engine.checks_plan import parse_plan
from etcdtui.engine.checks_results import member_changes
from etcdtui.ui.screens.checks import ChecksScreen
from etcdtui.ui.screens.checks_dialogs import ConfirmEnableScreen, PlanDialog
from etcdtui.ui.widgets.checks_members import ChecksMembersTable

pytestmark = pytest.mark.ui

NOW = fixtures.NOW.timestamp()
PLAN_OK = [
    "The following actions will be taken: ",
    "Run with --verbose flag for more information.",
    "",
    *(f'\t~ force upgrade control plane node "lab-cp-{i}" (10.0.0.{10 + i}): v1.32.4 -> 1.32.4' for i in (1, 2, 3)),
    "",
]
# What the lab's kubeone (1.8.2) renders for etcd 3.5.1: no compaction flag, etcd < 3.5.5 would refuse it.
FLAGS_ON = (*fixtures.FLAGS_OFF, "--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m")
JOIN = '\t+ join control plane node "lab-cp-4" (10.0.0.14) using 1.32.4'


def _member(i: int, on: bool, *, uid: str = "", version: str = "3.5.1") -> MemberChecks:
    v = parse_version(version)
    command = FLAGS_ON if on else fixtures.FLAGS_OFF
    logs = LogEvidence(read=True, lines=120, enabled=on, enabled_interval="4h0m0s" if on else None,
                       initial="passed" if on else "none",
                       periodic_last_ts=NOW - 3 * 3600 if on and i == 1 else None,
                       periodic_last_peers=2 if on and i == 1 else None, periodic_passes=1 if on and i == 1 else 0)
    return MemberChecks(
        pod=f"etcd-lab-cp-{i}", node=f"lab-cp-{i}", uid=uid or f"uid-{i}", ready=True, status="Running",
        started_at=datetime.fromtimestamp(NOW - 600), is_leader=i == 1, version=v, risk=assess_version(v),
        audit=audit_flags(command, v, member=f"etcd-lab-cp-{i}"), command=command, logs=logs,
    )


def _facts(version: str = "1.8.2", manifest_error: str | None = None) -> KubeOneFacts:
    kv = parse_kubeone_version({"kubeone": {"gitVersion": version}})
    return KubeOneFacts("/usr/local/bin/kubeone", "PATH", None, kv, None, corruption_check_support(kv),
                        "/srv/cluster/kubeone.yaml", "flag", manifest_error, None, "/srv/cluster/tf.json", "flag", None)


def _report(on: bool, **facts: str | None) -> ChecksReport:
    return ChecksReport(tuple(_member(i, on, uid=f"uid-{i}{'-new' if on else ''}") for i in (1, 2, 3)),
                        _facts(**facts), BackupStatus(False, "not deployed (no CronJob kube-system/etcd-s3-backup)"),
                        NOW)


class FixedChecks:
    def __init__(self, report: ChecksReport, *, plan: Sequence[str] = PLAN_OK, refuse: str | None = None) -> None:
        self._report = report
        self.plan_lines = list(plan)
        self.refuse = refuse
        self.answers: list[bool] = []

    @property
    def context(self) -> str:
        return "lab"

    async def report(self, hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> ChecksReport:
        return self._report

    async def enable(self, *, on_output: OutputCallback, on_plan: PlanCallback, on_progress: ProgressCallback,
                     hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> EnableOutcome:
        if self.refuse:
            raise EnableRefused(self.refuse)
        on_progress("running kubeone apply")
        on_output(["INFO[12:00:00 UTC] Running cluster probes...", *self.plan_lines])
        plan = parse_plan(self.plan_lines)
        yes = await on_plan(plan, "Do you want to proceed (yes/no): ")
        self.answers.append(yes)
        if not yes:
            on_output(["INFO[12:00:01 UTC] Operation canceled."])
            return EnableOutcome("declined", "KubeOne's plan was declined (Operation canceled.): the cluster is "
                                 "unchanged: every etcd command line is as before", None, plan)
        after = replace(_report(True), kubeone=self._report.kubeone)
        self._report = after
        return EnableOutcome(ENABLED, "corruption checks are on for all 3 members (kubeone took 21 s)", None, plan,
                             member_changes(_report(False).members, after.members), after)


async def _wait_for(pilot, selector: str) -> None:  # type: ignore[no-untyped-def]
    """Until the widget is on the current screen and laid out (a screen still mounting takes no click)."""
    for _ in range(100):
        found = pilot.app.screen.query(selector)
        if found and found.first().region.area > 0:
            break
        await pilot.pause(0.05)
    await pilot.pause()


async def _click(pilot, selector: str) -> None:  # type: ignore[no-untyped-def]
    await _wait_for(pilot, selector)
    await pilot.click(selector)


async def _open(pilot) -> ChecksScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    for _ in range(20):
        await pilot.pause()
        if app.ring.snapshots_applied:
            break
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ChecksScreen)
    for _ in range(50):
        await pilot.pause()
        if screen.reports_loaded:
            break
    return screen


def test_snapshot_checks_off_on_3_5_1(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _open(pilot)

    app = fixed_app(fixtures.healthy_ring(), checks=FixedChecks(_report(False)))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_after_enabling(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await _open(pilot)
        await _click(pilot, "#checks-enable")
        await _click(pilot, "#confirm-run")
        await _click(pilot, "#plan-yes")
        for _ in range(50):
            await pilot.pause()
            if screen.outcome is not None:
                break

    app = fixed_app(fixtures.healthy_ring(), checks=FixedChecks(_report(False)))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_table_cells_and_the_exact_command() -> None:
    app = fixed_app(fixtures.healthy_ring(), checks=FixedChecks(_report(False)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        table = screen.query_one(ChecksMembersTable)
        assert table.get_cell("etcd-lab-cp-1", "compaction").plain == "n/a on 3.5.1"
        assert table.get_cell("etcd-lab-cp-1", "initial").plain == "off"
        assert table.get_cell("etcd-lab-cp-1", "member").plain == "etcd-lab-cp-1 ★"
        command = str(screen.query_one("#checks-command").render())
        assert ("kubeone apply -m /srv/cluster/kubeone.yaml -t /srv/cluster/tf.json --force-upgrade" in command
                and "context lab" in command)
        await pilot.press("escape")
        assert app.screen is app.ring


async def test_readonly_hides_enable() -> None:
    backend = FixedChecks(_report(False))
    app = fixed_app(fixtures.healthy_ring(), readonly=True, checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        assert not screen.query_one("#checks-enable").display
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is screen and backend.answers == []
        assert "read-only" in str(screen.query_one("#checks-command").render())
        assert all(b.binding.key != "e" for b in screen.active_bindings.values() if b.enabled)


async def test_confirmation_defaults_to_cancel() -> None:
    backend = FixedChecks(_report(False))
    app = fixed_app(fixtures.healthy_ring(), checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmEnableScreen)
        await pilot.press("enter")  # Enter on the focused Cancel
        await pilot.pause()
        assert app.screen is screen and backend.answers == [] and screen.outcome is None


async def test_a_plan_with_more_than_force_upgrades_defaults_to_no() -> None:
    backend = FixedChecks(_report(False), plan=[*PLAN_OK[:-1], JOIN, ""])
    app = fixed_app(fixtures.healthy_ring(), checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("e")
        await _click(pilot, "#confirm-run")
        await _wait_for(pilot, "#plan-no")
        dialog = app.screen
        assert isinstance(dialog, PlanDialog) and not dialog.plan.safe
        assert dialog.focused is not None and dialog.focused.id == "plan-no"
        assert "not a control-plane force upgrade: + join control plane node" in str(
            dialog.query_one("#plan-text").render())
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause()
            if screen.outcome is not None:
                break
        assert backend.answers == [False]
        result = str(screen.query_one("#checks-result").render())
        assert "declined" in result and "unchanged" in result


@pytest.mark.parametrize(
    ("facts", "refuse", "expected"),
    [
        ({"version": "1.4.0"}, None, "upgrade KubeOne to 1.4.1 or later"),
        ({"manifest_error": "kubeone.yaml /srv/cluster/kubeone.yaml: Permission denied"}, None, "Permission denied"),
        ({}, "kubeone not found: install KubeOne 1.4.1 or later, or pass --kubeone PATH", "kubeone not found"),
    ],
)
async def test_blockers_are_explained(facts: dict[str, str], refuse: str | None, expected: str) -> None:
    app = fixed_app(fixtures.healthy_ring(), checks=FixedChecks(_report(False, **facts), refuse=refuse))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        if facts:
            assert screen.query_one("#checks-enable", Button).disabled
            assert expected in str(screen.query_one("#checks-command").render())
        else:
            await pilot.press("e")
            await _click(pilot, "#confirm-run")
            for _ in range(50):
                await pilot.pause()
                if not screen.running and str(screen.query_one("#checks-result").render()):
                    break
            assert f"✗ not started: {refuse}" in str(screen.query_one("#checks-result").render())


async def test_without_a_cluster_connection_the_screen_says_so() -> None:
    app = fixed_app(fixtures.healthy_ring())  # FixedSource: no `conn`, so no ChecksService
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChecksScreen) and screen.backend is None
        assert "no cluster connection" in str(screen.query_one("#checks-summary").render())
        assert screen.query_one("#checks-enable", Button).disabled


class HangingChecks(FixedChecks):
    """After "yes", kubeone never finishes (a task retrying for minutes); the process-group kill itself is the
    runner's and is tested with real programs in tests/integration/test_runner.py."""

    async def enable(self, *, on_output: OutputCallback, on_plan: PlanCallback, on_progress: ProgressCallback,
                     hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> EnableOutcome:
        await on_plan(parse_plan(self.plan_lines), "Do you want to proceed (yes/no): ")
        on_progress("KubeOne is restarting the members one by one")
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_x_stops_a_running_kubeone_and_says_what_to_check() -> None:
    app = fixed_app(fixtures.healthy_ring(), checks=HangingChecks(_report(False)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        assert not screen.check_action("stop", ())
        await pilot.press("e")
        await _click(pilot, "#confirm-run")
        await _click(pilot, "#plan-yes")
        for _ in range(50):
            await pilot.pause()
            if "restarting" in str(screen.query_one("#checks-progress").render()):
                break
        assert screen.running and screen.check_action("stop", ())
        await pilot.press("escape")  # refused while running
        assert app.screen is screen
        await pilot.press("x")
        for _ in range(50):
            await pilot.pause()
            if not screen.running:
                break
        assert "kubeone was stopped" in str(screen.query_one("#checks-result").render())
        assert not screen.query_one("#checks-enable", Button).disabled
