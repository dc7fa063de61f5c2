"""The dead-machine checklist's journal side without a cluster: what a headless run left is shown done (with its
notes) and resumed at the next step; another node's repair is refused; abandoning moves the journal aside.

The repair's steps themselves run against a real lab in tests/ui/test_replace_dead_lab.py; here only the
journal is read (the connection is a stand-in holding a context name and a server URL, never used).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from etcdtui.core.checklist import StepStatus
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.dead_machine import STEPS
from etcdtui.engine.dead_machine_run import DeadMachineRun, pending_repair
from etcdtui.engine.replace import ReplaceSettings
from etcdtui.engine.replace_journal import JournalError
from etcdtui.engine.step_journal import StepJournal

pytestmark = pytest.mark.unit

CONN: Any = SimpleNamespace(context="prod-eu", server="https://10.0.0.1:6443")


class Asker:
    def __init__(self) -> None:
        self.changes: list[int | None] = []

    async def ask(self, question: Any) -> str | None:
        raise AssertionError("nothing is asked by opening")

    def changed(self, step: int | None) -> None:
        self.changes.append(step)


def _headless_run_stopped_at_wait(state: Path, node: str = "cp-2") -> None:
    journal, _ = StepJournal.with_lock(state, CONN, "repair")
    journal.append({"kind": "begin", "t": time.time(), "node": node, "member_id": "5426954dcaa1c7fc", "members": 3,
                    "reasons": ["Node cp-2 is NotReady"]})
    for step in STEPS[:5]:
        journal.append({"kind": "step", "step": step, "status": "running", "t": time.time()})
        journal.append({"kind": "step", "step": step, "status": "done", "t": time.time(), "note": f"{step} ok"})
    journal.append({"kind": "step", "step": "wait-machine", "status": "running", "t": time.time()})


def _run(state: Path, node: str = "cp-2") -> DeadMachineRun:
    settings = ReplaceSettings(node, KubeOneSettings(), state_dir=state)
    return DeadMachineRun(CONN, engine=None, settings=settings, interaction=Asker(), diagnosis=None)


async def test_a_headless_run_resumes_in_the_checklist_at_the_step_that_was_running(tmp_path: Path) -> None:
    _headless_run_stopped_at_wait(tmp_path)
    assert pending_repair(CONN, tmp_path) == "cp-2"
    run = _run(tmp_path)
    await run.open()
    try:
        assert run.resumed and run.lock.path.exists()
        steps = run.checklist.steps
        assert [s.status for s in steps[:5]] == [StepStatus.DONE] * 5
        assert steps[3].reason == "member-remove ok" and steps[3].destructive and not steps[5].destructive
        assert run.checklist.next_index() == STEPS.index("wait-machine")
    finally:
        run.lock.release()
        await run.close()


async def test_another_nodes_repair_is_refused_and_the_lock_released(tmp_path: Path) -> None:
    _headless_run_stopped_at_wait(tmp_path, node="cp-3")
    run = _run(tmp_path, node="cp-2")
    with pytest.raises(JournalError, match="unfinished dead-machine repair of cp-3"):
        await run.open()
    assert not run.lock.path.exists()
    fresh = _run(tmp_path / "empty")
    with pytest.raises(JournalError, match="no unfinished dead-machine repair of cp-2"):
        await fresh.open()  # no diagnosis and nothing to resume


async def test_abandoning_moves_the_journal_aside(tmp_path: Path) -> None:
    _headless_run_stopped_at_wait(tmp_path)
    run = _run(tmp_path)
    await run.open()
    run.abandon()
    run.lock.release()
    await run.close()
    assert pending_repair(CONN, tmp_path) is None and run.checklist.finished
    assert _abandoned_records(tmp_path)[-1] == {"kind": "end", "outcome": "abandoned", "t": pytest.approx(time.time(), abs=60)}


def _abandoned_records(state: Path) -> list[dict[str, Any]]:
    [aside] = state.glob("repair-*.abandoned.jsonl")
    return [json.loads(line) for line in aside.read_text().splitlines()]
