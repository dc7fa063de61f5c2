"""The replace checklist screen with Pilot: dialogs (typed name, Cancel focused), the resume offer at startup,
`etcdtui replace NODE` opening at the checklist, and Ctrl+C stopping a running step cleanly.

The lab here is never changed (no destructive step is confirmed): one lab for the module. The slow `kubeone`
of the Ctrl+C test is a real executable script (a kubeone that hangs in `version`), not a mock.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_replace_lab import choose_variant
from textual.app import App
from textual.widgets import Button, Input
from ui_lab import running_lab
from ui_support import SIZE

from etcdtui.core.checklist import Checklist, StepId, StepStatus
from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths
from etcdtui.engine.dead_machine import STEPS
from etcdtui.engine.replace_journal import Journal
from etcdtui.engine.step_journal import StepJournal
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.navigation import ReplaceView
from etcdtui.ui.screens.replace import ReplaceScreen
from etcdtui.ui.screens.replace_dead import DeadMachineScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog, YesNoDialog

NODE = "lab-cp-2"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_lab(tmp_path_factory.mktemp("ui-replace-lab")) as kubeconfig:
        yield kubeconfig


async def _until(pilot: Any, what: str, condition: Callable[[], bool], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.ui
async def test_typed_confirmation_focuses_the_input_and_needs_the_exact_node_name() -> None:
    answers: list[str | None] = []

    class Host(App[None]):
        def get_css_variables(self) -> dict[str, str]:
            return {**super().get_css_variables(), "context-accent": "red"}  # EtcdTuiApp defines it

        def on_mount(self) -> None:
            self.push_screen(TypedConfirmDialog(title="Step 6: kubeadm reset", text="wipes etcd", context="prod-eu",
                                                expect=NODE), answers.append)

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, TypedConfirmDialog)
        assert app.focused is dialog.query_one("#typed-input", Input)  # type at once, no Shift+Tab
        assert dialog.query_one("#typed-cancel", Button).variant == "primary"  # Cancel stays the default button
        assert "prod-eu" in str(dialog.query_one("#typed-text").render())
        await pilot.press("enter")  # nothing typed: Enter does nothing
        await pilot.pause()
        assert app.screen is dialog and answers == []
        for ch in "lab-cp-3":
            await pilot.press("minus" if ch == "-" else ch)
        assert dialog.query_one("#typed-confirm", Button).disabled
        await pilot.press("enter")  # the wrong name submits nothing
        await pilot.pause()
        assert app.screen is dialog and answers == []
        await pilot.press("escape")  # Esc cancels, even from the input
        await pilot.pause()
        assert answers == [None]
        app.push_screen(TypedConfirmDialog(title="t", text="x", context="prod-eu", expect=NODE), answers.append)
        await pilot.pause()
        dialog = app.screen
        for ch in NODE:
            await pilot.press("minus" if ch == "-" else ch)
        assert not dialog.query_one("#typed-confirm", Button).disabled
        await pilot.press("enter")  # the exact name: Enter confirms
        await pilot.pause()
        assert answers == [None, NODE]
        app.push_screen(TypedConfirmDialog(title="t", text="x", context="prod-eu", expect=NODE), answers.append)
        await pilot.pause()
        await pilot.click("#typed-cancel")
        assert answers == [None, NODE, None]


def _interrupted_journal(state: Path, context: str, server: str) -> None:
    journal = Journal.for_cluster(context, server, state)
    c = Checklist(NODE, context, server)
    journal.append(c.begin_record(1.0))
    for step in (StepId.CONTEXT, StepId.EVIDENCE, StepId.QUORUM):
        journal.append(c.start(step, ["x"], 1.0))
        journal.append(c.finish(step, 2.0))
    journal.append(c.skip(StepId.BACKUP, "test", 2.0))
    journal.append(c.start(StepId.DRAIN, ["drain"], 3.0, confirmation=f"typed {NODE}"))


@pytest.mark.integration
@pytest.mark.ui
async def test_startup_offers_to_resume_an_interrupted_procedure(lab: Path, tmp_path: Path) -> None:
    where = Connection(kubeconfig=str(lab), poll_interval=5)
    async with connected_services(where, replace_state_dir=tmp_path) as services:
        conn = services.conn
        assert conn is not None
        _interrupted_journal(tmp_path, conn.context, conn.server)
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, "the resume offer", lambda: _offer_shown(app), 10)
            dialog = app.screen
            assert isinstance(dialog, YesNoDialog)
            assert app.focused is dialog.query_one("#yesno-no", Button)
            assert "step 4 (Drain the node)" in dialog.text and dialog.context == conn.context
            await pilot.click("#yesno-yes")
            await _until(pilot, "the checklist", lambda: isinstance(app.screen, ReplaceScreen), 5)
            screen = app.screen
            assert isinstance(screen, ReplaceScreen)
            await _until(pilot, "the journal", lambda: screen.opened, 10)
            assert screen.proc is not None and screen.proc.resumed
            drain = screen.proc.checklist.step(StepId.DRAIN)
            assert drain.status is StepStatus.PENDING and drain.interrupted
            assert "resuming an interrupted procedure at step 4" in str(screen.query_one("#replace-status").render())
            lock = screen.proc.lock.path
            assert lock.exists()
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert not lock.exists(), "leaving the checklist releases the cluster's lock"


def _offer_shown(app: EtcdTuiApp) -> bool:
    """The offer is on screen with the focus in it (it comes after the first frame; which button has the focus
    is the test's to check)."""
    focused = app.focused
    return isinstance(app.screen, YesNoDialog) and focused is not None and focused.screen is app.screen


def _hanging_kubeone(tmp_path: Path) -> tuple[Path, Path]:
    pid_file = tmp_path / "kubeone.pid"
    script = tmp_path / "kubeone"
    script.write_text(f"#!{sys.executable}\nimport os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                      "time.sleep(60)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pid_file


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.integration
@pytest.mark.ui
async def test_startup_offers_to_resume_an_unfinished_dead_machine_repair(lab: Path, tmp_path: Path) -> None:
    """A repair the headless command left (journal only: stopped while waiting for the machine) is offered at
    start and resumes in the app's checklist at that step, without a new diagnosis."""
    where = Connection(kubeconfig=str(lab), poll_interval=5)
    async with connected_services(where, replace_state_dir=tmp_path) as services:
        conn = services.conn
        assert conn is not None
        journal, _ = StepJournal.with_lock(tmp_path, conn, "repair")
        journal.append({"kind": "begin", "t": 1.0, "node": NODE, "member_id": "5426954dcaa1c7fc", "members": 3,
                        "reasons": [f"Node {NODE} is NotReady"]})
        for step in STEPS[:5]:
            journal.append({"kind": "step", "step": step, "status": "running", "t": 2.0})
            journal.append({"kind": "step", "step": step, "status": "done", "t": 3.0, "note": f"{step} done"})
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, "the resume offer", lambda: _offer_shown(app), 10)
            dialog = app.screen
            assert isinstance(dialog, YesNoDialog) and dialog.title_text == f"Resume the dead-machine repair of {NODE}?"
            assert app.focused is dialog.query_one("#yesno-no", Button) and dialog.context == conn.context
            await pilot.click("#yesno-yes")
            await _until(pilot, "the repair", lambda: isinstance(app.screen, DeadMachineScreen) and app.screen.opened,
                         20)
            screen = app.screen
            assert isinstance(screen, DeadMachineScreen) and screen.proc is not None and screen.proc.resumed
            assert screen.proc.checklist.next_index() == STEPS.index("wait-machine")
            assert "resuming the interrupted dead-machine repair at step 5" in str(
                screen.query_one("#replace-status").render())
            lock = screen.proc.lock.path
            assert lock.exists()
            await pilot.press("escape")
            await _until(pilot, "the ring view", lambda: app.screen is app.ring, 5)
            await pilot.pause(0.2)
            assert not lock.exists(), "leaving the checklist releases the cluster's lock"


@pytest.mark.integration
@pytest.mark.ui
async def test_replace_command_opens_at_the_checklist_and_ctrl_c_stops_a_running_step(
    lab: Path, tmp_path: Path
) -> None:
    kubeone, pid_file = _hanging_kubeone(tmp_path)
    where = Connection(kubeconfig=str(lab), poll_interval=5)
    async with connected_services(where, flags=ClusterSettings(KubeOnePaths(binary=str(kubeone))),
                                  replace_state_dir=tmp_path / "state") as services:
        app = make_app(services, ReplaceView(NODE))  # what `etcdtui replace NODE` builds
        async with app.run_test(size=SIZE) as pilot:
            screen = await choose_variant(pilot, app, NODE, dead=False)  # it chose and said why; confirmed
            await _until(pilot, "the journal", lambda: screen.opened, 10)
            await pilot.press("enter")
            await _until(pilot, "kubeone version to hang", pid_file.exists, 30)
            pid = int(pid_file.read_text())
            await pilot.press("ctrl+c")
            await _until(pilot, "the stop question", lambda: isinstance(app.screen, YesNoDialog), 5)
            dialog = app.screen
            assert isinstance(dialog, YesNoDialog) and "Stop step 0" in dialog.title_text
            assert app.focused is dialog.query_one("#yesno-no", Button)
            await pilot.click("#yesno-yes")
            await _until(pilot, "the step to stop", lambda: screen.outcome is not None, 15)
            assert screen.proc is not None
            step0 = screen.proc.checklist.step(StepId.CONTEXT)
            assert step0.status is StepStatus.FAILED and step0.reason == "stopped by the operator"
            await _until(pilot, "the hanging kubeone to be gone", lambda: _gone(pid), 10)
            assert "stopped" in str(screen.query_one("#replace-status").render())
    journal = next((tmp_path / "state").glob("replace-*.jsonl"))
    assert '"reason":"stopped by the operator"' in journal.read_text()


@pytest.mark.integration
def test_readonly_and_bad_node_names_never_start_the_procedure(lab: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "etcdtui", "replace", *args, "--kubeconfig", str(lab)],
                              capture_output=True, text=True, timeout=60, check=False)

    readonly = run(NODE, "--readonly")
    assert readonly.returncode == 2 and readonly.stderr.count("\n") == 1 and "read-only" in readonly.stderr
    bad = run("Bad_Name;rm", "--dry-run")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    no_tty = run(NODE)
    assert no_tty.returncode == 3 and "terminal" in no_tty.stderr
