"""`lab up` retries a start whose etcd lost a picked port to another process (seen: `bind: address already in
use` with labs starting side by side). The race itself cannot be provoked on demand, so the one start is
replaced here by a stand-in that fails like the daemon reports it; the real starts are the lab tests'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etcdtui.lab import lifecycle as cli

pytestmark = pytest.mark.unit

TAKEN = "etcd on lab-cp-2 failed to start: discovery failed: listen tcp 127.0.0.1:21976: bind: address already in use"


def test_a_port_lost_to_another_process_is_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def once(root: Path, **options: Any) -> dict[str, Any]:
        calls.append(options)
        if len(calls) < 3:
            raise cli.LabCliError(TAKEN)
        return {"pid": 1}

    monkeypatch.setattr(cli, "_start_lab_once", once)
    assert cli.start_lab(tmp_path, members=3) == {"pid": 1}
    assert len(calls) == 3


def test_other_failures_and_a_fixed_api_port_are_not_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[str] = []

    def once(root: Path, **options: Any) -> dict[str, Any]:
        calls.append("x")
        raise cli.LabCliError("etcd binary not found" if not options.get("api_port") else TAKEN)

    monkeypatch.setattr(cli, "_start_lab_once", once)
    with pytest.raises(cli.LabCliError, match="not found"):
        cli.start_lab(tmp_path)
    with pytest.raises(cli.LabCliError, match="address already in use"):
        cli.start_lab(tmp_path, api_port=6443)  # the user's own port: retrying would not help
    assert len(calls) == 2
