"""Replace a corrupted member on a plain kubeadm cluster (a `--flavour kubeadm` lab: no kubeone), headless.

One lab, one procedure journal, four runs: ssh to the healthy node failing, an expired token, a join failing
halfway, then the resumed run that finishes. Every run ends with the join token deleted; no secret the lab issued
(bootstrap tokens, certificate keys) appears in the journal, the lab's logs or anything the procedure showed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from conftest import RunningLab

from etcdtui.cluster.ssh import connect
from etcdtui.cluster.ssh_target import SshHop, SshTarget
from etcdtui.core.checklist import StepId
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.connected import connected_engine
from etcdtui.engine.context_settings import SshSettings, resolve_settings
from etcdtui.engine.flavour import NodeSsh
from etcdtui.engine.replace import Outcome, Question, ReplaceProcedure, ReplaceSettings, fresh_snapshot
from etcdtui.lab.kubeadm_join import write_fault

NODE = "lab-cp-2"
pytestmark = pytest.mark.timeout(420)


class Operator:
    """Types the node name, skips the backup, accepts offers; keeps everything it was shown (the 'screen')."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.proc: ReplaceProcedure | None = None

    async def ask(self, question: Question) -> str | None:
        self.shown += [question.title, question.text, " ".join(question.command)]
        if question.kind == "destructive":
            return NODE
        if question.kind == "backup":
            return "skip: test lab"
        return "yes"

    def changed(self, step: StepId | None) -> None:
        if self.proc is not None and step is not None:
            s = self.proc.checklist.step(step)
            self.shown += [s.title, s.status.value, s.reason or "", *s.commands, *s.output]


async def _run(lab: RunningLab, state: Path, node_ssh: NodeSsh, operator: Operator) -> tuple[Outcome, str]:
    kubeconfig = str(lab.kubeconfig)
    async with connected_engine(kubeconfig=kubeconfig, poll_interval=2.0) as engine:
        await engine.wait_complete(30)
        lab_settings = resolve_settings(engine.conn.context, kubeconfig)  # the lab's kubeconfig extension
        assert lab_settings.flavour == "kubeadm" and not lab_settings.kubeone.manifest
        ssh = SshSettings(node_ssh.known_hosts, node_ssh.user, None, node_ssh.port, node_ssh.identity_file)
        settings = ReplaceSettings(NODE, KubeOneSettings.of(lab_settings.kubeone), ssh=ssh, state_dir=state,
                                   verify_timeout=90, flavour=lab_settings.flavour)
        proc = ReplaceProcedure(engine.conn, engine, settings, operator)
        operator.proc = proc
        await proc.open()
        try:
            outcome = await proc.run()
        finally:
            await proc.close()
        assert proc.flavour is not None and proc.flavour.is_kubeadm, proc.flavour
        failed = [s for s in proc.checklist.steps if s.status.value == "failed"]
        return outcome, (f"{int(failed[0].id)} {failed[0].reason}" if failed else "")


async def _token_list(lab: RunningLab, node_ssh: NodeSsh) -> list[str]:
    ep = lab.state["ssh"]["lab-cp-1"]
    target = SshTarget("lab-cp-1", SshHop(ep["host"], ep["port"], node_ssh.user, node_ssh.identity_file),
                       None, node_ssh.known_hosts)
    async with await connect(target) as node:
        result, out, _ = await node.capture(["sudo", "kubeadm", "token", "list"])
    assert result.exit_code == 0 and out[0].startswith("TOKEN"), out
    return out[1:]  # without the header


