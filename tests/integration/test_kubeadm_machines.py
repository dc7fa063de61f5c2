"""The dead-machine and quorum-loss procedures on a plain kubeadm cluster (a `--flavour kubeadm` lab: no kubeone),
headless, as subprocesses: the fresh machine and the reset nodes join with kubeadm join. After each, the ring is
whole, `kubeadm token list` is empty and no secret the lab issued (bootstrap tokens, certificate keys) appears in
the output or the journals.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from _lab_cli import etcdctl, etcdtui, kubectl_json, wait_for
from conftest import RunningLab
from test_kubeadm_replace import _token_list  # kubeadm token list on lab-cp-1 over ssh

from etcdtui.engine.flavour import NodeSsh

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CONTEXT = "etcdtui-lab"
NODES = ["lab-cp-1", "lab-cp-2", "lab-cp-3"]


def _kubeadm_lab(fresh_lab: Callable[..., RunningLab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[RunningLab, NodeSsh]:
    """A kubeadm lab and config.yaml's ssh settings for it (a kubeadm cluster says nothing of how to reach nodes)."""
    lab = fresh_lab(flavour="kubeadm")
    assert not lab.layout.kubeone_yaml.exists()
    port = lab.state["ssh"]["lab-cp-1"]["port"]
    assert all(lab.state["ssh"][n]["port"] == port for n in NODES)
    node_ssh = NodeSsh("ubuntu", port, str(lab.layout.ssh_dir / "id_ed25519"), str(lab.layout.known_hosts))
    config = tmp_path / "config"
    (config / "etcdtui").mkdir(parents=True)
    (config / "etcdtui" / "config.yaml").write_text(
        f"contexts:\n  {CONTEXT}:\n    ssh:\n      user: ubuntu\n      port: {port}\n"
        f"      identity_file: {node_ssh.identity_file}\n      known_hosts: {node_ssh.known_hosts}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))  # for every etcdtui subprocess of the test
    return lab, node_ssh


def _ring_whole(lab: RunningLab) -> dict[str, str]:
    members = json.loads(etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json").stdout)["members"]
    assert sorted(m.get("name", "") for m in members) == NODES
    health = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "health", "--cluster", "-w", "json").stdout)
    assert len(health) == 3 and all(h["health"] for h in health), health
    hashes = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "hashkv", "--cluster", "-w", "json").stdout)
    assert len(hashes) == 3 and len({h["HashKV"]["hash"] for h in hashes}) == 1, hashes
    return {m["name"]: format(int(m["ID"]), "x") for m in members}


def _no_secret_anywhere(lab: RunningLab, output: str, state: Path) -> None:
    secrets = [line.split(" ", 1)[1] for line in (lab.root / "kubeadm" / "issued-secrets").read_text().splitlines()]
    assert len(secrets) >= 2  # a token and a certificate key per join
    secrets += [s.split(".", 1)[1] for s in secrets if "." in s]  # the token's secret half alone
    haystacks = {"output": output} | {str(p): p.read_text(errors="replace") for p in state.rglob("*.jsonl")}
    assert len(haystacks) > 1, "no journal found"
    for where, content in haystacks.items():
        for secret in secrets:
            assert secret not in content, f"a secret leaked into {where}"


