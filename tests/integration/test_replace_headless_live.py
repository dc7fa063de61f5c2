"""`etcdtui replace NODE --confirm CONTEXT` for a corrupted member (the machine still answers): the app's checklist
without prompts, as subprocesses on real labs.

KubeOne lab: a wrong `--confirm` exits 2 with nothing changed; the run is SIGKILLed (its process group, as a crash
would) during `kubeone apply`, and the same command resumes from the journal to 3 healthy members with equal
hashes. kubeadm lab: the same command re-joins with `kubeadm join`; the bootstrap token and certificate key the
lab issued appear in neither the output nor the journal, and `kubeadm token list` is empty afterwards, although
the first run is SIGKILLed during `kubeadm join` (the resume deletes the token that run left).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _lab_cli import etcdctl, etcdtui, journal_records, kill_during
from conftest import RunningLab
from test_kubeadm_replace import _token_list  # kubeadm token list on lab-cp-1 over ssh

from etcdtui.engine.flavour import NodeSsh

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CONTEXT = "etcdtui-lab"
NODE = "lab-cp-2"
APPLY = 8  # StepId.APPLY


def _replace(lab: RunningLab, state: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "etcdtui", "replace", NODE, "--confirm", CONTEXT, "--kubeconfig",
             str(lab.kubeconfig), "--state-dir", str(state)],
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        )


def _journal(state: Path) -> list[dict[str, Any]]:
    return journal_records(state, "replace")


def _ring_whole(lab: RunningLab) -> None:
    members = json.loads(etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json").stdout)["members"]
    assert sorted(m["name"] for m in members) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
    health = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "health", "--cluster", "-w", "json").stdout)
    assert len(health) == 3 and all(h["health"] for h in health), health
    hashes = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "hashkv", "--cluster", "-w", "json").stdout)
    assert len(hashes) == 3 and len({h["HashKV"]["hash"] for h in hashes}) == 1, hashes


def _member_ids(lab: RunningLab) -> dict[str, str]:
    members = json.loads(etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json").stdout)["members"]
    return {m["name"]: format(int(m["ID"]), "x") for m in members}


def test_live_replace_headless_kubeone_wrong_context_then_crash_and_resume(
        fresh_lab: Callable[..., RunningLab], tmp_path: Path) -> None:
    lab = fresh_lab(corrupt_checks="on")
    assert etcdtui("lab", "corrupt", NODE, "--dir", str(lab.root)).returncode == 0
    state = tmp_path / "state"
    before = _member_ids(lab)

    wrong = etcdtui("replace", NODE, "--confirm", "prod-eu", "--kubeconfig", str(lab.kubeconfig),
                    "--state-dir", str(state))
    assert wrong.returncode == 2 and "is not the current context" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr and not _journal(state) and _member_ids(lab) == before

    log = tmp_path / "replace.log"
    started = time.monotonic()
    proc = _replace(lab, state, log)
    kill_during(proc, lambda: _journal(state), APPLY, log, text="Joining control plane node")
    text = log.read_text()
    assert "variant: corrupted member" in text
    assert f"confirmed by --confirm {CONTEXT}: Step 6: " in text and f"[node {NODE}, context {CONTEXT}]" in text
    assert "== step 6: " in text and "kubeadm reset --force" in text  # each step with its commands and output

    proc = _replace(lab, state, log)
    assert proc.wait(300) == 0, log.read_text()[-3000:]
    elapsed = time.monotonic() - started
    text = log.read_text()
    assert "Resuming the replacement of lab-cp-2" in text and "Replaced: lab-cp-2" in text
    _ring_whole(lab)
    after = _member_ids(lab)
    assert after[NODE] != before[NODE] and after["lab-cp-1"] == before["lab-cp-1"]
    assert not _journal(state) and len(list(state.glob("replace-*.done.jsonl"))) == 1
    print(f"headless live replace on the kubeone lab (with a crash during kubeone apply): {elapsed:.1f} s")


def test_live_replace_headless_kubeadm_no_secret_shown(fresh_lab: Callable[..., RunningLab], tmp_path: Path) -> None:
    lab = fresh_lab(flavour="kubeadm", corrupt_checks="on")
    port = lab.state["ssh"][NODE]["port"]
    identity, known_hosts = lab.layout.ssh_dir / "id_ed25519", lab.layout.known_hosts
    config = tmp_path / "config"
    (config / "etcdtui").mkdir(parents=True)
    (config / "etcdtui" / "config.yaml").write_text(
        f"contexts:\n  {CONTEXT}:\n    ssh:\n      user: ubuntu\n      port: {port}\n"
        f"      identity_file: {identity}\n      known_hosts: {known_hosts}\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(config)}
    assert etcdtui("lab", "corrupt", NODE, "--dir", str(lab.root)).returncode == 0
    state = tmp_path / "state"
    before = _member_ids(lab)

    log = tmp_path / "replace.log"
    started = time.monotonic()
    proc = _replace(lab, state, log, env)
    # Killed while kubeadm join runs: the token it created is never deleted by that run (no `finally` survives
    # SIGKILL); the resume resets the target, deletes that token (its public id is journaled), joins again.
    kill_during(proc, lambda: _journal(state), APPLY, log, text="[download-certs]")
    assert _replace(lab, state, log, env).wait(300) == 0, log.read_text()[-3000:]
    elapsed = time.monotonic() - started
    text = log.read_text()
    resumed = text.split("Resuming the replacement of lab-cp-2", 1)[-1]
    assert "== step 8: kubeadm join" in text and "[download-certs]" in text, text
    assert "bootstrap token" in resumed and "of an earlier attempt: deleted" in resumed, resumed
    assert "backup" in text and "etcd-snapshot-" in text  # a headless run takes the backup
    _ring_whole(lab)
    assert _member_ids(lab)[NODE] != before[NODE]

    node_ssh = NodeSsh("ubuntu", port, str(identity), str(known_hosts))
    assert asyncio.run(_token_list(lab, node_ssh)) == []  # the join token was deleted

    secrets = [line.split(" ", 1)[1] for line in (lab.root / "kubeadm" / "issued-secrets").read_text().splitlines()]
    assert len(secrets) >= 2  # a token and a certificate key
    secrets += [s.split(".", 1)[1] for s in secrets if "." in s]  # the token's secret half alone
    haystacks = {"output": text} | {str(p): p.read_text(errors="replace") for p in state.rglob("*") if p.is_file()
                                    and p.suffix == ".jsonl"}
    assert any(".done.jsonl" in where for where in haystacks)
    for where, content in haystacks.items():
        for secret in secrets:
            assert secret not in content, f"a secret leaked into {where}"
    print(f"headless live replace on the kubeadm lab (with a crash during kubeadm join): {elapsed:.1f} s")
