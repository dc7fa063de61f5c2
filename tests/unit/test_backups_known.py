"""The newest backup etcdtui knows of, across its own and configured directories, and its age text."""

from __future__ import annotations

import os
from pathlib import Path

from etcdtui.engine.backup_age import format_age, newest_backup


def test_newest_snapshot_across_directories(tmp_path: Path) -> None:
    own, restic = tmp_path / "own", tmp_path / "restic"
    own.mkdir()
    restic.mkdir()
    old = own / "etcd-snapshot-a.db"
    new = restic / "snapshot-b.db"
    for path, mtime in ((old, 1_000), (new, 2_000), (own / "c.db.part", 3_000), (own / "notes.txt", 4_000),
                        (own / "empty.db", 5_000)):
        path.write_bytes(b"" if path.name == "empty.db" else b"x" * 10)
        os.utime(path, (mtime, mtime))
    found = newest_backup([own, restic, tmp_path / "missing"])
    assert found is not None and found.path == new and found.size == 10
    assert found.age(now=2_090) == 90
    assert newest_backup([own]) == type(found)(old, 1_000, 10)
    assert newest_backup([tmp_path / "missing"]) is None


def test_age_text() -> None:
    assert [format_age(s) for s in (5, 420, 3 * 3600 + 12 * 60, 2 * 86400 + 4 * 3600)] == ["5s", "7m", "3h12m", "2d4h"]


def test_own_backup_path_is_private(tmp_path: Path) -> None:
    from etcdtui.engine.backups import new_own_backup_path

    path = new_own_backup_path("ctx-a", tmp_path / "state")
    assert path.parent == tmp_path / "state" / "backups" and path.name.startswith("etcd-snapshot-ctx-a-")
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert path.parent.stat().st_mode & 0o777 == 0o700 and not path.exists()


def test_own_directory_counts_only_the_contexts_own_snapshots(tmp_path: Path) -> None:
    """etcdtui's own directory holds every context's snapshots: `prod` must never be shown `prod-eu`'s (newer)
    snapshot as its backup, nor be offered it to restore from after a loss of quorum."""
    from etcdtui.engine.backup_age import BackupPlace, backup_file_name, backup_file_stem

    own = tmp_path / "own"
    own.mkdir()
    prod, prod_eu = own / backup_file_name("prod", 1_000), own / backup_file_name("prod-eu", 2_000)
    for path, mtime in ((prod, 1_000), (prod_eu, 2_000), (own / "etcd-snapshot-prod-latest.db", 3_000),
                        (own / "restic-restore.db", 4_000)):
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    assert prod.name.startswith("etcd-snapshot-prod-") and prod_eu.name.startswith("etcd-snapshot-prod-eu-")
    found = newest_backup([BackupPlace(own, "prod")])
    assert found is not None and found.path == prod
    found_eu = newest_backup([BackupPlace(own, "prod-eu")])
    assert found_eu is not None and found_eu.path == prod_eu
    assert newest_backup([BackupPlace(own, "staging")]) is None
    newest_any = newest_backup([own])  # a bare directory (a restic restore, --backup-dir): every snapshot counts
    assert newest_any is not None and newest_any.path.name == "restic-restore.db"
    arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod"
    assert "/" not in backup_file_stem(arn) and ":" not in backup_file_stem(arn)
    (own / backup_file_name(arn, 5_000)).write_bytes(b"x")
    found_arn = newest_backup([BackupPlace(own, arn)])
    assert found_arn is not None and found_arn.path.parent == own
