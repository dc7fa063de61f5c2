"""`etcdtui check` as a subprocess against the session lab, and every way it can fail to check.

Read-only on the session lab; the error cases use broken copies of its kubeconfig.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PODS = ["etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"]


def check(*args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = "/nonexistent-home"  # never fall back to a developer's ~/.kube/config
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run([sys.executable, "-m", "etcdtui", "check", *args], capture_output=True, text=True,
                          env=env, timeout=90, check=False)


def assert_unknown_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def broken_copy(lab_kubeconfig: Path, tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(lab_kubeconfig.read_text())
    mutate(doc)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


def test_json_on_healthy_lab_exits_1_naming_every_member(lab) -> None:  # type: ignore[no-untyped-def]
    result = check("--json", kubeconfig=lab.kubeconfig)
    assert result.returncode == 1, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert set(report) == {"status", "verdict", "context", "members", "findings"}
    assert report["status"] == "WARNING" and report["verdict"] == "WARNING" and report["context"] == "etcdtui-lab"
    assert [m["pod"] for m in report["members"]] == PODS
    for m in report["members"]:
        assert set(m) == {"pod", "node", "member_id", "version", "leader", "healthy", "hash_agrees", "checks", "findings",
                          "db_size", "db_size_in_use", "quota_backend_bytes", "alarms"}
        assert m["db_size"] >= m["db_size_in_use"] > 0 and m["quota_backend_bytes"] == 2 * 1024**3 and m["alarms"] == []
        assert m["node"] == m["pod"].removeprefix("etcd-")
        assert re.fullmatch(r"[0-9a-f]+", m["member_id"])
        assert m["version"] == "3.5.1" and m["healthy"] is True and m["hash_agrees"] is True
        assert m["checks"] == {"initial": False, "periodic": None, "compaction": False}
        assert any(f["kind"] == "checks.periodic_off" for f in m["findings"])
    assert sum(1 for m in report["members"] if m["leader"]) == 1


def test_text_report_lists_members_and_findings(lab) -> None:  # type: ignore[no-untyped-def]
    result = check(kubeconfig=lab.kubeconfig)
    assert result.returncode == 1, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("etcd ring: WARNING") and "members 3" in first and "quorum 2" in first
    for pod in PODS:
        assert any(line.startswith(pod) for line in rest)
    findings = rest[rest.index("findings (most severe first):") + 1:]
    severities = [line.split()[0] for line in findings]
    order = {"CRITICAL": 3, "WARNING": 2, "INFO": 1}
    assert severities == sorted(severities, key=lambda s: -order[s])  # most severe first
    assert result.stderr == ""


def test_prometheus_textfile_is_written_atomically_and_parses(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "etcdtui.prom"
    out.write_text("old content\n")
    result = check("--prometheus", str(out), kubeconfig=lab.kubeconfig)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etcdtui.prom"]  # no temp file left behind
    sample = re.compile(r'^(etcdtui_[a-z_]+)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.e+]+)$')
    metrics: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed = set()
    for line in out.read_text().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("gauge", "counter")
            typed.add(name)  # counters too: the exporter's families, one definition
            continue
        if line.startswith("# HELP "):
            continue
        m = sample.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        metrics.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    assert set(metrics) <= typed
    assert metrics["etcdtui_ring_status"] == [({"context": "etcdtui-lab"}, 1.0)]
    assert metrics["etcdtui_check_success"][0][1] == 1.0
    verdicts = {lb["verdict"]: v for lb, v in metrics["etcdtui_ring_verdict"]}
    assert verdicts["WARNING"] == 1.0 and sum(verdicts.values()) == 1.0
    healthy = {lb["pod"]: v for lb, v in metrics["etcdtui_member_healthy"]}
    assert healthy == dict.fromkeys(PODS, 1.0)
    assert all(v == 1.0 for _, v in metrics["etcdtui_member_hash_agrees"])
    checks = {(lb["pod"], lb["check"]): v for lb, v in metrics["etcdtui_member_corruption_checks"]}
    assert len(checks) == 9 and set(checks.values()) == {0.0}
    assert {v for _, v in metrics["etcdtui_member_version_risk"]} == {3.0}
    assert any(lb["kind"] == "checks.periodic_off" and lb["severity"] == "critical" and v == 3.0
               for lb, v in metrics["etcdtui_findings"])


def test_missing_kubeconfig(tmp_path: Path) -> None:
    assert_unknown_one_line(check("--kubeconfig", str(tmp_path / "nope")), "no such file")


def test_no_kubeconfig_at_all() -> None:
    assert_unknown_one_line(check(), "no kubeconfig")


def test_garbage_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(b"\x00\x01 not: [yaml\n\t: :")
    assert_unknown_one_line(check("--kubeconfig", str(path)), str(path))


def test_unknown_context_lists_the_known_ones(lab) -> None:  # type: ignore[no-untyped-def]
    line = assert_unknown_one_line(check("--context", "prod", kubeconfig=lab.kubeconfig), "'prod'", "etcdtui-lab")
    assert "known:" in line


def test_unreachable_server(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:  # a port nothing listens on (bound, never listened)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

        def point_elsewhere(doc: dict) -> None:  # type: ignore[type-arg]
            doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"

        path = broken_copy(lab.kubeconfig, tmp_path, point_elsewhere)
        assert_unknown_one_line(check("--kubeconfig", str(path), "--timeout", "10"), "cannot reach", "connection refused")


def test_wrong_token_is_401(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def wrong_token(doc: dict) -> None:  # type: ignore[type-arg]
        doc["users"][0]["user"]["token"] = "not-the-token"

    line = assert_unknown_one_line(check("--kubeconfig", str(broken_copy(lab.kubeconfig, tmp_path, wrong_token))), "401")
    assert "not-the-token" not in line  # never echo credentials


def test_no_etcd_pods_mentions_managed_clusters(lab) -> None:  # type: ignore[no-untyped-def]
    result = check("--selector", "component=kube-apiserver-nope", kubeconfig=lab.kubeconfig)
    assert_unknown_one_line(result, "no etcd pods", "EKS")
    assert result.stdout == ""


def test_prometheus_records_failure_when_unreachable(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))

        def point_elsewhere(doc: dict) -> None:  # type: ignore[type-arg]
            doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{s.getsockname()[1]}"

        path = broken_copy(lab.kubeconfig, tmp_path, point_elsewhere)
        out = tmp_path / "m.prom"
        assert_unknown_one_line(check("--kubeconfig", str(path), "--prometheus", str(out), "--timeout", "10"))
        text = out.read_text()
        assert 'etcdtui_check_success{context="etcdtui-lab"} 0' in text
        assert 'etcdtui_ring_status{context="etcdtui-lab"} 3' in text


def test_bad_arguments_exit_without_traceback(tmp_path: Path) -> None:
    result = check("--json", "--prometheus", str(tmp_path / "x"))
    assert result.returncode != 0 and "not allowed with" in result.stderr and "Traceback" not in result.stderr
    assert_unknown_one_line(check("--prometheus", str(tmp_path / "no-dir" / "x")), "does not exist")


def test_the_certificate_data_written_to_temp_files_is_removed_on_every_exit(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The kubernetes client writes a kubeconfig's `*-data` (CA, client key) to temp files and deletes them at
    exit; `check` leaves its process without the interpreter's teardown, so this proves the deletion still runs,
    after a verdict and after a failure."""
    temp = tmp_path / "tmp"
    temp.mkdir()

    def run(kubeconfig: Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env.update(HOME="/nonexistent-home", KUBECONFIG=str(kubeconfig), TMPDIR=str(temp))
        return subprocess.run([sys.executable, "-m", "etcdtui", "check", "--timeout", "10"], capture_output=True,
                              text=True, env=env, timeout=90, check=False)

    assert "certificate-authority-data" in lab.kubeconfig.read_text()  # what makes the client write a temp file
    verdict = run(lab.kubeconfig)
    assert verdict.returncode == 1 and "etcd ring: WARNING" in verdict.stdout, verdict.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        path = broken_copy(lab.kubeconfig, tmp_path, lambda d: d["clusters"][0]["cluster"].update(
            server=f"https://127.0.0.1:{port}"))
        assert_unknown_one_line(run(path), "cannot reach")
    assert list(temp.iterdir()) == []
