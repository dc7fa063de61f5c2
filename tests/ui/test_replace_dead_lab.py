"""Acceptance: `b` (a backup) and the dead-machine replace through the real app (Pilot), on one real lab.

First `b`: the BACKUP line says no backup is known; the snapshot is taken from a healthy member, shown with
its file, revision, size and sha256 (the file 0600, its sha256 and revision checked); the line is then fresh.

`lab destroy-node lab-cp-2` (etcd gone for good, ssh refused, Node NotReady) → `R` on it in the ring view → the
variant dialog names what etcdtui found (the engine's `diagnose`, as the headless command prints it) and the
operator confirms "dead machine" → evidence, quorum gate, backup, member remove ⚠, delete the Node ⚠ (node name
typed) → the wait step says where it waits and why not yet → Ctrl+C stops it (journaled failed) → Esc, `R`
again resumes from the journal without a new diagnosis → `lab provision-node` while the step waits →
kubeone apply ⚠ → verify. Ends with 3 healthy members with equal hashes, the dead member's ID gone from
`member list`, the Node Ready, the journal archived. Its own lab (destructive).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest
from test_replace_lab import _until, answer_dialogs, choose_variant
from ui_lab import lab_cli, running_lab
from ui_support import SIZE

from etcdtui.core.checklist import StepStatus
from etcdtui.engine.dead_machine import STEPS
from etcdtui.engine.replace import Outcome, fresh_snapshot
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.backup import BackupScreen
from etcdtui.ui.screens.replace_dead import DeadMachineScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.backup_line import BackupLine
from etcdtui.ui.widgets.checklist_dialogs import YesNoDialog
from etcdtui.ui.widgets.checklist_steps import render_checklist
from etcdtui.ui.widgets.member_table import MemberTable

pytestmark = [pytest.mark.integration, pytest.mark.ui, pytest.mark.timeout(600)]

NODE = "lab-cp-2"
WAIT = STEPS.index("wait-machine")


def _output(screen: DeadMachineScreen, step: int) -> str:
    assert screen.proc is not None
    return "\n".join(screen.proc.checklist.step(step).output)


async def test_dead_machine_replace_through_the_app(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    with running_lab(root) as kubeconfig:
        started = time.monotonic()
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        async with connected_services(where, replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, "three healthy members", lambda: bool(
                    app.ring.snapshot and sum(bool(r.healthy) for r in app.ring.snapshot.rows) == 3), 60)
                old_id = next(r.member_id for r in app.ring.snapshot.rows if r.node_name == NODE)

                # -- `b` first: the BACKUP line says none, a snapshot is taken, verified, and the line is fresh ----
                line = app.ring.query_one(BackupLine)
                await _until(pilot, "the BACKUP line", lambda: line.age is not None, 10)
                assert line.age is not None and line.age.newest is None and line.age.stale(time.time())
                filled = await asyncio.to_thread(lab_cli, root, "fill", "lab-cp-1", "--mb", "1")  # keys, so revisions move
                assert filled.returncode == 0, filled.stderr
                await _until(pilot, "the written keys", lambda: max(r.revision or 0 for r in app.ring.snapshot.rows) > 1,
                             30)
                revision_before = max(r.revision or 0 for r in app.ring.snapshot.rows)
                await pilot.press("b")
                await _until(pilot, "the backup dialog", lambda: isinstance(app.screen, BackupScreen), 10)
                backup = app.screen
                assert isinstance(backup, BackupScreen)
                await pilot.press("enter")
                await _until(pilot, "the snapshot", lambda: backup.result is not None or backup.error is not None, 90)
                result = backup.result
                assert result is not None, backup.error
                assert result.path.parent == tmp_path / "state" / "backups" and result.path.stat().st_mode & 0o777 == 0o600
                assert hashlib.sha256(result.path.read_bytes()).hexdigest() == result.sha256
                assert result.revision is not None and result.revision >= revision_before
                await pilot.pause(0.3)
                assert result.sha256 in str(backup.query_one("#backup-progress").render())
                await pilot.press("escape")
                await _until(pilot, "the fresh backup on the line", lambda: line.age is not None and line.age.newest
                             is not None and line.age.newest.path == result.path and not line.age.stale(time.time()), 10)
                destroyed = await asyncio.to_thread(lab_cli, root, "destroy-node", NODE)
                assert destroyed.returncode == 0, destroyed.stderr
                await _until(pilot, "the ring view to see the member unreachable", lambda: bool(
                    app.ring.snapshot and any(r.node_name == NODE and not r.healthy
                                              for r in app.ring.snapshot.rows)), 60)
                table = app.ring.query_one(MemberTable)
                table.move_cursor(row=table.get_row_index(f"etcd-{NODE}"))
                await pilot.pause()
                await pilot.press("R")
                screen = await choose_variant(pilot, app, NODE, dead=True)
                assert isinstance(screen, DeadMachineScreen)
                await _until(pilot, "the repair to open", lambda: screen.opened, 20)
                assert screen.proc is not None and not screen.proc.resumed
                await pilot.press("enter")

                # -- member remove and Node delete typed; the wait step says what it waits for ------------
                seen: list[str] = []

                def waiting(s: DeadMachineScreen = screen) -> bool:
                    return "not yet: ssh unreachable" in _output(s, WAIT)

                await answer_dialogs(pilot, app, screen, 180, seen, node=NODE, until=waiting)
                assert screen.outcome is None, [f"{x.id}: {x.reason}" for x in screen.proc.checklist.steps]
                assert [s for s in seen if s.startswith("typed:")] == [
                    f"typed:Step 3: remove the dead member {old_id} of {NODE} from etcd",
                    f"typed:Step 4: delete the Node object {NODE}"], seen
                steps = screen.proc.checklist.steps
                assert [s.status for s in steps[:WAIT]] == [StepStatus.DONE] * WAIT
                assert steps[WAIT].status is StepStatus.RUNNING
                assert "waiting for a fresh machine at" in _output(screen, WAIT)
                assert "Node lab-cp-2 is NotReady" in _output(screen, 0) and "ssh unreachable" in _output(screen, 0)
                assert "revision" in (steps[2].reason or "") and "sha256" in (steps[2].reason or "")

                # -- Ctrl+C stops the wait (journaled failed); Esc; R again resumes from the journal -----------
                await pilot.press("ctrl+c")
                await _until(pilot, "the stop dialog", lambda: isinstance(app.screen, YesNoDialog), 10)
                await pilot.click("#yesno-yes")
                await _until(pilot, "the step to stop", lambda: screen.outcome is Outcome.CANCELLED, 20)
                assert steps[WAIT].status is StepStatus.FAILED and steps[WAIT].reason == "stopped by the operator"
                await pilot.press("escape")
                await _until(pilot, "the ring view", lambda: app.screen is app.ring, 10)
                await pilot.press("R")  # on whichever row is selected now: lab-cp-2 has left the member table
                await _until(pilot, "the resume offer", lambda: isinstance(app.screen, YesNoDialog | DeadMachineScreen)
                             and app.screen is not screen, 30)
                if isinstance(app.screen, YesNoDialog):  # no new diagnosis: the journal's repair is offered
                    assert app.screen.title_text == f"Resume the dead-machine repair of {NODE}?"
                    await pilot.click("#yesno-yes")
                await _until(pilot, "the resumed repair", lambda: isinstance(app.screen, DeadMachineScreen)
                             and app.screen is not screen and app.screen.opened, 30)
                resumed = app.screen
                assert isinstance(resumed, DeadMachineScreen) and resumed.proc is not None and resumed.proc.resumed
                assert resumed.proc.checklist.next_index() == WAIT
                lines = render_checklist(resumed.proc.checklist, time.time()).plain
                assert "✓ 4. Delete the Node object" in lines and "· 5. Wait for the replacement machine" in lines
                await pilot.press("enter")
                await _until(pilot, "the wait step again", lambda: "not yet: ssh unreachable" in _output(resumed, WAIT),
                             60)

                # -- the operator provisions the fresh machine; the repair sees it, joins it, verifies ------------
                provisioned = await asyncio.to_thread(lab_cli, root, "provision-node", NODE)
                assert provisioned.returncode == 0, provisioned.stderr
                seen.clear()
                await answer_dialogs(pilot, app, resumed, 300, seen, node=NODE)
                failed = [f"{s.id}: {s.reason}" for s in resumed.proc.checklist.steps if s.status is StepStatus.FAILED]
                assert resumed.outcome is Outcome.DONE, failed
                assert len(seen) == 1 and seen[0].startswith("typed:Step 6: run `") and "kubeone apply -m" in seen[0] \
                    and f"KubeOne joins {NODE}" in seen[0], seen
                assert "answers ssh with a verified host key and holds no etcd state" in (
                    resumed.proc.checklist.step(WAIT).reason or "")
                assert f'join control plane node "{NODE}"' in _output(resumed, STEPS.index("apply"))
                assert "runs on a fresh machine" in str(resumed.query_one("#replace-status").render())
            snap = await fresh_snapshot(services.ring)
        ids = [r.member_id for r in snap.rows if r.member_id]  # etcdctl member list, through the lab's API
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        assert len(ids) == 3 and old_id not in ids, ids
        assert all(r.healthy for r in voting) and len({r.hash for r in voting}) == 1, [(r.key, r.hash) for r in voting]
        assert next(n for n in snap.nodes if n.name == NODE).ready is True
        journals = [p.name for p in (tmp_path / "state").glob("repair-*.jsonl")]
        assert any(n.endswith(".done.jsonl") for n in journals), journals  # archived: nothing left to resume
        assert all(n.endswith((".done.jsonl", ".abandoned.jsonl")) for n in journals), journals
        print(f"dead-machine replace through the app (lab up excluded): {time.monotonic() - started:.1f} s")
