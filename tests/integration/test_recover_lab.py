"""`etcdtui recover` on a real lab: keys, backup, more keys, quorum lost, refusals, then the recovery killed with
SIGKILL during the restore and during the re-join, resumed, and checked member by member (serializable reads).
One lab for the whole story (suite budget)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest
from _lab_cli import etcdctl, etcdtui, journal_records, kill_during, lab_status, wait_for
from conftest import RunningLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CONTEXT = "etcdtui-lab"


def _journal_records(state: Path) -> list[dict[str, object]]:
    return journal_records(state, "recover")


def _start_recover(lab: RunningLab, snap: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "etcdtui", "recover", "--snapshot", str(snap), "--confirm", CONTEXT,
             "--kubeconfig", str(lab.kubeconfig), "--state-dir", str(state)],
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _kill_when(proc: subprocess.Popen[bytes], state: Path, step: str, log: Path, text: str | None = None) -> None:
    kill_during(proc, lambda: _journal_records(state), step, log, text)


def _in_terminal(lab: RunningLab, snap: Path, state: Path, answer: str) -> str:
    """Run `recover` on a pseudo-terminal (no --confirm) and type `answer` at the first confirmation."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdtui", "recover", "--snapshot", str(snap), "--kubeconfig", str(lab.kubeconfig),
         "--state-dir", str(state)], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"to confirm: " in seen:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(master)
    assert proc.wait(30) == 2, seen.decode(errors="replace")
    return seen.decode(errors="replace")


def _serializable_keys(lab: RunningLab, node: str, prefix: str) -> set[str]:
    got = etcdctl(lab.root, node, "get", prefix, "--prefix", "--keys-only", "--consistency=s")
    assert got.returncode == 0, got.stderr
    return {k for k in got.stdout.split() if k}


