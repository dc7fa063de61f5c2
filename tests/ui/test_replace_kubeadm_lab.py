"""Acceptance: replace a corrupted member of a plain kubeadm cluster through the real app (Pilot).

A `--flavour kubeadm` lab (no kubeone anywhere): the flavour comes from the lab's kubeconfig extension,
nodes are reached with the context's `ssh` settings from config.yaml, step 8 is the kubeadm re-join. Ends with 3 healthy members and equal hashes,
the join token gone, and neither the token nor the certificate key on any screen the app showed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from test_replace_lab import _until, answer_dialogs, choose_variant
from textual.widgets import Log
from ui_lab import kubeadm_ssh_config, lab_cli, running_lab
from ui_support import SIZE

from etcdtui.cluster.ssh import connect
from etcdtui.core.checklist import StepId, StepStatus, evidence_gate
from etcdtui.engine.context_settings import resolve_settings
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.replace import Outcome, fresh_snapshot
from etcdtui.engine.replace_context import member_facts
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.app import make_app
from etcdtui.ui.config import load_config
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.member_table import MemberTable
from etcdtui.ui.widgets.ring_header import RingHeader

pytestmark = [pytest.mark.integration, pytest.mark.ui]

NODE = "lab-cp-2"


async def test_replace_on_kubeadm_through_the_app(tmp_path: Path, monkeypatch: Any) -> None:
    root = tmp_path / "lab"
    with running_lab(root, "--corrupt-checks", "on", "--flavour", "kubeadm") as kubeconfig:
        kubeadm_ssh_config(root, tmp_path / "config")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        done = lab_cli(root, "corrupt", NODE)
        assert done.returncode == 0, done.stderr
        screens: list[str] = []
        started = time.monotonic()
        where = Connection(kubeconfig=str(kubeconfig), poll_interval=2)
        # config.yaml read as the command line reads it (the app's one settings path, with the lab's extension)
        async with connected_services(where, config=load_config(), replace_state_dir=tmp_path / "state") as services:
            app = make_app(services)
            async with app.run_test(size=SIZE) as pilot:
                # CORRUPTION with lab-cp-2 the one suspect (right after the alarm every member may look suspect
                # for a moment, and the evidence gate would rightly refuse; an operator waits for this too).
                await _until(pilot, "the ring view to name the corrupted member alone", lambda: bool(
                    app.ring.snapshot and app.ring.snapshot.verdict is Verdict.CORRUPTION
                    and {r.node_name for r in app.ring.snapshot.rows if r.hash_agrees is False} == {NODE}
                    and evidence_gate(member_facts(app.ring.snapshot), NODE).passed), 60)
                assert app.ring.flavour == "kubeadm"  # the header shows it next to the context
                header = RingHeader.render_snapshot(app.ring.snapshot, context="etcdtui-lab", now=app.clock(),
                                                    palette=app.ring.palette, flavour=app.ring.flavour)
                assert header.plain.startswith("etcdtui  etcdtui-lab  kubeadm  https://"), header.plain[:80]
                table = app.ring.query_one(MemberTable)
                table.move_cursor(row=table.get_row_index(f"etcd-{NODE}"))
                await pilot.pause()
                await pilot.press("R")
                screen = await choose_variant(pilot, app, NODE, dead=False)
                await _until(pilot, "the procedure to open", lambda: screen.opened, 10)
                await pilot.press("enter")
                seen: list[str] = []

                async def capture() -> None:  # the screen as the operator saw it, all along (dialogs, the join)
                    while True:
                        screens.append(app.export_screenshot())
                        await asyncio.sleep(0.5)

                capturing = asyncio.create_task(capture())
                try:
                    await answer_dialogs(pilot, app, screen, 150, seen)
                finally:
                    capturing.cancel()
                proc = screen.proc
                assert proc is not None and proc.flavour is not None and proc.flavour.is_kubeadm
                failed = [f"{int(s.id)}: {s.reason}" for s in proc.checklist.steps if s.status is StepStatus.FAILED]
                assert screen.outcome is Outcome.DONE, failed
                assert sum(s.startswith("typed:") for s in seen) == 4, seen
                assert any("kubeadm join (re-join)" in s for s in seen), seen
                join = "\n".join(proc.checklist.step(StepId.APPLY).output)
                assert "This node has joined the cluster" in join and "bootstrap token" in join
                screens.append(app.export_screenshot())
                screens.append("\n".join(screen.query_one(Log).lines))
            snap = await fresh_snapshot(services.ring)
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        assert len(voting) == 3 and all(r.healthy for r in voting) and len({r.hash for r in voting}) == 1
        ssh = NodeSsh.of(resolve_settings("etcdtui-lab", str(kubeconfig)).ssh)
        assert ssh.user == "ubuntu" and ssh.identity_file
        async with await connect(ssh.target("lab-cp-1", "127.0.1.1")) as node:
            result, out, _ = await node.capture(["sudo", "kubeadm", "token", "list"])
        assert result.exit_code == 0 and out[0].startswith("TOKEN") and out[1:] == [], out
        secrets = [ln.split(" ", 1)[1] for ln in (root / "kubeadm" / "issued-secrets").read_text().splitlines()]
        assert len(secrets) == 2
        secrets.append(secrets[[s.count(".") for s in secrets].index(1)].split(".")[1])
        logs = [p.read_text(errors="replace") for p in [root / "lab.log", *(tmp_path / "state").rglob("*"),
                                                        *(root / "logs").rglob("*")] if p.is_file()]
        assert len(screens) > 20, len(screens)  # captured while the procedure ran, not only at its end
        assert any("redacted" in sc for sc in screens)  # the join command was on screen, its secrets redacted
        for text in [*screens, *logs]:
            assert not any(s in text for s in secrets), "a join secret was shown or written"
        print(f"kubeadm replace through the app: {time.monotonic() - started:.1f} s")
