"""`etcdtui backup --newest`: the context's own snapshots, its configured `backups.dir`, never another
context's. Real files and the real command; it reads the kubeconfig without connecting (the servers are
closed ports)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from etcdtui.engine.backup_age import backup_file_name

pytestmark = pytest.mark.integration


def _kubeconfig(path: Path, current: str) -> None:
    contexts = ("prod", "prod-eu")
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": c, "cluster": {"server": "https://127.0.0.1:9"}} for c in contexts],
        "users": [{"name": "u", "user": {"token": "not-used"}}],
        "contexts": [{"name": c, "context": {"cluster": c, "user": "u"}} for c in contexts],
    }))


def _newest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("KUBECONFIG", None)
    return subprocess.run([sys.executable, "-m", "etcdtui", "backup", "--newest", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def test_newest_is_the_contexts_own(tmp_path: Path) -> None:
    own = tmp_path / "state" / "etcdtui" / "replace" / "backups"
    restored = tmp_path / "restic-restore"
    for d in (own, restored, tmp_path / "config" / "etcdtui"):
        d.mkdir(parents=True)
    prod, prod_eu = own / backup_file_name("prod", 1_000_000), own / backup_file_name("prod-eu", 2_000_000)
    for path, mtime in ((prod, 1_000_000), (prod_eu, 2_000_000)):
        path.write_bytes(b"snapshot")
        os.utime(path, (mtime, mtime))
    kubeconfig = tmp_path / "kubeconfig"
    _kubeconfig(kubeconfig, current="prod")

    done = _newest(tmp_path, "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0, done.stderr
    assert f"newest backup of context prod: {prod}" in done.stdout  # not prod-eu's, newer as it is

    eu = _newest(tmp_path, "--kubeconfig", str(kubeconfig), "--context", "prod-eu")
    assert eu.returncode == 0 and f"of context prod-eu: {prod_eu}" in eu.stdout, eu.stdout + eu.stderr

    # The context's configured directory (e.g. where a restic restore lands) counts whole.
    (tmp_path / "config" / "etcdtui" / "config.yaml").write_text(
        yaml.safe_dump({"contexts": {"prod": {"backups": {"dir": str(restored)}}}}))
    (restored / "etcd.db").write_bytes(b"snapshot")
    os.utime(restored / "etcd.db", (1_500_000, 1_500_000))
    done = _newest(tmp_path, "--kubeconfig", str(kubeconfig))
    assert done.returncode == 0 and f"of context prod: {restored / 'etcd.db'}" in done.stdout, done.stdout

    # Nothing of a context: WARNING, naming where it looked.
    prod.unlink()
    (restored / "etcd.db").unlink()
    none = _newest(tmp_path, "--kubeconfig", str(kubeconfig))
    assert none.returncode == 1 and "no backup known of context prod" in none.stdout and str(own) in none.stdout

    # A context the kubeconfig does not have: one line, UNKNOWN, never a traceback.
    wrong = _newest(tmp_path, "--kubeconfig", str(kubeconfig), "--context", "staging")
    assert wrong.returncode == 3 and "staging" in wrong.stderr and "Traceback" not in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1


def test_without_any_kubeconfig_every_snapshot_of_its_own_directory_counts(tmp_path: Path) -> None:
    own = tmp_path / "state" / "etcdtui" / "replace" / "backups"
    own.mkdir(parents=True)
    snap = own / backup_file_name("anything", 1_000_000)
    snap.write_bytes(b"snapshot")
    fake_home = tmp_path / "home"  # no ~/.kube/config there
    fake_home.mkdir()
    env_home = {"HOME": str(fake_home)}
    done = subprocess.run([sys.executable, "-m", "etcdtui", "backup", "--newest"], capture_output=True, text=True,
                          timeout=60, check=False,
                          env={**{k: v for k, v in os.environ.items() if k != "KUBECONFIG"}, **env_home,
                               "XDG_STATE_HOME": str(tmp_path / "state"),
                               "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert done.returncode == 0 and f"(no kubeconfig: of any context): {snap}" in done.stdout, done.stdout
