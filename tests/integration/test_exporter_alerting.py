"""Issue #11 end to end: `etcdtui exporter` on real labs, scraped by a real Prometheus evaluating the shipped
rules, paging through a real Alertmanager into a webhook receiver in this test.

One Prometheus + Alertmanager pair scrapes three exporters on three labs at once, and the scenarios run
concurrently (the suite stays within its time budget on 2 cores):

* `healthy` (checks off): writes for 3 minutes, no critical alert ever; EtcdCorruptionChecksOff and
  EtcdVersionDataLossRisk fire as warnings; then the exporter is SIGKILLed → EtcdtuiExporterDown.
* `incident` (checks on): `lab incident 13766` → EtcdMemberDataDiverged names exactly the member that lost
  the write (counted independently with etcdctl), within 60 s of the divergence.
* `outage` (checks on): `lab api-outage 60` → EtcdtuiCheckFailing fires and resolves, nothing critical
  meanwhile; then `lab corrupt NODE` → EtcdCorruptAlarmActive and EtcdMemberDataDiverged.

The only change to the shipped rules: `for:` longer than 10 s is cut to 10 s (see _alerting.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _alerting import (
    ALERTMANAGER,
    PROMETHEUS,
    PROMTOOL,
    Exporter,
    Stack,
    alerting_stack,
    start_exporter,
    stop_exporter,
    wait_until,
)
from _lab_cli import etcdtui
from conftest import RunningLab
from test_incident_13766 import serializable_keys

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER and PROMTOOL),
                       reason="Debian prometheus and prometheus-alertmanager are not installed"),
]

HEALTHY_FOR = 180.0
CRITICAL = "critical"


def criticals(stack: Stack, scenario: str) -> list[str]:
    return [f"{n.labels['alertname']} {n.labels}" for n in stack.hook.alerts(scenario=scenario)
            if n.labels.get("severity") == CRITICAL]


def healthy_scenario(stack: Stack, lab: RunningLab, exporter: Exporter) -> dict[str, float]:
    started = time.monotonic()
    load = subprocess.Popen(
        [sys.executable, "-m", "etcdtui", "lab", "load", "--seconds", f"{HEALTHY_FOR:g}", "--dir", str(lab.root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hook = stack.hook
    hook.wait(60, "EtcdCorruptionChecksOff", scenario="healthy")
    hook.wait(60, "EtcdVersionDataLossRisk", scenario="healthy", version="3.5.1")
    out, err = load.communicate(timeout=HEALTHY_FOR + 90)
    assert load.returncode == 0, err
    assert time.monotonic() - started >= HEALTHY_FOR
    puts = int(out.split()[0])
    assert puts > 100, out  # revisions really moved while Prometheus watched
    assert criticals(stack, "healthy") == []
    names = {n.labels["node"] for n in hook.alerts("EtcdCorruptionChecksOff", scenario="healthy")}
    assert names == set(lab.nodes)  # per member, naming each node
    moved = stack.query('max(max_over_time(etcdtui_member_revision{scenario="healthy"}[5m])'
                        ' - min_over_time(etcdtui_member_revision{scenario="healthy"}[5m]))')
    assert float(moved[0]["value"][1]) > 1000, moved  # Prometheus saw the revisions move

    exporter.proc.send_signal(signal.SIGKILL)
    killed = time.time()
    down = hook.wait(60, "EtcdtuiExporterDown", scenario="healthy")
    assert down[0].labels["instance"] == exporter.address
    assert criticals(stack, "healthy") == []
    return {"exporter_down_after_kill_s": down[0].at - killed}


def incident_scenario(stack: Stack, lab: RunningLab) -> dict[str, float]:
    run = etcdtui("lab", "incident", "13766", "--dir", str(lab.root), "--max-kills", "10", "--json", timeout=400)
    assert run.returncode == 0, run.stderr
    incident = json.loads(run.stdout)
    assert incident["diverged"] is True
    # Who really lost the write, counted independently of etcdtui and of the incident's own report.
    counts = {node: len(serializable_keys(lab.root, node)) for node in lab.nodes}
    fewest = min(counts.values())
    losers = [n for n, c in counts.items() if c == fewest]
    assert len(losers) == 1 and len(set(counts.values())) == 2, counts
    victim = losers[0]
    got = stack.hook.wait(90, "EtcdMemberDataDiverged", scenario="incident")
    after = got[0].at - incident["load_stopped_at"]
    assert after < 60, f"EtcdMemberDataDiverged reached the webhook {after:.1f} s after the divergence"
    time.sleep(5)  # any wrong second member would have been paged by now too
    named = {n.labels["node"] for n in stack.hook.alerts("EtcdMemberDataDiverged", scenario="incident")}
    assert named == {victim}, (named, counts)
    alert = got[0]
    assert alert.labels["severity"] == CRITICAL and alert.labels["pod"] == f"etcd-{victim}"
    assert f"etcdtui replace {victim}" in alert.annotations["description"]
    assert alert.annotations["runbook_url"].endswith("#etcdmemberdatadiverged")
    return {"diverged_alert_after_load_stopped_s": after}


def outage_then_corrupt_scenario(stack: Stack, lab: RunningLab, exporter: Exporter) -> dict[str, float]:
    hook = stack.hook
    wait_until(lambda: exporter.get("/readyz")[0] == 200, 60, "outage exporter ready")
    result = etcdtui("lab", "api-outage", "60", "--dir", str(lab.root))
    assert result.returncode == 0, result.stderr
    began = time.time()
    firing = hook.wait(60, "EtcdtuiCheckFailing", scenario="outage")
    wait_until(lambda: exporter.get("/readyz")[0] == 503, 30, "/readyz 503 while the data is stale")
    resolved = hook.wait(150, "EtcdtuiCheckFailing", status="resolved", scenario="outage")
    assert resolved[0].at - began >= 55  # resolves only once the API is back
    assert criticals(stack, "outage") == [], criticals(stack, "outage")
    wait_until(lambda: exporter.get("/readyz")[0] == 200, 60, "/readyz 200 after the outage")

    node = lab.nodes[1]
    result = etcdtui("lab", "corrupt", node, "--dir", str(lab.root), timeout=120)
    assert result.returncode == 0, result.stderr
    corrupted = time.time()
    alarm = hook.wait(90, "EtcdCorruptAlarmActive", scenario="outage")
    diverged = hook.wait(90, "EtcdMemberDataDiverged", scenario="outage")
    assert {n.labels["node"] for n in hook.alerts("EtcdMemberDataDiverged", scenario="outage")} == {node}
    assert alarm[0].labels["alarm"] == "CORRUPT"
    # The log engine runs in the exporter too: etcd's own corruption lines are counted by pod and kind.
    wait_until(lambda: bool(stack.query('etcdtui_log_findings_total{scenario="outage",kind=~"corruption[.].*"}')),
               60, "corruption log findings counted")
    return {"check_failing_after_outage_s": firing[0].at - began,
            "check_failing_resolved_after_outage_s": resolved[0].at - began,
            "corrupt_alarm_alert_after_corrupt_s": alarm[0].at - corrupted,
            "diverged_alert_after_corrupt_s": diverged[0].at - corrupted}


def test_prometheus_and_alertmanager_page_on_the_labs_real_incidents(
    fresh_lab: Callable[..., RunningLab], tmp_path: Path
) -> None:
    t0 = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        labs = dict(zip(("healthy", "incident", "outage"), pool.map(
            lambda checks: fresh_lab(corrupt_checks=checks), ("off", "on", "on")), strict=True))
    exporters = {name: start_exporter(lab.kubeconfig, tmp_path / f"exporter-{name}.log")
                 for name, lab in labs.items()}
    try:
        wait_until(lambda: all(e.get("/readyz")[0] == 200 for e in exporters.values()), 60, "exporters ready")
        # promtool check metrics on a real scrape
        status, text = exporters["healthy"].get("/metrics")
        assert status == 200 and 'etcdtui_member_hash_agrees{context="etcdtui-lab"' in text
        lint = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True,
                              check=False)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert exporters["healthy"].get("/healthz") == (200, "ok\n")

        with alerting_stack(tmp_path / "alerting", {n: e.address for n, e in exporters.items()}) as stack:
            with ThreadPoolExecutor(3) as pool:
                healthy = pool.submit(healthy_scenario, stack, labs["healthy"], exporters["healthy"])
                incident = pool.submit(incident_scenario, stack, labs["incident"])
                outage = pool.submit(outage_then_corrupt_scenario, stack, labs["outage"], exporters["outage"])
                figures = {**incident.result(), **outage.result(), **healthy.result()}
        figures["wall_s"] = time.monotonic() - t0
        print("\nexporter alerting figures:", json.dumps({k: round(v, 1) for k, v in figures.items()}))
    finally:
        codes = {name: stop_exporter(e) for name, e in exporters.items()}
    # SIGTERM stops the surviving exporters cleanly (the healthy one was SIGKILLed on purpose).
    assert codes["incident"] == 0 and codes["outage"] == 0, codes
    for name in ("incident", "outage"):
        log = (tmp_path / f"exporter-{name}.log").read_text()
        assert "Traceback" not in log and log.rstrip().endswith("etcdtui exporter: stopped"), log[-2000:]
