"""Machine faults on a real lab: `lab destroy-node`, `lab provision-node` (with and without the new host key in
known_hosts) and `lab lose-quorum`, then KubeOne's manual-repair steps by hand (member gone, Node deleted,
`kubeone apply`) and a `check` that sees the lost quorum. One lab for the whole story (suite budget)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from _lab_cli import etcdctl, etcdtui, kubectl, kubectl_json, lab_status, wait_for
from conftest import RunningLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _ssh(lab: RunningLab, node: str, *command: str, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[str]:
    """OpenSSH through the lab's ssh_config. Its ProxyJump child (`ssh -W` to the bastion) inherits ssh's stderr
    and can outlive ssh on a loaded machine: with a pipe, `communicate()` waited for it past its timeout once
    after ssh had printed its answer and exited 0. So stderr goes to a file, read once ssh itself has exited."""
    argv = ["ssh", "-F", str(lab.layout.ssh_config), "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", node, *command]
    with tempfile.TemporaryFile() as err:
        done = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=err, timeout=60, check=False)
        err.seek(0)
        return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def _replace(lab: RunningLab, tmp_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "etcdtui", "replace", "lab-cp-3", "--confirm", "etcdtui-lab", "--wait-machine", "120",
             "--kubeconfig", str(lab.kubeconfig), "--state-dir", str(tmp_path / "state")],
            stdout=fh, stderr=subprocess.STDOUT,
        )


def _other_key() -> str:
    import asyncssh

    return str(asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[1])


def _node_ready(lab: RunningLab, node: str) -> bool:
    obj = kubectl_json(lab.kubeconfig, "get", "node", node)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"]["conditions"])


def _member_names(lab: RunningLab) -> dict[str, str]:
    out = etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json")
    assert out.returncode == 0, out.stderr
    return {m.get("name", ""): format(int(m["ID"]), "x") for m in json.loads(out.stdout)["members"]}


def test_dead_machine_fresh_machine_backup_and_lost_quorum(
    fresh_lab: Callable[..., RunningLab], tmp_path: Path
) -> None:
    lab = fresh_lab()
    d = ["--dir", str(lab.root)]
    old_id = _member_names(lab)["lab-cp-3"]
    assert _ssh(lab, "lab-cp-3", "hostname").stdout.strip() == "lab-cp-3"

    # -- the machine dies: etcd gone for good, ssh refused, Node NotReady, the member still listed -----------
    result = etcdtui("lab", "destroy-node", "lab-cp-3", *d)
    assert result.returncode == 0, result.stderr
    status = {m["node"]: m for m in lab_status(lab.root)["members_status"]}
    assert not status["lab-cp-3"]["running"] and not status["lab-cp-3"]["healthy"]
    assert _ssh(lab, "lab-cp-3", "hostname").returncode == 255
    assert not _node_ready(lab, "lab-cp-3")
    assert _member_names(lab)["lab-cp-3"] == old_id  # etcd still hopes it comes back
    again = etcdtui("lab", "destroy-node", "lab-cp-3", *d)
    assert again.returncode == 1 and "already destroyed" in again.stderr

    kc = ["--kubeconfig", str(lab.kubeconfig)]
    wrong = etcdtui("replace", "lab-cp-3", "--confirm", "prod-eu", *kc, "--state-dir", str(tmp_path / "state"))
    assert wrong.returncode == 2 and "is not the current context" in wrong.stderr
    alive = etcdtui("replace", "lab-cp-1", "--confirm", "etcdtui-lab", *kc, "--state-dir", str(tmp_path / "state"))
    # lab-cp-1 still answers: the corrupted-member checklist, whose read-only gates refuse (lab-cp-3 is down)
    assert alive.returncode == 2 and "refused at step" in alive.stderr, alive.stdout + alive.stderr
    assert "variant: corrupted member" in alive.stdout
    assert _member_names(lab)["lab-cp-3"] == old_id  # nothing changed

    # -- `etcdtui replace` chooses the dead-machine variant, says why, and waits for the fresh machine -------------
    log = tmp_path / "replace.log"
    started = time.monotonic()
    proc = _replace(lab, tmp_path, log)
    wait_for(lambda: "waiting for a fresh machine" in log.read_text() or None, within=90, what="the wait step",
             every=0.5)
    text = log.read_text()
    assert "Node lab-cp-3 is NotReady" in text and "ssh unreachable" in text and "variant: dead machine" in text
    assert f"member {old_id} removed" in text and old_id not in _member_names(lab).values()
    assert kubectl(lab.kubeconfig, "get", "node", "lab-cp-3").returncode != 0  # the Node object is gone

    # -- a fresh machine whose new host key nobody trusted: OpenSSH and the procedure refuse it ---------------------
    result = etcdtui("lab", "provision-node", "lab-cp-3", "--keep-known-hosts", *d)
    assert result.returncode == 0 and "OLD key" in result.stdout, result.stderr
    refused = _ssh(lab, "lab-cp-3", "hostname")
    assert refused.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in refused.stderr, refused.stderr
    assert proc.wait(60) == 2 and "host key verification failed" in log.read_text()

    # -- destroyed once more, provisioned properly (new key in known_hosts, empty): the repair resumes and ends ------
    old_known = lab.layout.known_hosts.read_text()
    assert etcdtui("lab", "destroy-node", "lab-cp-3", *d).returncode == 0
    result = etcdtui("lab", "provision-node", "lab-cp-3", *d)
    assert result.returncode == 0, result.stderr
    assert lab.layout.known_hosts.read_text() != old_known
    assert _ssh(lab, "lab-cp-3", "hostname").stdout.strip() == "lab-cp-3"
    assert not any(lab.layout.etcd_data_dir("lab-cp-3").glob("member"))  # no old state
    proc = _replace(lab, tmp_path, log)
    assert proc.wait(180) == 0, log.read_text()[-3000:]
    print(f"dead-machine replace end to end (with the refused machine): {time.monotonic() - started:.1f} s")
    text = log.read_text()
    assert "Resuming the dead-machine repair of lab-cp-3" in text and 'join control plane node "lab-cp-3"' in text
    members = _member_names(lab)
    assert set(members) == {"lab-cp-1", "lab-cp-2", "lab-cp-3"} and members["lab-cp-3"] != old_id
    hashes = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "hashkv", "--cluster", "-w", "json").stdout)
    assert len(hashes) == 3 and len({h["HashKV"]["hash"] for h in hashes}) == 1
    assert _node_ready(lab, "lab-cp-3")
    assert list((tmp_path / "state").glob("repair-*.done.jsonl"))


    # -- `etcdtui backup`: a verified 0600 snapshot with the revision etcd had; refusals -------------------
    for i in range(5):
        assert etcdctl(lab.root, "lab-cp-1", "put", f"/before/{i}", str(i)).returncode == 0
    status = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "status", "-w", "json").stdout)
    revision = int(status[0]["Status"]["header"]["revision"])
    out = tmp_path / "snap.db"
    backup = etcdtui("backup", "-o", str(out), "--kubeconfig", str(lab.kubeconfig))
    assert backup.returncode == 0, backup.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert f"revision {revision}," in backup.stdout and hashlib.sha256(out.read_bytes()).hexdigest() in backup.stdout
    assert f"{out.stat().st_size} bytes" in backup.stdout
    newest = etcdtui("backup", "--newest", "--backup-dir", str(tmp_path))
    assert newest.returncode == 0 and str(out) in newest.stdout, newest.stdout
    exists = etcdtui("backup", "-o", str(out), "--kubeconfig", str(lab.kubeconfig))
    assert exists.returncode == 2 and "already exists" in exists.stderr
    wrong = tmp_path / "known_hosts"
    wrong.write_text(re.sub(r"ssh-ed25519 \S+", "ssh-ed25519 " + _other_key(), lab.layout.known_hosts.read_text()))
    refused = etcdtui("backup", "-o", str(tmp_path / "x.db"), "--known-hosts", str(wrong),
                      "--kubeconfig", str(lab.kubeconfig))
    assert refused.returncode == 2 and "host key" in refused.stderr, refused.stderr
    assert not (tmp_path / "x.db").exists()

    # -- the majority destroyed at once: the ring really has no quorum, and `check` says so --------------------
    assert etcdctl(lab.root, "lab-cp-1", "put", "/after-backup", "1").returncode == 0
    peer = next(m["peer_url"] for m in lab_status(lab.root)["members_status"] if m["node"] == "lab-cp-1")
    result = etcdtui("lab", "lose-quorum", *d)
    assert result.returncode == 0 and "lab-cp-2, lab-cp-3" in result.stdout, result.stderr
    put = etcdctl(lab.root, "lab-cp-1", "put", "--command-timeout=3s", "/after", "1")
    assert put.returncode != 0  # no quorum: writes time out
    assert _ssh(lab, "lab-cp-2", "hostname").returncode == 0  # the machines still answer
    check = etcdtui("check", "--kubeconfig", str(lab.kubeconfig))
    assert check.returncode == 2 and "QUORUM-LOST" in check.stdout.splitlines()[0], check.stdout + check.stderr

    # -- etcd's disaster recovery by hand over ssh, with the real etcdutl: the lab supports every step ------------
    for node in ("lab-cp-1", "lab-cp-2", "lab-cp-3"):
        present = _ssh(lab, node, "sudo", "test", "-e", "/etc/kubernetes/manifests/etcd.yaml").returncode == 0
        assert present == (node == "lab-cp-1")  # the destroyed members' kubelets run no etcd any more
        if present:
            moved = _ssh(lab, node, "sudo", "mv", "/etc/kubernetes/manifests/etcd.yaml", "/etc/kubernetes/etcd.yaml.off")
            assert moved.returncode == 0, moved.stderr
    assert not lab_status(lab.root)["members_status"][0]["running"]
    with out.open("rb") as fh:
        upload = _ssh(lab, "lab-cp-1", "sudo dd of=/var/lib/restore.db status=none", stdin=fh)
    assert upload.returncode == 0, upload.stderr
    restore = _ssh(lab, "lab-cp-1", "sudo", "etcdutl", "snapshot", "restore", "/var/lib/restore.db",
                   "--data-dir", "/var/lib/etcd-restored", "--name", "lab-cp-1",
                   f"--initial-cluster=lab-cp-1={peer}", f"--initial-advertise-peer-urls={peer}")
    assert restore.returncode == 0 and "restored snapshot" in restore.stderr, restore.stderr
    assert str(lab.root) not in restore.stderr  # the node's paths, not the lab's
    for argv in (("mv", "/var/lib/etcd", "/var/lib/etcd.before-restore"), ("mv", "/var/lib/etcd-restored", "/var/lib/etcd"),
                 ("mv", "/etc/kubernetes/etcd.yaml.off", "/etc/kubernetes/manifests/etcd.yaml")):
        moved = _ssh(lab, "lab-cp-1", "sudo", *argv)
        assert moved.returncode == 0, moved.stderr
    assert _ssh(lab, "lab-cp-1", "mv", "/var/lib/etcd", "/var/lib/x").returncode == 1  # root only
    assert _ssh(lab, "lab-cp-1", "sudo", "mv", "/etc/passwd", "/var/lib/x").returncode == 1  # node paths only

    def one_member() -> list[str] | None:
        listed = etcdctl(lab.root, "lab-cp-1", "member", "list")
        return listed.stdout.strip().splitlines() if listed.returncode == 0 else None

    members_now = wait_for(one_member, within=30, what="the restored one-member cluster")
    assert len(members_now) == 1 and "lab-cp-1" in members_now[0]
    keys = etcdctl(lab.root, "lab-cp-1", "get", "--prefix", "--keys-only", "/").stdout.split()
    assert {f"/before/{i}" for i in range(5)} <= set(keys) and "/after-backup" not in keys
