"""Screenshots of `b` and of the dead-machine replace checklist on a real lab (`scripts/screenshots.py --only
dead-machine`).

A plain lab: `b` in the ring view → backup-taken.svg (file, revision, size, sha256). Then `lab destroy-node
lab-cp-2` → `R` on it → replace-dead-variant.svg (what etcdtui found, the variant it chose) → confirmed, every
destructive step typed → replace-dead-waiting.svg while step 5 waits for the fresh machine (where, which
known_hosts, why not yet) → `lab provision-node lab-cp-2` → kubeone apply → replace-dead-done.svg.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input

from etcdtui.core.checklist import StepStatus
from etcdtui.engine.dead_machine import STEPS
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.backup import BackupScreen
from etcdtui.ui.screens.replace_dead import DeadMachineScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog, YesNoDialog
from etcdtui.ui.widgets.member_table import MemberTable

NODE = "lab-cp-2"
WAIT = STEPS.index("wait-machine")
NAMES = ("backup-taken", "replace-dead-variant", "replace-dead-waiting", "replace-dead-done")


def _lab(root: Path, command: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "etcdtui", "lab", command, "--dir", str(root), *args],
                          capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        raise SystemExit(f"screenshots: lab {command} failed: {(done.stderr or done.stdout).strip()}")


async def _until(pilot: Any, what: str, condition: Callable[[], object], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: dead machine: timed out waiting for {what}")
        await pilot.pause(0.1)


async def _answer(app: Any, pilot: Any, screen: DeadMachineScreen, until: Callable[[], bool], wait_s: float) -> None:
    """Type the node name into every destructive step's dialog until `until()` holds."""
    deadline = time.monotonic() + wait_s
    while not until():
        if time.monotonic() > deadline or screen.outcome not in (None,):
            raise SystemExit(f"screenshots: dead machine: the checklist stopped ({screen.outcome})")
        await pilot.pause(0.1)
        if isinstance(app.screen, TypedConfirmDialog):
            app.screen.query_one("#typed-input", Input).value = NODE
            await pilot.pause()
            await pilot.click("#typed-confirm")


async def shoot_dead_machine(root: Path, out: Path, size: tuple[int, int], to_png: Callable[[Path], None]) -> None:
    where = Connection(kubeconfig=str(root / "kubeconfig"), poll_interval=2)
    async with connected_services(where, replace_state_dir=root / "etcdtui-state") as services:
        app = make_app(services)
        async with app.run_test(size=size) as pilot:
            await _until(pilot, "three healthy members", lambda: app.ring.snapshot and sum(
                bool(r.healthy) for r in app.ring.snapshot.rows) == 3, 90)
            await asyncio.to_thread(_lab, root, "fill", "lab-cp-1", "--mb", "2")
            await pilot.press("b")
            await _until(pilot, "the backup dialog", lambda: isinstance(app.screen, BackupScreen), 10)
            backup = app.screen
            assert isinstance(backup, BackupScreen)
            await pilot.press("enter")
            await _until(pilot, "the snapshot", lambda: backup.result is not None or backup.error is not None, 120)
            await pilot.pause(0.5)
            app.save_screenshot("backup-taken.svg", path=str(out))
            await pilot.press("escape")

            await asyncio.to_thread(_lab, root, "destroy-node", NODE)
            await _until(pilot, "the member unreachable", lambda: any(
                r.node_name == NODE and not r.healthy for r in app.ring.snapshot.rows), 90)
            table = app.ring.query_one(MemberTable)
            table.move_cursor(row=table.get_row_index(f"etcd-{NODE}"))
            await pilot.press("R")
            await _until(pilot, "the variant dialog", lambda: isinstance(app.screen, YesNoDialog), 60)
            await pilot.pause(0.5)
            app.save_screenshot("replace-dead-variant.svg", path=str(out))
            await pilot.click("#yesno-yes")
            await _until(pilot, "the checklist", lambda: isinstance(app.screen, DeadMachineScreen)
                         and app.screen.opened, 30)
            screen = app.screen
            assert isinstance(screen, DeadMachineScreen) and screen.proc is not None
            checklist = screen.proc.checklist
            await pilot.press("enter")
            await _answer(app, pilot, screen, lambda: "not yet" in "\n".join(checklist.step(WAIT).output), 180)
            await pilot.pause(3.0)  # a few seconds of waiting on the step's clock
            app.save_screenshot("replace-dead-waiting.svg", path=str(out))
            await asyncio.to_thread(_lab, root, "provision-node", NODE)
            await _answer(app, pilot, screen, lambda: screen.outcome is not None, 300)
            if any(s.status is StepStatus.FAILED for s in checklist.steps):
                raise SystemExit(f"screenshots: dead machine: {screen.outcome}")
            await pilot.pause(0.5)
            app.save_screenshot("replace-dead-done.svg", path=str(out))
    for name in NAMES:
        print(f"wrote {out / (name + '.svg')}")
        to_png(out / f"{name}.svg")