async def test_kubeadm_replace_with_failures_then_resume(fresh_lab, tmp_path: Path) -> None:
    lab = fresh_lab(flavour="kubeadm", corrupt_checks="on")
    started = time.monotonic()
    if True:  # the fresh_lab fixture stops the lab
        assert not lab.layout.kubeone_yaml.exists() and not lab.layout.kubeone_bin.exists()
        port = lab.state["ssh"][NODE]["port"]
        node_ssh = NodeSsh("ubuntu", port, str(lab.layout.ssh_dir / "id_ed25519"), str(lab.layout.known_hosts))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "etcdtui", "lab", "corrupt", NODE, "--dir",
                                                    str(lab.root))
        assert await proc.wait() == 0
        state = tmp_path / "state"
        operator = Operator()

        # The plan, headless, with the flavour detected (no kubeone manifest) and ssh from config.yaml.
        config = tmp_path / "config"
        (config / "etcdtui").mkdir(parents=True)
        (config / "etcdtui" / "config.yaml").write_text(
            f"contexts:\n  etcdtui-lab:\n    ssh:\n      user: ubuntu\n      port: {port}\n"
            f"      identity_file: {node_ssh.identity_file}\n      known_hosts: {node_ssh.known_hosts}\n")
        dry = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "etcdtui", "replace", NODE, "--dry-run", "--kubeconfig", str(lab.kubeconfig),
            env={**os.environ, "XDG_CONFIG_HOME": str(config)}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        plan, err = await dry.communicate()
        assert dry.returncode == 0, err.decode()
        assert "flavour: kubeadm (set in the context's settings)" in plan.decode()  # the lab's extension
        assert f"ssh ubuntu@127.0.1.2:{port} (contexts.<name>.ssh)" in plan.decode()
        assert "8. kubeadm join (re-join)" in plan.decode() and "--token <redacted>" in plan.decode()

        # 1. ssh to the healthy node fails (its host key is unknown): nothing is created, nothing joins.
        only_target = tmp_path / "known_hosts_target_only"
        only_target.write_text("".join(line for line in lab.layout.known_hosts.read_text().splitlines(True)
                                       if f"[{NODE}]" in line))
        restricted = NodeSsh(node_ssh.user, port, node_ssh.identity_file, str(only_target))
        outcome, failed = await _run(lab, state, restricted, operator)
        assert outcome is Outcome.FAILED and failed.startswith("8 ssh to the healthy control-plane node"), failed
        assert await _token_list(lab, node_ssh) == []

        # 2. the token has expired when the target joins: kubeadm's discovery error; the token is deleted anyway.
        write_fault(lab.root, "token-expired")
        outcome, failed = await _run(lab, state, node_ssh, operator)
        assert outcome is Outcome.FAILED and "is invalid for this cluster or it has expired" in failed, failed
        assert await _token_list(lab, node_ssh) == []

        # 3. the join fails halfway (member announced, etcd never up).
        write_fault(lab.root, "join-halfway")
        outcome, failed = await _run(lab, state, node_ssh, operator)
        assert outcome is Outcome.FAILED and "timeout waiting for etcd cluster" in failed, failed
        assert await _token_list(lab, node_ssh) == []

        # 4. resumed: kubeadm reset clears the half join, then the join succeeds and verify passes.
        outcome, failed = await _run(lab, state, node_ssh, operator)
        assert outcome is Outcome.DONE, failed
        assert await _token_list(lab, node_ssh) == []
        text = "\n".join(operator.shown)
        assert "kubeadm reset --force first" in text and "This node has joined the cluster" in text

        async with connected_engine(kubeconfig=str(lab.kubeconfig), poll_interval=2) as engine:
            await engine.wait_complete(30)
            snap = await fresh_snapshot(engine)
        voting = [r for r in snap.rows if r.member_id and not r.is_learner]
        assert sorted(r.node_name or "" for r in voting) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
        assert all(r.healthy for r in voting) and len({r.hash for r in voting}) == 1

        secrets = [line.split(" ", 1)[1] for line in
                   (lab.root / "kubeadm" / "issued-secrets").read_text().splitlines()]
        assert len(secrets) >= 6  # 3 joins: a token and a certificate key each
        secrets += [s.split(".", 1)[1] for s in secrets if "." in s]  # the token's secret half alone
        haystacks = {"shown": text}
        haystacks |= {str(p): p.read_text(errors="replace") for p in state.rglob("*") if p.is_file()}
        haystacks |= {str(p): p.read_text(errors="replace") for p in [lab.layout.daemon_log,
                                                                     *lab.root.joinpath("logs").rglob("*")]
                      if p.is_file()}
        for where, content in haystacks.items():
            for secret in secrets:
                assert secret not in content, f"a secret leaked into {where}"
        print(f"kubeadm replace with 3 failures and a resume: {time.monotonic() - started:.1f} s")
