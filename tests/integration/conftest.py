"""Shared lab fixtures: real `etcdtui lab up` labs (real etcd ring, API server, ssh nodes) in temp dirs.

`lab` is one lab for the whole session: use it read-only (list, watch, logs, exec). Tests that break
things (kill, corrupt, reset, outage) take a `fresh_lab` of their own, stopped after the test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from etcdtui.lab.layout import LabLayout
from etcdtui.lab.lifecycle import lab_processes, start_lab, stop_lab


@dataclass
class RunningLab:
    root: Path
    state: dict[str, Any]  # lab.json as the daemon wrote it: pid, ports, api, etcd_pids, ssh, token

    @property
    def layout(self) -> LabLayout:
        return LabLayout(self.root)

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    @property
    def nodes(self) -> list[str]:
        return list(self.state["nodes"])

    def env(self) -> dict[str, str]:
        """Environment for kubectl/ssh subprocesses aimed at this lab."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def reload(self) -> dict[str, Any]:
        self.state = json.loads(self.layout.state_file.read_text())
        return self.state


def _start(root: Path, **options: Any) -> RunningLab:
    return RunningLab(root, start_lab(root, **options))


def _stop(lab: RunningLab) -> None:
    stop_lab(lab.root)
    left = lab_processes(lab.root)
    assert not left, f"lab processes left behind: {left}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """One 3-member lab (corruption checks off) shared by the whole session: do not break it."""
    running = _start(tmp_path_factory.mktemp("lab-session") / "lab")
    try:
        yield running
    finally:
        _stop(running)


@pytest.fixture
def fresh_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningLab]]:
    """Factory: `fresh_lab(members=3, corrupt_checks="on")` starts a lab this test may destroy."""
    started: list[RunningLab] = []

    def make(**options: Any) -> RunningLab:
        running = _start(tmp_path_factory.mktemp("lab-fresh") / "lab", **options)
        started.append(running)
        return running

    try:
        yield make
    finally:
        for running in started:
            if running.root.exists():
                _stop(running)
