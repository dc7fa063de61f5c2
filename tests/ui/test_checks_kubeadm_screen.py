"""The checks screen on a kubeadm-flavoured context, on fixed data, driven by Pilot.

`ScriptedManifests` stands in for `KubeadmChecksService`: it asks the screen's per-node confirmation the way the
engine does (one `ManifestEdit` per node, leader last) and answers with a fixed outcome. The real service, ssh and
the real lab's members are tested in tests/ui/test_checks_kubeadm_lab.py and tests/integration/test_kubeadm_checks.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import fixed_ring as fixtures
import pytest
from test_checks_screen import FLAGS_ON, _click, _open, _report, _wait_for
from textual.widgets import Button, Input
from ui_support import SIZE, fixed_app, type_text, until

from etcdtui.engine.checks import ENABLED, FAILED, ChecksReport, EnableOutcome, EnableRefused
from etcdtui.engine.checks_kubeadm import GUIDE_FLAGS, MANIFEST, ConfirmEdit, ManifestEdit
from etcdtui.engine.checks_results import OutputCallback, ProgressCallback, member_changes
from etcdtui.engine.flavour import KUBEADM
from etcdtui.ui.screens.checks_dialogs import ConfirmManifestsScreen
from etcdtui.ui.services import ManifestChecksBackend
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog

pytestmark = pytest.mark.ui

NODES = ("lab-cp-2", "lab-cp-3", "lab-cp-1")  # followers first, the leader (lab-cp-1) last


def _kubeadm(on: bool) -> ChecksReport:
    return replace(_report(on), flavour=KUBEADM)


class ScriptedManifests:
    def __init__(self, *, refuse: str | None = None) -> None:
        self._report = _kubeadm(False)
        self.refuse = refuse
        self.confirmed: list[str] = []

    @property
    def context(self) -> str:
        return "lab"

    async def report(self, hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> ChecksReport:
        return self._report

    async def enable_by_manifests(self, *, on_output: OutputCallback, on_progress: ProgressCallback,
                                  confirm: ConfirmEdit,
                                  hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> EnableOutcome:
        if self.refuse:
            raise EnableRefused(self.refuse)
        for node in NODES:
            on_output([f"{node} before: no corruption-check flags"])
            if not await confirm(ManifestEdit(node, fixtures.FLAGS_OFF, FLAGS_ON)):
                return EnableOutcome(FAILED, f"stopped before {node}: not confirmed; {len(self.confirmed)} member(s) "
                                     "done", None, None)
            self.confirmed.append(node)
            on_output([f"{node} after: {' '.join(GUIDE_FLAGS)}"])
        self._report = _kubeadm(True)
        return EnableOutcome(ENABLED, "corruption checks set on all 3 members by manifest edits in 42 s", None, None,
                             member_changes(_report(False).members, self._report.members), self._report)


def test_the_fake_is_a_manifest_backend() -> None:
    assert isinstance(ScriptedManifests(), ManifestChecksBackend)


async def test_kubeadm_shows_the_manifest_way_and_the_durable_way() -> None:
    app = fixed_app(fixtures.healthy_ring(), checks=ScriptedManifests())
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        panel = str(screen.query_one("#checks-kubeone").render())
        assert "kubeadm (no kubeone)" in panel and "kubectl -n kube-system edit cm kubeadm-config" in panel
        assert "experimental-initial-corrupt-check: \"true\"" in panel and "KubeOne\n" not in panel
        command = str(screen.query_one("#checks-command").render())
        assert MANIFEST in command and " ".join(GUIDE_FLAGS) in command and "context lab" in command
        assert "kubeone" not in command
        assert not screen.query_one("#checks-enable", Button).disabled


async def test_every_node_is_confirmed_by_its_typed_name_naming_the_context() -> None:
    backend = ScriptedManifests()
    app = fixed_app(fixtures.healthy_ring(), checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("e")
        await _wait_for(pilot, "#confirm-run")
        first = app.screen
        assert isinstance(first, ConfirmManifestsScreen) and first.focused is not None
        assert first.focused.id == "confirm-cancel" and first.nodes == NODES  # the leader last
        assert "on context lab?" in str(first.query_one("#confirm-text").render())
        await _click(pilot, "#confirm-run")
        for node in NODES:
            await until(pilot, f"the question for {node}", lambda n=node: isinstance(app.screen, TypedConfirmDialog)
                        and app.screen.expect == n and app.screen.focused is not None, 10)
            dialog = app.screen
            assert isinstance(dialog, TypedConfirmDialog) and dialog.context == "lab"
            body = str(dialog.query_one("#typed-text").render())
            assert node in dialog.title_text and "before: no corruption-check flags" in body
            assert all(f in body.split("after:", 1)[1] for f in GUIDE_FLAGS), body
            assert dialog.focused is dialog.query_one("#typed-input", Input)
            await pilot.press("enter")  # nothing typed: Enter does not confirm
            await pilot.pause()
            assert app.screen is dialog and dialog.query_one("#typed-confirm", Button).disabled
            await type_text(pilot, node)
            await pilot.press("enter")
        await until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 10)
        assert backend.confirmed == list(NODES)
        assert "✓ corruption checks set on all 3 members" in str(screen.query_one("#checks-result").render())
        assert screen.query_one("#checks-before-after").display
        assert "on for 3 of 3 members" in str(screen.query_one("#checks-summary").render())


async def test_declining_a_node_stops_before_it_and_cancel_runs_nothing() -> None:
    backend = ScriptedManifests()
    app = fixed_app(fixtures.healthy_ring(), checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("e")
        await _wait_for(pilot, "#confirm-cancel")
        await pilot.press("enter")  # Enter on the focused Cancel
        await pilot.pause()
        assert app.screen is screen and screen.outcome is None and not screen.running
        await pilot.press("e")
        await _click(pilot, "#confirm-run")
        await until(pilot, "the first node's question", lambda: isinstance(app.screen, TypedConfirmDialog)
                    and app.screen.focused is not None, 10)
        await pilot.press("escape")
        await until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 10)
        assert backend.confirmed == []
        assert "✗ stopped before lab-cp-2: not confirmed" in str(screen.query_one("#checks-result").render())


async def test_an_unhealthy_member_refuses_before_anything_is_touched() -> None:
    reason = ("member lab-cp-3 is not healthy: enabling restarts every member one by one, so the ring must be "
              "fully healthy first (replace or repair it)")
    backend = ScriptedManifests(refuse=reason)
    app = fixed_app(fixtures.healthy_ring(), checks=backend)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(pilot)
        await pilot.press("e")
        await _click(pilot, "#confirm-run")
        await until(pilot, "the refusal", lambda: not screen.running
                    and bool(str(screen.query_one("#checks-result").render())), 10)
        assert f"✗ not started: {reason}" in str(screen.query_one("#checks-result").render())
        assert not isinstance(app.screen, TypedConfirmDialog)


def test_snapshot_kubeadm_checks_off(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _open(pilot)

    app = fixed_app(fixtures.healthy_ring(), checks=ScriptedManifests())
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
