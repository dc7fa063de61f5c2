"""`check --all-contexts` output on fixed snapshots (the UI tests' fixed ring data): the text table and the
merged Prometheus text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import fixed_ring as fixtures

from etcdtui.engine.fleet import ContextCheck
from etcdtui.headless.check_fleet import text_table, write_metrics


def _results() -> list[ContextCheck]:
    return [
        ContextCheck("prod", replace(fixtures.healthy_ring(), context="prod"), None, 1.2),
        ContextCheck("staging", replace(fixtures.corrupted_ring(), context="staging"), None, 1.4),
        ContextCheck("edge", None, "cannot reach the API server https://10.0.0.9:6443: connection refused", 0.1),
    ]


def test_fleet_text_table_worst_first_with_reasons() -> None:
    lines = text_table(_results()).splitlines()
    assert lines[0].split()[:3] == ["CONTEXT", "VERDICT", "HEALTHY"]
    assert [line.split()[0] for line in lines[1:]] == ["staging", "edge", "prod"]
    assert "CORRUPTION" in lines[1] and "DIFFER" in lines[1]
    assert lines[2].endswith("connection refused") and "UNKNOWN" in lines[2]


def test_fleet_textfile_one_help_per_metric_and_a_context_label_on_every_series(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    target = tmp_path / "etcdtui.prom"
    write_metrics(target, _results())
    text = target.read_text()
    assert text.count("# HELP etcdtui_ring_status ") == 1
    families = {f.name: f for f in text_string_to_metric_families(text)}
    status = {s.labels["context"]: s.value for s in families["etcdtui_ring_status"].samples}
    assert status == {"prod": 1, "staging": 2, "edge": 3}
    assert {s.labels["context"] for s in families["etcdtui_check_success"].samples} == {"prod", "staging", "edge"}
    assert all("context" in s.labels for f in families.values() for s in f.samples)
