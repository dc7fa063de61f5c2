"""The defragment screen through the real app on a real lab (Pilot): fill → `d` → Enter with the default rule
(100 MB: every member skipped, nothing asked) → the screen with a lower rule → a typed member name per member
(Cancel focused, the context named) → every member smaller, the leader last with leadership moved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Input
from ui_lab import lab_cli, running_lab
from ui_support import SIZE, type_text, until

from etcdtui.core.checklist import StepStatus
from etcdtui.engine.defrag import DefragSettings
from etcdtui.engine.replace import Outcome
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.defrag import DefragScreen, defrag_procedures_on
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog

pytestmark = [pytest.mark.integration, pytest.mark.ui]

RULE = "dbSize - dbSizeInUse > 10*1000*1000"


async def test_defragment_through_the_screen(tmp_path: Path) -> None:
    with running_lab(tmp_path / "lab") as kubeconfig:
        fill = lab_cli(tmp_path / "lab", "fill", "--all", "--mb", "40", timeout=300)
        assert fill.returncode == 0, fill.stderr
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        async with connected_services(where, replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, "the ring view", lambda: bool(app.ring.snapshot and app.ring.snapshot.rows))
                await pilot.press("d")
                first = app.screen
                assert isinstance(first, DefragScreen)
                await until(pilot, "the plan", lambda: first.opened)
                await pilot.press("enter")
                await until(pilot, "the run with the default rule", lambda: first.outcome is not None, 60)
                assert first.outcome is Outcome.DONE and not isinstance(app.screen, TypedConfirmDialog)
                skipped = [s for s in first.proc.checklist.steps if s.status is StepStatus.SKIPPED]
                assert len(skipped) == 3 and all("rule false" in (s.reason or "") for s in skipped), skipped
                await pilot.press("escape")
                assert services.conn is not None
                screen = DefragScreen(defrag_procedures_on(services.conn, services.ring),
                                      DefragSettings(rule=RULE, state_dir=tmp_path / "state"),
                                      context=app.context_label or "")
                app.push_screen(screen)
                await until(pilot, "the plan", lambda: screen.opened)
                await pilot.press("enter")
                typed: list[str] = []
                deadline = time.monotonic() + 150
                answered: list[object] = []
                while screen.outcome is None and time.monotonic() < deadline:
                    await pilot.pause(0.1)
                    dialog = app.screen
                    if not isinstance(dialog, TypedConfirmDialog) or any(d is dialog for d in answered):
                        continue
                    if app.focused is None or app.focused.screen is not dialog:
                        continue
                    answered.append(dialog)
                    assert app.focused is dialog.query_one("#typed-cancel", Button)
                    assert dialog.context == app.context_label
                    typed.append(dialog.expect)
                    dialog.query_one("#typed-input", Input).focus()
                    await type_text(pilot, dialog.expect)
                    await pilot.pause()
                    await pilot.click("#typed-confirm")
                assert screen.outcome is Outcome.DONE, [(s.title, s.reason) for s in screen.proc.checklist.steps]
                proc: Any = screen.proc
                assert sorted(typed) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
                assert all(s.status is StepStatus.DONE for s in proc.checklist.steps)
                results = {k.removeprefix("result:"): v for k, v in proc.checklist.facts.items()
                           if k.startswith("result:")}
                assert all(r["after"] < r["before"] * 0.5 for r in results.values()), results
                leader = next(n for n, r in results.items() if r["was_leader"])
                assert typed[-1] == leader
                assert any(line.startswith(f"leadership moved from {leader} to ")
                           for line in proc.checklist.steps[-2].output), proc.checklist.steps[-2].output
