"""One exporter, several contexts: the lab's ring plus a context whose API refuses and one whose kubeconfig
entry cannot even be opened. Every series carries its context; the broken ones never stop the others."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from _alerting import start_exporter, stop_exporter, wait_until
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _fleet_contexts import refused_port, with_broken_contexts, write_kubeconfig  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _by_context(text: str, name: str) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {s.labels["context"]: s.value for s in family.samples}
    return {}


def test_one_exporter_watches_several_contexts(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = with_broken_contexts(yaml.safe_load(lab.kubeconfig.read_text()), refused=refused_port(), hanging=None)
    doc["contexts"].append({"name": "no-such-cluster", "context": {"cluster": "missing", "user": "missing"}})
    kubeconfig = write_kubeconfig(tmp_path / "fleet.kubeconfig", doc)
    exporter = start_exporter(kubeconfig, tmp_path / "exporter.log",
                              extra=("--context", "etcdtui-lab", "--context", "refusing",
                                     "--context", "no-such-cluster"))
    try:
        def lab_and_broken_seen() -> bool:
            text = exporter.get("/metrics")[1]
            return (_by_context(text, "etcdtui_check_success").get("etcdtui-lab") == 1
                    and "refusing" in _by_context(text, "etcdtui_check_success"))

        wait_until(lab_and_broken_seen, 60, "the lab's ring and the refusing context in one scrape")
        text = exporter.get("/metrics")[1]
        success = _by_context(text, "etcdtui_check_success")
        assert success == {"etcdtui-lab": 1, "refusing": 0, "no-such-cluster": 0}, success
        assert _by_context(text, "etcdtui_ring_status")["no-such-cluster"] == 3
        assert _by_context(text, "etcdtui_ring_members")["etcdtui-lab"] == 3
        log = (tmp_path / "exporter.log").read_text()
        assert "context no-such-cluster:" in log and "Traceback" not in log, log
    finally:
        assert stop_exporter(exporter) == 0