def test_dead_machine_on_kubeadm(fresh_lab: Callable[..., RunningLab], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lab, node_ssh = _kubeadm_lab(fresh_lab, tmp_path, monkeypatch)
    old_id = _ring_whole(lab)["lab-cp-3"]
    assert etcdtui("lab", "destroy-node", "lab-cp-3", "--dir", str(lab.root)).returncode == 0
    state, log = tmp_path / "state", tmp_path / "replace.log"
    started = time.monotonic()
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "etcdtui", "replace", "lab-cp-3", "--confirm", CONTEXT, "--wait-machine", "120",
             "--kubeconfig", str(lab.kubeconfig), "--state-dir", str(state)], stdout=fh, stderr=subprocess.STDOUT)
    wait_for(lambda: "waiting for a fresh machine" in log.read_text() or proc.poll() is not None or None, within=120,
             what="the wait step", every=0.5)
    assert proc.poll() is None, log.read_text()
    provisioning = time.monotonic()
    provisioned = etcdtui("lab", "provision-node", "lab-cp-3", "--dir", str(lab.root))
    assert provisioned.returncode == 0 and "kubeone" not in provisioned.stdout, provisioned.stderr
    provisioning = time.monotonic() - provisioning
    assert proc.wait(240) == 0, log.read_text()[-3000:]
    elapsed = time.monotonic() - started
    text = log.read_text()
    assert "variant: dead machine" in text and "ssh unreachable" in text
    assert f"member {old_id} removed" in text and "This node has joined the cluster" in text
    assert "kubeadm join joined lab-cp-3" in text and "kubeone" not in text.split("== apply", 1)[1]
    members = _ring_whole(lab)
    assert members["lab-cp-3"] != old_id and old_id not in members.values()
    node = kubectl_json(lab.kubeconfig, "get", "node", "lab-cp-3")
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
    assert asyncio.run(_token_list(lab, node_ssh)) == []
    assert not lab.layout.kubeone_yaml.exists() and list(state.glob("repair-*.done.jsonl"))
    _no_secret_anywhere(lab, text, state)
    print(f"dead-machine replace on the kubeadm lab: {elapsed:.1f} s ({elapsed - provisioning:.1f} s without "
          "the provisioning)")


def _serializable_keys(lab: RunningLab, node: str, prefix: str) -> set[str]:
    got = etcdctl(lab.root, node, "get", prefix, "--prefix", "--keys-only", "--consistency=s")
    assert got.returncode == 0, got.stderr
    return {k for k in got.stdout.split() if k}


def test_recover_on_kubeadm(fresh_lab: Callable[..., RunningLab], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    lab, node_ssh = _kubeadm_lab(fresh_lab, tmp_path, monkeypatch)
    kc = ["--kubeconfig", str(lab.kubeconfig)]
    before = {f"/app/before/{i}" for i in range(10)}
    after = {f"/app/after/{i}" for i in range(3)}
    for key in sorted(before):
        assert etcdctl(lab.root, "lab-cp-1", "put", key, "v").returncode == 0
    snap = tmp_path / "snap.db"
    backup = etcdtui("backup", "-o", str(snap), *kc)  # on kubeadm: the node reached at its InternalIP
    assert backup.returncode == 0, backup.stderr
    for key in sorted(after):
        assert etcdctl(lab.root, "lab-cp-1", "put", key, "v").returncode == 0
    assert etcdtui("lab", "lose-quorum", "--dir", str(lab.root)).returncode == 0
    check = etcdtui("check", *kc)
    assert check.returncode == 2 and "QUORUM-LOST" in check.stdout.splitlines()[0]

    state = tmp_path / "state"
    started = time.monotonic()
    recover = etcdtui("recover", "--snapshot", str(snap), "--confirm", CONTEXT, *kc, "--state-dir", str(state),
                      timeout=360)
    elapsed = time.monotonic() - started
    assert recover.returncode == 0, recover.stdout[-3000:] + recover.stderr
    text = recover.stdout
    assert "3 keys written or changed after the snapshot" in text
    assert text.count("This node has joined the cluster") == 2 and "kubeadm join re-joined lab-cp-2, lab-cp-3" in text
    _ring_whole(lab)
    for node in NODES:
        wait_for(lambda n=node: _serializable_keys(lab, n, "/app/before/") == before or None, within=20,
                 what=f"every pre-backup key on {node}")
        assert not _serializable_keys(lab, node, "/app/after/")
    assert asyncio.run(_token_list(lab, node_ssh)) == []
    _no_secret_anywhere(lab, text, state)
    print(f"recover on the kubeadm lab: {elapsed:.1f} s")
