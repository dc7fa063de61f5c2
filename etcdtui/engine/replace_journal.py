"""The replace procedure's journal (JSONL, 0600) and its per-cluster lock, in the XDG state directory.

One journal per cluster (`replace-<cluster key>.jsonl`): records are appended and fsynced as steps change, so a
procedure killed at any point is replayed (`etcdtui.core.checklist.replay`) and resumed exactly there. A finished
procedure's journal is renamed `…-<timestamp>.done.jsonl` (kept as a record). The lock (`replace-<key>.lock`,
0600, holding the pid) makes sure one procedure runs per cluster; a lock whose pid is gone is stale and taken over.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from etcdtui.core.checklist import Checklist, ChecklistError, replay

MAX_RECORD_BYTES = 256 * 1024  # a record carries at most one output tail; bigger lines are cut


class JournalError(Exception):
    """One line: the journal or the lock cannot be used."""


def state_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "etcdtui" / "replace"


def cluster_key(context: str, server: str) -> str:
    """A file-name-safe key for one cluster: readable context plus a hash of context and server."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", context)[:40].strip("-") or "cluster"
    digest = hashlib.sha256(f"{context}\n{server}".encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


def _open_0600(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file created by something else gets tightened too
    return fd


class Journal:
    """`procedure` names the file (`replace-…`, `defrag-…`): each procedure resumes its own journal."""

    def __init__(self, directory: Path, key: str, procedure: str = "replace") -> None:
        self.directory = directory
        self.key = key
        self.procedure = procedure
        self.path = directory / f"{procedure}-{key}.jsonl"

    @classmethod
    def for_cluster(cls, context: str, server: str, directory: Path | None = None,
                    procedure: str = "replace") -> Journal:
        return cls(state_dir(directory), cluster_key(context, server), procedure)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Checklist | None:
        """The unfinished procedure of this cluster, or None. Raises JournalError if it cannot be read."""
        if not self.path.exists():
            return None
        try:
            records = list(self._records())
            checklist = replay(records)
        except (OSError, ChecklistError) as exc:
            raise JournalError(f"journal {self.path}: {exc}") from None
        return None if checklist.finished else checklist

    def _records(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue  # a torn last line from a crash mid-write: everything before it counts

    def append(self, record: Mapping[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps(record, separators=(",", ":"), default=str)
        if len(line) > MAX_RECORD_BYTES:
            trimmed = dict(record)
            trimmed["output_tail"] = [str(x)[:500] for x in record.get("output_tail", [])][-50:]
            line = json.dumps(trimmed, separators=(",", ":"), default=str)
        fd = _open_0600(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def archive(self) -> Path | None:
        """Move a finished journal aside; a new procedure then starts a new journal."""
        if not self.path.exists():
            return None
        target = self.path.with_name(f"{self.procedure}-{self.key}-{time.strftime('%Y%m%dT%H%M%S')}.done.jsonl")
        os.replace(self.path, target)
        return target

    def discard(self) -> None:
        """The operator abandoned the unfinished procedure: keep it as a record, out of the resume path."""
        if self.path.exists():
            os.replace(self.path, self.path.with_name(
                f"{self.procedure}-{self.key}-{time.strftime('%Y%m%dT%H%M%S')}.abandoned.jsonl"))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie holds no lock
    return True


class ProcedureLock:
    """One procedure per cluster at a time, across processes (O_EXCL file with the owner's pid and procedure).

    Replace and defragment share the one lock file: never surgery on two members of a ring at once.
    """

    def __init__(self, directory: Path, key: str, procedure: str = "replace") -> None:
        self.path = directory / f"replace-{key}.lock"
        self.procedure = procedure
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for _ in range(3):
            try:
                fd = _open_0600(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                owner = self.owner()
                what = self.owner_procedure()
                if owner == os.getpid():
                    raise JournalError(f"the {what} procedure of this cluster is already open in this etcdtui") \
                        from None
                if owner is not None and _pid_alive(owner):
                    raise JournalError(
                        f"another {what} procedure runs on this cluster (pid {owner}, lock {self.path})"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # stale: its process is gone
                continue
            try:
                os.write(fd, f"{os.getpid()} {self.procedure}\n".encode())
            finally:
                os.close(fd)
            self.held = True
            return
        raise JournalError(f"cannot take the lock {self.path}")

    def owner(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def owner_procedure(self) -> str:
        try:
            words = self.path.read_text().split()
        except OSError:
            words = []
        return words[1] if len(words) > 1 else "replace"

    def release(self) -> None:
        if self.held and self.owner() == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.held = False

    def __enter__(self) -> ProcedureLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
