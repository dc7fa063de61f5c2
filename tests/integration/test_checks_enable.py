"""`ChecksService` against the session lab (real etcd, real API server, the lab's real `kubeone` in a PTY):
the audit, and every way "Enable" can stop short. Nothing here changes the lab: answering "no", or kubeone
refusing before its prompt."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from etcdtui.cluster.kube import ClusterConnection
from etcdtui.engine.checks import (
    DECLINED,
    FAILED,
    ChecksService,
    EnableRefused,
    KubeOneSettings,
)
from etcdtui.engine.checks_plan import Plan
from etcdtui.engine.context_settings import from_kubeconfig
from etcdtui.lab.kubeone_version import VERSION_ENV

Lab = Any  # conftest.RunningLab (not imported: tests/ui has a conftest module of the same name)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def conn(lab: Lab) -> AsyncIterator[ClusterConnection]:
    connection = await ClusterConnection.open(kubeconfig=str(lab.kubeconfig))
    yield connection
    await connection.close()


def _service(conn: ClusterConnection, lab: Lab, **changes: object) -> ChecksService:
    base = KubeOneSettings.of(from_kubeconfig(str(lab.kubeconfig)).kubeone)  # the lab's kubeconfig extension
    return ChecksService(conn, dataclasses.replace(base, **changes))


class Recorder:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.plans: list[Plan] = []
        self.output: list[str] = []
        self.progress: list[str] = []

    async def plan(self, plan: Plan, prompt: str) -> bool:
        self.plans.append(plan)
        return self.answer

    def kwargs(self) -> dict[str, object]:
        return {"on_output": self.output.extend, "on_plan": self.plan, "on_progress": self.progress.append}


async def test_report_on_the_lab_shows_checks_off_and_the_3_5_1_risk(conn: ClusterConnection, lab: Lab) -> None:
    report = await _service(conn, lab).report()
    assert [m.pod for m in report.members] == [f"etcd-{n}" for n in lab.nodes]
    for m in report.members:
        assert (m.audit.initial, m.audit.periodic, m.compaction_available) == (False, False, False)
        assert str(m.version) == "3.5.1" and "#13766" in m.risk.summary
        assert m.logs.read and not m.logs.enabled and m.logs.initial == "none"
    assert not report.all_on
    k = report.kubeone
    assert k.binary_source == "configured" and k.version is not None and k.version.git_version == "1.8.2"
    assert k.blockers() == []
    assert k.command[1:] == ("apply", "-m", str(lab.layout.kubeone_yaml), "-t", str(lab.layout.tf_json),
                             "--force-upgrade")
    assert report.backups.deployed is False and "not deployed" in report.backups.detail


async def test_answering_no_leaves_the_cluster_unchanged(conn: ClusterConnection, lab: Lab) -> None:
    service = _service(conn, lab)
    before = {m.pod: (m.command, m.uid) for m in await service.audit()}
    rec = Recorder(answer=False)
    outcome = await service.enable(**rec.kwargs())  # type: ignore[arg-type]
    assert outcome.status == DECLINED
    assert "declined" in outcome.message and "unchanged" in outcome.message
    assert len(rec.plans) == 1 and rec.plans[0].safe and len(rec.plans[0].hosts) == len(lab.nodes)
    assert any("Operation canceled." in line for line in rec.output)
    assert {m.pod: (m.command, m.uid) for m in await service.audit()} == before
    assert all(not c.restarted and not c.added for c in outcome.changes)


async def test_kubeone_missing(conn: ClusterConnection, lab: Lab, tmp_path: Path) -> None:
    # No explicit binary, not a lab, empty PATH: nothing to run.
    service = ChecksService(conn, KubeOneSettings(path_env=str(tmp_path)))
    facts = await service.kubeone_facts()
    assert facts.binary is None and facts.blockers()[0].startswith("kubeone not found")
    with pytest.raises(EnableRefused, match="kubeone not found"):
        await service.enable(**Recorder(True).kwargs())  # type: ignore[arg-type]
    explicit = await _service(conn, lab, binary=str(tmp_path / "kubeone")).kubeone_facts()
    assert explicit.binary_error == f"kubeone: {tmp_path / 'kubeone'}: no such file"


async def test_kubeone_too_old(conn: ClusterConnection, lab: Lab) -> None:
    service = _service(conn, lab, extra_env={VERSION_ENV: "1.4.0"})
    facts = await service.kubeone_facts()
    assert facts.version is not None and facts.version.version == (1, 4, 0)
    assert facts.blockers() == ["KubeOne 1.4.0 does not set the etcd corruption checks; upgrade KubeOne to 1.4.1 or later"]
    rec = Recorder(True)
    with pytest.raises(EnableRefused, match="1.4.1 or later"):
        await service.enable(**rec.kwargs())  # type: ignore[arg-type]
    assert rec.plans == [] and rec.output == []


async def test_unreadable_manifest(conn: ClusterConnection, lab: Lab, tmp_path: Path) -> None:
    manifest = tmp_path / "kubeone.yaml"
    manifest.write_text("kind: KubeOneCluster\n")
    manifest.chmod(0)
    if os.access(manifest, os.R_OK):  # root reads anything: use a directory, which open() refuses for everyone
        manifest.chmod(0o600)
        manifest.unlink()
        manifest.mkdir()
    service = _service(conn, lab, manifest=str(manifest))
    facts = await service.kubeone_facts()
    assert facts.manifest_error is not None and facts.manifest_error.startswith(f"kubeone.yaml {manifest}: ")
    with pytest.raises(EnableRefused, match="kubeone.yaml"):
        await service.enable(**Recorder(True).kwargs())  # type: ignore[arg-type]
    missing = await _service(conn, lab, manifest=str(tmp_path / "nope.yaml")).kubeone_facts()
    assert missing.manifest_error == f"kubeone.yaml {tmp_path / 'nope.yaml'}: No such file or directory"


async def test_kubeone_failing_is_reported_with_its_exit_code(conn: ClusterConnection, lab: Lab,
                                                              tmp_path: Path) -> None:
    # A manifest asking for an older Kubernetes: KubeOne refuses ("cluster downgrades are disallowed", exit 15)
    # before its prompt, so the lab is not touched.
    doc = yaml.safe_load(lab.layout.kubeone_yaml.read_text())
    doc["versions"]["kubernetes"] = "1.31.0"
    manifest = tmp_path / "kubeone.yaml"
    manifest.write_text(yaml.safe_dump(doc))
    shutil.copy(lab.layout.tf_json, tmp_path / "tf.json")
    service = _service(conn, lab, manifest=str(manifest), tfjson=str(tmp_path / "tf.json"))
    before = {m.pod: m.command for m in await service.audit()}
    rec = Recorder(True)
    outcome = await service.enable(**rec.kwargs())  # type: ignore[arg-type]
    assert outcome.status == FAILED and rec.plans == []
    assert outcome.result is not None and outcome.result.exit_code == 15
    assert outcome.message == "kubeone failed (exit code 15): cluster downgrades are disallowed"
    assert {m.pod: m.command for m in await service.audit()} == before
