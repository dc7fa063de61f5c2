"""The replace and logs screens through the real app factory on fake services: no lab, no cluster.

The app is built exactly as a command builds it (`make_app(Services)`); only the engines behind it are fakes
(a scripted replace procedure, a log store replayed from real etcd logs). The checks screen's fake-service
tests are in test_checks_screen.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fixed_ring as fixtures
import pytest
from textual.widgets import Input
from ui_support import SIZE, fixed_app

from etcdtui.core.checklist import Checklist, StepId
from etcdtui.engine.log_replay import store_from_files
from etcdtui.engine.replace import Interaction, Outcome, Question, ReplaceSettings
from etcdtui.ui.screens.logs import LogsScreen, StoreSource
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog
from etcdtui.ui.widgets.findings_pane import FindingsPane
from etcdtui.ui.widgets.log_view import LogView

pytestmark = pytest.mark.ui

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "etcd-logs"
NODE = "lab-cp-1"  # the fixed ring's first row: `R` replaces the selected member


class _Lock:
    def __init__(self) -> None:
        self.released = 0

    def release(self) -> None:
        self.released += 1


class ScriptedProcedure:
    """Steps 0–3 done (fixed times), then step 4 asks for the typed node name, as the real one does."""

    built: list[ScriptedProcedure] = []

    def __init__(self, settings: ReplaceSettings, interaction: Interaction) -> None:
        self.settings, self.ui = settings, interaction
        self.checklist = Checklist(settings.node, fixtures.CONTEXT, fixtures.SERVER)
        self.resumed = False
        self.lock = _Lock()
        self.answers: list[str | None] = []
        self.closed = False
        ScriptedProcedure.built.append(self)

    async def open(self) -> None:
        t = 1_800_000_000.0
        for step, output in ((StepId.CONTEXT, "lab-cp-1 is ubuntu@10.0.0.11"), (StepId.EVIDENCE, "hash mismatch"),
                             (StepId.QUORUM, "N=3, quorum=2, after removal=2, healthy others=2")):
            self.checklist.start(step, [f"step {int(step)} command"], t)
            self.checklist.step(step).add_output([output])
            self.checklist.finish(step, t + 2.5, output)
            t += 3
        self.checklist.skip(StepId.BACKUP, "skipped by the operator: snapshot taken this morning", t)

    async def run(self) -> Outcome:
        answer = await self.ui.ask(Question(
            "destructive", StepId.DRAIN, "Step 4: Drain the node",
            f"Drain {self.settings.node}: cordon it and evict its pods.\n\nContext: lab\nNode: {self.settings.node}"
            "\nType the node name to confirm.", "lab", self.settings.node, ("kubectl", "drain", self.settings.node)))
        self.answers.append(answer)
        return Outcome.PAUSED if answer != self.settings.node else Outcome.DONE

    async def close(self) -> None:
        self.closed = True

    def abandon(self) -> None:
        pass


def _replace_app() -> Any:
    return fixed_app(fixtures.corrupted_ring(), procedures=ScriptedProcedure)


async def _to_confirmation(pilot: Any) -> ReplaceScreen:
    app = pilot.app
    for _ in range(20):
        await pilot.pause()
        if app.ring.snapshots_applied:
            break
    await pilot.press("R")
    screen = app.screen
    assert isinstance(screen, ReplaceScreen)
    for _ in range(20):
        await pilot.pause()
        if screen.opened:
            break
    await pilot.press("enter")
    for _ in range(20):
        await pilot.pause()
        if isinstance(app.screen, TypedConfirmDialog):
            break
    return screen


def test_snapshot_replace_checklist_asking_for_the_node_name(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _to_confirmation(pilot)
        pilot.app.screen.query_one("#typed-input", Input).cursor_blink = False  # a blinking cursor is not stable
        await pilot.pause()

    assert snap_compare(_replace_app(), terminal_size=SIZE, run_before=run_before)


async def test_replace_key_opens_the_checklist_on_the_apps_procedure_factory() -> None:
    ScriptedProcedure.built.clear()
    app = _replace_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _to_confirmation(pilot)
        dialog = app.screen
        assert isinstance(dialog, TypedConfirmDialog) and dialog.expect == NODE
        [proc] = ScriptedProcedure.built
        assert proc.settings.node == NODE and proc.ui is screen
        await pilot.click("#typed-cancel")
        for _ in range(20):
            await pilot.pause()
            if screen.outcome is not None:
                break
        assert proc.answers == [None] and screen.outcome is Outcome.PAUSED
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.ring and proc.lock.released == 1


async def test_readonly_app_has_no_replace() -> None:
    app = fixed_app(fixtures.corrupted_ring(), readonly=True, procedures=ScriptedProcedure)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.open_replace(NODE)
        assert app.screen is app.ring


def _log_services_app() -> Any:
    store = store_from_files({
        "etcd-lab-cp-1": FIXTURES / "3.5.1-corrupt-bbolt-leader.log",
        "etcd-lab-cp-2": FIXTURES / "3.5.1-corrupt-bbolt-follower.log",
        "etcd-lab-cp-3": FIXTURES / "3.5.1-corrupt-bbolt-victim-restart-initialcheck.log",
    })
    return fixed_app(fixtures.corrupted_ring(), logs=StoreSource(store, dict.fromkeys(store.members, "live")))


def test_snapshot_logs_screen_opened_by_the_L_key(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        for _ in range(20):
            await pilot.pause()
            if pilot.app.ring.snapshots_applied:
                break
        await pilot.press("L")
        for _ in range(50):
            await pilot.pause()
            if all(worker.is_finished for worker in pilot.app.workers if worker.group != "snapshots"):
                break

    assert snap_compare(_log_services_app(), terminal_size=SIZE, run_before=run_before)


async def test_logs_key_without_a_log_source_says_so() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("L")
        await pilot.pause()
        assert app.screen is app.ring
        assert not app.open_logs()
        assert not isinstance(app.screen, LogsScreen)


async def test_findings_pane_groups_repeats_and_expands_to_the_lines() -> None:
    app = _log_services_app()
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(20):
            await pilot.pause()
            if app.ring.snapshots_applied:
                break
        await pilot.press("L")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, LogsScreen) and app.screen.store.pinned:
                break
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        await pilot.pause(0.2)
        pane = screen.query_one(FindingsPane)
        pinned = screen.store.pinned
        assert len(pane.groups) < len(pinned) and sum(g.count for g in pane.groups) == len(pinned)
        severities = [int(g.severity) for g in pane.groups]
        assert severities == sorted(severities, reverse=True)  # most severe first
        assert "groups" in str(pane.border_title)
        repeated = next(i for i, (g, e) in enumerate(pane.rows) if e is None and g.count > 1)
        group = pane.rows[repeated][0]
        pane.focus()
        pane.cursor = repeated
        await pilot.press("enter")  # expand
        await pilot.pause()
        assert [e for g, e in pane.rows[repeated + 1:repeated + 1 + group.count]] == list(group.entries)
        pane.cursor = repeated + 2  # the group's second newest line
        await pilot.press("enter")  # jump to it in the log view
        await pilot.pause()
        assert screen.query_one(LogView).cursor_seq == group.entries[1].seq
        pane.focus()  # the jump gave the log view the focus
        pane.cursor = repeated
        await pilot.press("enter")  # fold again
        await pilot.pause()
        assert len(pane.rows) == len(pane.groups)
