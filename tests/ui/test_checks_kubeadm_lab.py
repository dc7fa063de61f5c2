"""Acceptance (issue 14): enable the corruption checks on a plain kubeadm cluster through the real app (Pilot).

A `--flavour kubeadm` lab (no kubeone anywhere; etcd 3.5.1, checks off), nodes reached with the context's
`ssh` settings from config.yaml. The checks screen shows the kubeadm way and the durable ClusterConfiguration
text; Enable asks once naming the context, then each node's manifest write by its typed name. At each node's
question the test reads the real pods: every member Ready and healthy, the nodes before it already restarted with
the flags, the rest not yet (the gate between members). It ends with the flags in every real pod's command and
`enabled corruption checking` in every member's new log; then, with a member's machine gone, Enable is refused
before anything is touched.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_replace_lab import _type, _until
from textual.widgets import Button, Log
from ui_lab import kubeadm_ssh_config, lab_cli, running_lab
from ui_support import SIZE

from etcdtui.engine.checks import ENABLED
from etcdtui.engine.checks_kubeadm import GUIDE_FLAGS, MANIFEST
from etcdtui.engine.checks_kubeadm_service import KubeadmChecksService
from etcdtui.engine.replace import fresh_snapshot
from etcdtui.engine.replace_context import pod_log_messages
from etcdtui.ui.app import make_app
from etcdtui.ui.config import load_config
from etcdtui.ui.screens.checks import ChecksScreen
from etcdtui.ui.screens.checks_dialogs import ConfirmManifestsScreen
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog

pytestmark = [pytest.mark.integration, pytest.mark.ui]

CONTEXT = "etcdtui-lab"


def _pods(kubeconfig: Path) -> dict[str, dict[str, Any]]:
    """The real etcd pods, as kubectl reads them from the lab's API: node → (command, ready)."""
    done = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "-n", "kube-system", "get", "pods", "-l",
                           "component=etcd", "-o", "json"], capture_output=True, text=True, timeout=60, check=True)
    pods = {}
    for item in json.loads(done.stdout)["items"]:
        command = next(c["command"] for c in item["spec"]["containers"] if c["name"] == "etcd")
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"].get("conditions", []))
        pods[item["spec"]["nodeName"]] = {"command": command, "ready": ready}
    return pods


