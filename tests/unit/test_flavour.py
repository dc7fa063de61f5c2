"""A context's flavour (config, else a kubeone manifest configured or found, else kubeadm) and its ssh settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.flavour import FlavourConfigError, context_settings, decide, parse_context
from etcdtui.ui.config import ConfigError, parse_config


def test_config_wins_then_a_manifest_then_kubeadm(tmp_path: Path) -> None:
    assert decide("kubeadm", KubeOneSettings(manifest="/k/kubeone.yaml")).name == "kubeadm"
    assert decide(None, KubeOneSettings(manifest="/k/kubeone.yaml")).describe() == \
        "kubeone (kubeone manifest /k/kubeone.yaml)"
    (tmp_path / "kubeone.yaml").write_text("apiVersion: kubeone.k8c.io/v1beta2\n")
    assert decide(None, KubeOneSettings(lab_dir=tmp_path)).name == "kubeone"
    found = decide(None, KubeOneSettings(lab_dir=tmp_path / "elsewhere"))
    assert found.is_kubeadm and found.reason == "no kubeone manifest configured or found"


def test_context_settings_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("contexts:\n  prod:\n    flavour: kubeadm\n    ssh:\n      user: admin\n      port: 2222\n"
                    "      known_hosts: /k/known_hosts\n      bastion: jump@bastion.example:2200\n")
    settings = context_settings("prod", path)
    assert settings.flavour == "kubeadm" and settings.ssh is not None
    target = settings.ssh.target("cp-1", "10.0.0.11")
    assert target.describe() == "admin@10.0.0.11:2222 (node cp-1) via bastion jump@bastion.example:2200"
    assert target.known_hosts == "/k/known_hosts"
    assert context_settings("other", path).flavour is None
    assert context_settings("prod", tmp_path / "missing.yaml").ssh is None


@pytest.mark.parametrize(("entry", "message"), [
    ({"flavour": "rke2"}, "must be kubeone or kubeadm"),
    ({"ssh": {"port": 0}}, "port must be a port number"),
    ({"ssh": {"usr": "x"}}, "unknown key(s) usr"),
    ({"ssh": {"bastion": "host:abc"}}, "bastion must be"),
])
def test_bad_settings_are_one_line_errors(entry: dict[str, object], message: str) -> None:
    with pytest.raises(FlavourConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_context("prod", entry)
    with pytest.raises(ConfigError, match="contexts.prod"):  # the app refuses the file before connecting
        parse_config({"contexts": {"prod": entry}})
