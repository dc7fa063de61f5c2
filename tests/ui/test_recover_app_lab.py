"""Acceptance: quorum lost, recovered through the app (Pilot) from the backup `b` took, on a real lab.

Keys, `b` (the snapshot), more keys, `lab lose-quorum` → the ring view says QUORUM-LOST → `R` offers the recovery
from the newest backup etcdtui knows of (named, with its age) → confirmed → the plan says what is lost (the
revisions and keys written after the snapshot) before any step → every step that changes a node asks for that
node's name → 3 healthy members with equal hashes, the journal archived.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from test_replace_lab import _until, answer_dialogs
from ui_lab import lab_app_ready, lab_cli, running_lab, take_backup_with_b
from ui_support import SIZE

from etcdtui.core.checklist import StepStatus
from etcdtui.engine.replace import Outcome, fresh_snapshot
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.recover import RecoverScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import YesNoDialog
from etcdtui.ui.widgets.checklist_steps import render_checklist

pytestmark = [pytest.mark.integration, pytest.mark.ui, pytest.mark.timeout(600)]


async def test_quorum_lost_recovered_through_the_app(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    with running_lab(root) as kubeconfig:
        started = time.monotonic()
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        async with connected_services(where, replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await lab_app_ready(pilot, app)
                assert (await asyncio.to_thread(lab_cli, root, "fill", "lab-cp-1", "--mb", "1")).returncode == 0
                backup = await take_backup_with_b(pilot, app)
                await pilot.press("escape")
                assert (await asyncio.to_thread(lab_cli, root, "fill", "lab-cp-1", "--mb", "1")).returncode == 0
                lost = await asyncio.to_thread(lab_cli, root, "lose-quorum")
                assert lost.returncode == 0, lost.stderr
                await _until(pilot, "QUORUM-LOST", lambda: bool(
                    app.ring.snapshot and app.ring.snapshot.verdict is Verdict.QUORUM_LOST), 90)

                await pilot.press("R")
                await _until(pilot, "the recovery offer", lambda: isinstance(app.screen, YesNoDialog), 30)
                offer = app.screen
                assert isinstance(offer, YesNoDialog) and offer.title_text.startswith("Quorum is lost")
                assert str(backup.result.path) in offer.text and offer.context == app.context_label
                await pilot.click("#yesno-yes")
                await _until(pilot, "the recovery", lambda: isinstance(app.screen, RecoverScreen) and (
                    app.screen.opened or "cannot start" in str(app.screen.query_one("#replace-status").render())), 90)
                screen = app.screen
                assert isinstance(screen, RecoverScreen) and screen.proc is not None, str(
                    screen.query_one("#replace-status").render())
                status = str(screen.query_one("#replace-status").render())
                assert "WILL BE LOST" in status and "keys written or changed after it" in status, status
                plan = render_checklist(screen.proc.checklist, time.time()).plain
                assert "Stop etcd on lab-cp-1" in plan and "kubeone apply: re-join lab-cp-2, lab-cp-3" in plan, plan
                await pilot.press("enter")
                seen: list[str] = []
                await answer_dialogs(pilot, app, screen, 300, seen, node=None)
                failed = [f"{s.id}: {s.reason}" for s in screen.proc.checklist.steps if s.status is StepStatus.FAILED]
                assert screen.outcome is Outcome.DONE, failed
                typed = [s for s in seen if s.startswith("typed:")]
                assert any("restore the snapshot on lab-cp-1" in s for s in typed), seen
                assert any("reset lab-cp-2" in s for s in typed) and any("reset lab-cp-3" in s for s in typed), seen
            snap = await fresh_snapshot(services.ring)
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        assert len(voting) == 3 and all(r.healthy for r in voting), [(r.key, r.healthy) for r in voting]
        assert len({r.hash for r in voting}) == 1 and snap.verdict is not Verdict.QUORUM_LOST
        journals = [p.name for p in (tmp_path / "state").glob("recover-*.jsonl")]
        assert journals and all(n.endswith(".done.jsonl") for n in journals), journals
        print(f"quorum-lost recovery through the app (lab up excluded): {time.monotonic() - started:.1f} s")
