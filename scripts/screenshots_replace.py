"""Screenshots of the replace checklist on a real lab (used by `scripts/screenshots.py --only replace`).

Lab with checks on, lab-cp-2 corrupted, `R` on it in the ring view, every dialog answered as an operator
would (node name typed, snapshot taken, KubeOne's plan accepted, the leftover alarm disarmed):
replace-midrun.svg while `kubeone apply` runs (step 8), replace-done.svg at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Input

from etcdtui.core.checklist import StepId, StepStatus
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import BackupDialog, TypedConfirmDialog, YesNoDialog
from etcdtui.ui.widgets.member_table import MemberTable

NODE = "lab-cp-2"


async def confirm_variant(app: Any, pilot: Any, wait_s: float = 60.0) -> ReplaceScreen:
    """After `R`: accept the variant etcdtui chose (its dialog says why) and return the checklist screen."""
    deadline = time.monotonic() + wait_s
    while not isinstance(app.screen, ReplaceScreen):
        if time.monotonic() > deadline:
            raise SystemExit("screenshots: no checklist opened after R")
        if isinstance(app.screen, YesNoDialog) and app.focused is not None and app.focused.screen is app.screen:
            await pilot.click("#yesno-yes")
        await pilot.pause(0.1)
    return app.screen


async def shoot_replace(root: Path, out: Path, size: tuple[int, int], to_png: Callable[[Path], None]) -> None:
    kubeconfig = root / "kubeconfig"
    where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
    async with connected_services(where, replace_state_dir=root / "replace-state") as services:
        app = make_app(services)
        async with app.run_test(size=size) as pilot:
            deadline = time.monotonic() + 90
            while not (app.ring.snapshot and app.ring.snapshot.verdict is Verdict.CORRUPTION):
                if time.monotonic() > deadline:
                    raise SystemExit("screenshots: replace: the lab never showed CORRUPTION")
                await pilot.pause(0.2)
            table = app.ring.query_one(MemberTable)
            table.move_cursor(row=table.get_row_index(f"etcd-{NODE}"))
            await pilot.press("R")
            screen = await confirm_variant(app, pilot)
            while not screen.opened:
                await pilot.pause(0.1)
            await pilot.press("enter")
            midrun_taken = False
            deadline = time.monotonic() + 240
            while screen.outcome is None and time.monotonic() < deadline:
                await pilot.pause(0.1)
                dialog = app.screen
                if isinstance(dialog, TypedConfirmDialog):
                    dialog.query_one("#typed-input", Input).value = NODE
                    await pilot.pause()
                    await pilot.click("#typed-confirm")
                elif isinstance(dialog, BackupDialog):
                    await pilot.click("#backup-take")
                elif isinstance(dialog, YesNoDialog):
                    await pilot.click("#yesno-yes")
                elif (not midrun_taken and screen.proc is not None
                      and screen.proc.checklist.step(StepId.APPLY).status is StepStatus.RUNNING
                      and len(screen.proc.checklist.step(StepId.APPLY).output) > 14):
                    await pilot.pause(0.3)
                    app.save_screenshot("replace-midrun.svg", path=str(out))
                    midrun_taken = True
            if screen.outcome is None:
                raise SystemExit("screenshots: replace: the procedure did not finish within 240 s")
            await pilot.pause(0.5)
            app.save_screenshot("replace-done.svg", path=str(out))
    for name in ("replace-midrun", "replace-done"):
        if (out / f"{name}.svg").exists():
            print(f"wrote {out / (name + '.svg')}")
            to_png(out / f"{name}.svg")
