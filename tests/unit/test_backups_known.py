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
