"""Acceptance: replace a corrupted member through the real app, end to end on a real lab, driven by Pilot.

Lab with corruption checks on (real etcd 3.5.1 ring, the lab's Kubernetes API, real sshd per node + bastion,
the lab's `kubeone` in a real PTY): corrupt lab-cp-2 → the ring view shows it → `R` → every step, typing the
node name into the dialogs, answering KubeOne's prompt through the plan dialog, disarming the leftover
CORRUPT alarm → 3 healthy members with equal hashes, no alarm, node and pod back, verdict HEALTHY.
Its own lab (the procedure is destructive).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input
from ui_lab import lab_cli, running_lab
from ui_support import SIZE

from etcdtui.core.checklist import StepId, StepStatus
from etcdtui.core.findings import Severity
from etcdtui.engine.replace import Outcome, fresh_snapshot
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.screens.replace_dead import DeadMachineScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import BackupDialog, TypedConfirmDialog, YesNoDialog
from etcdtui.ui.widgets.member_table import MemberTable

pytestmark = [pytest.mark.integration, pytest.mark.ui]

NODE = "lab-cp-2"


async def _until(pilot: Any, what: str, condition: Callable[[], bool], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def _click(pilot: Any, app: EtcdTuiApp, dialog: Any, selector: str) -> None:
    """Click a dialog's button as an operator would and see the dialog go. A click sent before the button is
    laid out lands nowhere (seen once on a loaded machine): wait for its region, and click again if it stays."""
    button = dialog.query_one(selector, Button)
    await _until(pilot, f"{selector} on screen", lambda: button.region.area > 0, 10)
    for _ in range(3):
        await pilot.click(selector)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and app.screen is dialog:
            await pilot.pause(0.1)
        if app.screen is not dialog:
            return
    raise AssertionError(f"{selector} clicked three times, the dialog stays")


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("minus" if ch == "-" else ch)


async def choose_variant(pilot: Any, app: EtcdTuiApp, node: str, *, dead: bool) -> Any:
    """After `R`: the variant dialog names what etcdtui found; the operator confirms it; the checklist opens."""
    await _until(pilot, "the variant dialog", lambda: isinstance(app.screen, YesNoDialog)
                 and app.focused is not None and app.focused.screen is app.screen, 60)
    dialog = app.screen
    assert isinstance(dialog, YesNoDialog) and dialog.context == app.context_label
    assert dialog.title_text == f"Replace {node}: " + ("its machine is gone" if dead else "its machine answers")
    assert ("Variant: dead machine" in dialog.text) is dead and "ssh" in dialog.text, dialog.text
    assert app.focused is dialog.query_one("#yesno-no", Button), "Cancel must have the default focus"
    await _click(pilot, app, dialog, "#yesno-yes")
    await _until(pilot, "the checklist", lambda: isinstance(app.screen, ReplaceScreen), 10)
    assert isinstance(app.screen, DeadMachineScreen) is dead
    return app.screen


async def answer_dialogs(pilot: Any, app: EtcdTuiApp, screen: ReplaceScreen, wait_s: float,
                         seen: list[str], *, node: str | None = NODE, until: Callable[[], bool] | None = None) -> None:
    """Answer every dialog like an operator until the procedure ends, or `until()` holds (else fail after
    `wait_s`); destructive steps get `node` typed (None: the node each dialog names)."""
    deadline = time.monotonic() + wait_s
    answered: list[object] = []  # the dialogs themselves: kept alive, so no id() is ever reused
    while time.monotonic() < deadline and screen.outcome is None and not (until and until()):
        await pilot.pause(0.1)
        dialog = app.screen
        if dialog is screen or any(d is dialog for d in answered):
            continue  # nothing asked, or the dialog answered a moment ago is still closing
        if app.focused is None or app.focused.screen is not dialog:
            continue  # a dialog that is not mounted yet (its on_mount sets the focus)
        answered.append(dialog)
        if isinstance(dialog, TypedConfirmDialog):
            assert app.focused is dialog.query_one("#typed-input", Input), "the node name input has the focus"
            assert dialog.context == app.context_label
            assert dialog.query_one("#typed-confirm", Button).disabled
            seen.append(f"typed:{dialog.title_text}")
            await _type(pilot, node or dialog.expect)
            confirm = dialog.query_one("#typed-confirm", Button)
            await _until(pilot, "the typed node name to enable Confirm", lambda button=confirm: not button.disabled, 10)
            await _click(pilot, app, dialog, "#typed-confirm")
        elif isinstance(dialog, BackupDialog):
            seen.append("backup")
            await _click(pilot, app, dialog, "#backup-take")
        elif isinstance(dialog, YesNoDialog):
            assert app.focused is dialog.query_one("#yesno-no", Button), "No must have the default focus"
            seen.append(f"yesno:{dialog.title_text}")
            await _click(pilot, app, dialog, "#yesno-yes")
    assert screen.outcome is not None or (until and until()), f"nothing came within {wait_s} s (seen: {seen})"


async def test_replace_a_corrupted_member_end_to_end_through_the_app(tmp_path: Path) -> None:
    with running_lab(tmp_path / "lab", "--corrupt-checks", "on") as kubeconfig:
        done = lab_cli(tmp_path / "lab", "corrupt", NODE)
        assert done.returncode == 0, done.stderr
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        async with connected_services(where, replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, "the ring view to show the corruption", lambda: bool(
                    app.ring.snapshot and app.ring.snapshot.verdict is Verdict.CORRUPTION), 40)
                table = app.ring.query_one(MemberTable)
                table.move_cursor(row=table.get_row_index(f"etcd-{NODE}"))
                await pilot.pause()
                await pilot.press("R")
                screen = await choose_variant(pilot, app, NODE, dead=False)
                await _until(pilot, "the procedure to open", lambda: screen.opened, 10)
                await pilot.press("enter")
                seen: list[str] = []
                await answer_dialogs(pilot, app, screen, 150, seen)
                proc = screen.proc
                assert proc is not None
                failed = [f"{int(s.id)}: {s.reason}" for s in proc.checklist.steps if s.status is StepStatus.FAILED]
                assert screen.outcome is Outcome.DONE, failed
                # Every destructive step asked for the typed node name; the plan and the disarm were asked too.
                assert sum(s.startswith("typed:") for s in seen) == 4, seen
                assert any("KubeOne's plan" in s for s in seen) and any("alarm" in s for s in seen), seen
                steps = proc.checklist.steps
                assert all(s.status is StepStatus.DONE for s in steps), [(int(s.id), s.status) for s in steps]
                assert all(s.commands and s.duration(time.time()) is not None for s in steps)
                assert f"node/{NODE} drained" in steps[StepId.DRAIN].output
                assert f'node "{NODE}" deleted' in steps[StepId.DELETE_NODE].output
                assert any('+ join control plane node "lab-cp-2"' in ln for ln in steps[StepId.APPLY].output)
                verify = "\n".join(steps[StepId.VERIFY].output)
                assert "enabled corruption checking" in verify and "expected, a fresh member" in verify
                backup = steps[StepId.BACKUP].reason or ""
                assert backup and await asyncio.to_thread(os.path.getsize, backup) > 0
                assert any(f"{NODE} replaced" in (s.reason or "") for s in steps)
            snap = await fresh_snapshot(services.ring)
            voting = [r for r in snap.rows if r.member_id and not r.is_learner]
            # HEALTHY: no corruption evidence left; etcd 3.5.1's version risk stays a finding, not the verdict.
            assert snap.verdict is Verdict.HEALTHY, [f.message for f in snap.findings[:3]]
            assert not [f.kind for f in snap.findings if f.is_corruption]
            assert all(f.kind.startswith(("version.", "checks.")) for f in snap.findings
                       if f.severity >= Severity.WARNING), [f.kind for f in snap.findings]
            assert len(voting) == 3 and all(r.healthy for r in voting)
            assert len({r.hash for r in voting}) == 1 and not snap.alarms
            assert {r.node_name for r in voting} == {"lab-cp-1", "lab-cp-2", "lab-cp-3"}
            assert all(n.ready for n in snap.nodes if n.name == NODE)
