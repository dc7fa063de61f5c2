"""Where the checks screen finds kubeone: flags > config (per context > top level) > the lab's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdtui.engine.checks import lab_dir_of, settings_for
from etcdtui.ui.config import ConfigError, KubeOnePaths, parse_config

pytestmark = pytest.mark.ui


def test_per_context_paths_override_the_top_level_ones() -> None:
    config = parse_config({
        "kubeone": {"binary": "/opt/kubeone", "manifest": "~/clusters/default/kubeone.yaml"},
        "contexts": {"prod": {"kubeone": {"manifest": "/srv/prod/kubeone.yaml", "tf": "/srv/prod/tf.json"}}},
    })
    assert config.kubeone_for("prod") == KubeOnePaths("/opt/kubeone", "/srv/prod/kubeone.yaml", "/srv/prod/tf.json")
    other = config.kubeone_for("staging")
    assert other.binary == "/opt/kubeone" and other.manifest == str(Path.home() / "clusters/default/kubeone.yaml")
    assert other.tf is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kubeone": "kubeone"}, "kubeone must be a mapping with binary, manifest, tf"),
        ({"kubeone": {"tfjson": "x"}}, "kubeone: unknown key(s) tfjson"),
        ({"contexts": {"p": {"kubeone": {"binary": 3}}}}, "contexts.p.kubeone.binary must be a path"),
    ],
)
def test_bad_kubeone_settings_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(data)


def test_a_lab_kubeconfig_brings_the_labs_files(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("")
    assert lab_dir_of(tmp_path / "kubeconfig") is None  # not a lab without kubeone.yaml and lab.json
    (tmp_path / "kubeone.yaml").write_text("")
    (tmp_path / "lab.json").write_text("{}")
    settings = settings_for(str(tmp_path / "kubeconfig"), manifest="/explicit/kubeone.yaml")
    assert settings.lab_dir == tmp_path and settings.manifest == "/explicit/kubeone.yaml"
