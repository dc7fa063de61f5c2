"""The replace journal (JSONL, 0600, resume): real files in a temp dir. The lock: test_replace_lock.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from etcdtui.core.checklist import Checklist, StepId, StepStatus
from etcdtui.engine.replace_journal import Journal, cluster_key, state_dir

pytestmark = pytest.mark.unit


def test_journal_is_0600_and_resumes_exactly_at_the_running_step(tmp_path: Path) -> None:
    journal = Journal.for_cluster("prod-eu", "https://10.0.0.1:6443", tmp_path / "state")
    c = Checklist("cp-2", "prod-eu", "https://10.0.0.1:6443")
    journal.append(c.begin_record(1.0))
    for step in (StepId.CONTEXT, StepId.EVIDENCE, StepId.QUORUM):
        journal.append(c.start(step, ["x"], 1.0))
        journal.append(c.finish(step, 2.0))
    journal.append(c.skip(StepId.BACKUP, "snapshot taken by hand", 2.0))
    journal.append(c.start(StepId.DRAIN, ["drain"], 3.0, confirmation="typed cp-2 on prod-eu"))
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.path.parent.stat().st_mode) == 0o700
    with journal.path.open("a") as fh:
        fh.write('{"type": "step", "step": 4, "sta')  # torn last line of a crash mid-write
    resumed = journal.load()
    assert resumed is not None and resumed.next_step() is StepId.DRAIN
    assert resumed.step(StepId.DRAIN).interrupted
    assert resumed.step(StepId.DRAIN).confirmation == "typed cp-2 on prod-eu"
    assert resumed.step(StepId.BACKUP).status is StepStatus.SKIPPED


def test_finished_journals_are_archived_and_not_offered(tmp_path: Path) -> None:
    journal = Journal.for_cluster("c", "s", tmp_path)
    c = Checklist("n", "c", "s")
    journal.append(c.begin_record(1.0))
    journal.append(c.end("replaced", 2.0))
    assert journal.load() is None
    archived = journal.archive()
    assert archived is not None and archived.exists() and not journal.exists()
    assert json.loads(archived.read_text().splitlines()[-1])["outcome"] == "replaced"


def test_cluster_keys_differ_per_server_and_are_file_safe() -> None:
    a, b = cluster_key("ctx/with spaces", "https://a"), cluster_key("ctx/with spaces", "https://b")
    assert a != b and "/" not in a and " " not in a


def test_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "etcdtui" / "replace"