async def test_enable_checks_on_kubeadm_member_by_member_through_the_app(tmp_path: Path, monkeypatch: Any) -> None:
    root = tmp_path / "lab"
    with running_lab(root, "--flavour", "kubeadm") as kubeconfig:
        kubeadm_ssh_config(root, tmp_path / "config")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        assert not any(f in p["command"] for p in _pods(kubeconfig).values() for f in GUIDE_FLAGS)
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        async with connected_services(where, config=load_config(), replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, "3 healthy members", lambda: bool(
                    app.ring.snapshot and len([r for r in app.ring.snapshot.rows if r.member_id and r.healthy]) == 3),
                    60)
                leader = next(r.node_name for r in app.ring.snapshot.rows if r.is_leader)  # type: ignore[union-attr]
                await pilot.press("c")
                screen = app.screen
                assert isinstance(screen, ChecksScreen) and isinstance(screen.backend, KubeadmChecksService)
                await _until(pilot, "the first report", lambda: screen.reports_loaded > 0, 30)
                panel = str(screen.query_one("#checks-kubeone").render())
                assert "kubeadm (no kubeone)" in panel and "extraArgs" in panel, panel  # the durable way, as text
                assert "experimental-corrupt-check-time: 240m" in panel
                command = str(screen.query_one("#checks-command").render())
                assert MANIFEST in command and " ".join(GUIDE_FLAGS) in command and CONTEXT in command, command
                assert not screen.query_one("#checks-enable", Button).disabled

                started = time.monotonic()
                await pilot.press("e")
                await _until(pilot, "our confirmation", lambda: isinstance(app.screen, ConfirmManifestsScreen)
                             and app.screen.focused is not None, 10)
                first = app.screen
                assert isinstance(first, ConfirmManifestsScreen) and first.context == CONTEXT
                assert first.nodes[-1] == leader and sorted(first.nodes) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
                assert first.focused is not None and first.focused.id == "confirm-cancel"
                await pilot.click("#confirm-run")

                asked: list[str] = []
                while len(asked) < 3:
                    await _until(pilot, f"the question for node {len(asked) + 1}", lambda: isinstance(
                        app.screen, TypedConfirmDialog) and app.screen.expect not in asked
                        and app.screen.focused is not None, 120)
                    dialog = app.screen
                    assert isinstance(dialog, TypedConfirmDialog) and dialog.context == CONTEXT
                    node = dialog.expect
                    body = str(dialog.query_one("#typed-text").render())
                    assert node in dialog.title_text and "before: no corruption-check flags" in body, body
                    assert all(f in body.split("after:", 1)[1] for f in GUIDE_FLAGS), body
                    # The gate between members, read from the real pods: the earlier nodes restarted with the flags
                    # and back Ready, this one and the later ones untouched, every member healthy.
                    pods = _pods(kubeconfig)
                    assert all(pods[n]["ready"] and set(GUIDE_FLAGS) <= set(pods[n]["command"]) for n in asked), pods
                    assert all(not set(GUIDE_FLAGS) & set(p["command"]) for n, p in pods.items()
                               if n not in asked), pods
                    snap = await fresh_snapshot(services.ring)
                    assert len([r for r in snap.rows if r.member_id and r.healthy]) == 3
                    asked.append(node)
                    await _type(pilot, node)
                    await pilot.press("enter")
                await _until(pilot, "the outcome", lambda: screen.outcome is not None and not screen.running, 180)
                took = time.monotonic() - started
                assert screen.outcome is not None and screen.outcome.status == ENABLED, screen.outcome.message
                assert asked == list(first.nodes) and asked[-1] == leader
                result = str(screen.query_one("#checks-result").render())
                assert "corruption checks set on all 3 members" in result, result
                output = list(screen.query_one("#checks-output", Log).lines)
                assert all(any(ln.startswith(f"{n} after: ") for ln in output) for n in asked), output
                assert all(c.restarted and set(GUIDE_FLAGS) <= set(c.added) for c in screen.outcome.changes)
                assert "on for 3 of 3 members" in str(screen.query_one("#checks-summary").render())

            # Every member runs with the flags (the real pods), and real etcd says so in its new log.
            pods = _pods(kubeconfig)
            assert len(pods) == 3 and all(p["ready"] and set(GUIDE_FLAGS) <= set(p["command"])
                                          for p in pods.values()), pods
            assert services.conn is not None
            for node in pods:
                assert "enabled corruption checking" in await pod_log_messages(services.conn, "kube-system",
                                                                                f"etcd-{node}")

            # A member's machine gone: Enable is refused before anything is touched.
            assert lab_cli(root, "destroy-node", "lab-cp-3").returncode == 0
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("c")
                screen = app.screen
                assert isinstance(screen, ChecksScreen)
                await _until(pilot, "the first report", lambda: screen.reports_loaded > 0, 30)
                await pilot.press("e")
                await _until(pilot, "our confirmation", lambda: isinstance(app.screen, ConfirmManifestsScreen)
                             and app.screen.focused is not None, 10)
                await pilot.click("#confirm-run")
                await _until(pilot, "the refusal", lambda: not screen.running
                             and "not started" in str(screen.query_one("#checks-result").render()), 90)
                result = str(screen.query_one("#checks-result").render())
                assert "lab-cp-3" in result and "not healthy" in result, result
                assert not isinstance(app.screen, TypedConfirmDialog)
    print(f"kubeadm checks enabled through the app on 3 members in {took:.1f} s")