def test_recover_from_snapshot_with_crashes_and_refusals(fresh_lab: Callable[..., RunningLab], tmp_path: Path) -> None:
    lab = fresh_lab()
    kc = ["--kubeconfig", str(lab.kubeconfig)]
    state = tmp_path / "state"
    before = {f"/app/before/{i}" for i in range(20)}
    after = {f"/app/after/{i}" for i in range(5)}
    for key in sorted(before):
        assert etcdctl(lab.root, "lab-cp-1", "put", key, "v").returncode == 0
    snap = tmp_path / "snap.db"
    assert etcdtui("backup", "-o", str(snap), *kc).returncode == 0
    for key in sorted(after):
        assert etcdctl(lab.root, "lab-cp-1", "put", key, "v").returncode == 0

    # -- refusals: quorum intact, bad snapshots, the wrong context; nothing changes -------------------------------
    intact = etcdtui("recover", "--snapshot", str(snap), "--confirm", CONTEXT, *kc, "--state-dir", str(state))
    assert intact.returncode == 2 and "quorum is intact" in intact.stderr and "etcdtui replace" in intact.stderr
    assert etcdtui("lab", "lose-quorum", "--dir", str(lab.root)).returncode == 0
    check = etcdtui("check", *kc)
    assert check.returncode == 2 and "QUORUM-LOST" in check.stdout.splitlines()[0]
    truncated, garbage = tmp_path / "truncated.db", tmp_path / "garbage.db"
    truncated.write_bytes(snap.read_bytes()[: snap.stat().st_size // 2])
    garbage.write_bytes(os.urandom(64 * 1024))
    for bad, why in ((tmp_path / "missing.db", "does not exist"), (truncated, "not a usable etcd snapshot"),
                     (garbage, "not a usable etcd snapshot")):
        refused = etcdtui("recover", "--snapshot", str(bad), "--confirm", CONTEXT, *kc, "--state-dir", str(state))
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
    wrong = etcdtui("recover", "--snapshot", str(snap), "--confirm", "prod-eu", *kc, "--state-dir", str(state))
    assert wrong.returncode == 2 and "is not the current context" in wrong.stderr
    assert lab_status(lab.root)["members_status"][0]["running"]  # lab-cp-1's etcd was not touched
    assert not _journal_records(state)

    # -- the dry run says what is lost before anything is confirmed ---------------------------------------------------
    dry = etcdtui("recover", "--snapshot", str(snap), "--dry-run", *kc, "--state-dir", str(state))
    assert dry.returncode == 0, dry.stderr
    lost_part = dry.stdout.split("WILL BE LOST", 1)[1].split("restore on", 1)[0]
    assert all(key in lost_part for key in after) and not any(key in lost_part for key in before)
    assert "5 keys written or changed after the snapshot" in dry.stdout

    # -- in a terminal each destructive step names node and context and wants the node typed: a wrong answer stops -----
    typed = _in_terminal(lab, snap, state, answer="lab-cp-2")
    assert "stop etcd on lab-cp-1" in typed and "[context etcdtui-lab]" in typed and "type lab-cp-1 to confirm" in typed
    assert "not confirmed" in typed and lab_status(lab.root)["members_status"][0]["running"]
    before_confirming = typed.split("type lab-cp-1 to confirm", 1)[0]
    assert "WILL BE LOST" in before_confirming and all(key in before_confirming for key in after)

    # -- a node answering with a host key known_hosts does not hold stops the procedure before it changes anything ------
    wrong_hosts = tmp_path / "known_hosts.wrong"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[1]
    wrong_hosts.write_text(re.sub(r"ssh-ed25519 \S+", f"ssh-ed25519 {other}", lab.layout.known_hosts.read_text()))
    bad_key = etcdtui("recover", "--snapshot", str(snap), "--confirm", CONTEXT, "--known-hosts", str(wrong_hosts), *kc,
                      "--state-dir", str(state))
    assert bad_key.returncode == 2 and "host key verification failed" in bad_key.stderr, bad_key.stderr
    assert lab_status(lab.root)["members_status"][0]["running"]

    # -- crash during the restore, crash during the re-join, then resumed to the end ------------------------------------
    log = tmp_path / "recover.log"
    started = time.monotonic()
    proc = _start_recover(lab, snap, state, log)
    _kill_when(proc, state, "restore", log)
    assert "WILL BE LOST" in log.read_text().split("confirmed by", 1)[0]  # a resume repeats it before going on
    proc = _start_recover(lab, snap, state, log)
    _kill_when(proc, state, "rejoin", log, text="Joining control plane node")
    proc = _start_recover(lab, snap, state, log)
    assert proc.wait(300) == 0, log.read_text()[-3000:]
    elapsed = time.monotonic() - started
    text = log.read_text()
    assert text.count("Resuming the recovery") == 3 and "3 members (lab-cp-1, lab-cp-2, lab-cp-3), all healthy, hashes equal" in text
    print(f"recover end to end (with two crashes): {elapsed:.1f} s")

    # -- the end state: 3 healthy members, equal hashes, every pre-backup key on every member, no post-backup key --------
    members = json.loads(etcdctl(lab.root, "lab-cp-1", "member", "list", "-w", "json").stdout)["members"]
    assert sorted(m["name"] for m in members) == ["lab-cp-1", "lab-cp-2", "lab-cp-3"]
    hashes = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "hashkv", "--cluster", "-w", "json").stdout)
    assert len(hashes) == 3 and len({h["HashKV"]["hash"] for h in hashes}) == 1
    for node in ("lab-cp-1", "lab-cp-2", "lab-cp-3"):
        wait_for(lambda n=node: _serializable_keys(lab, n, "/app/before/") == before or None, within=20,
                 what=f"every pre-backup key on {node}")
        assert not _serializable_keys(lab, node, "/app/after/")
    done = list(state.glob("recover-*.done.jsonl"))
    assert len(done) == 1 and done[0].stat().st_mode & 0o777 == 0o600
    check = etcdtui("check", *kc)
    assert "QUORUM-LOST" not in check.stdout.splitlines()[0]
