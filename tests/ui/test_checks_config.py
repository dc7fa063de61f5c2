"""Where kubeone and the ssh settings come from, for every context alike (a lab's is no special case):
flags > config.yaml `contexts.<name>` > the kubeconfig context's `etcdtui` extension > config.yaml top level."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from etcdtui.engine.context_settings import (
    ClusterSettings,
    KubeOnePaths,
    SettingsError,
    SshSettings,
    from_kubeconfig,
    settings_for_context,
)
from etcdtui.ui.config import ConfigError, parse_config

pytestmark = pytest.mark.ui


def _kubeconfig(path: Path, extension: object, context: str = "prod") -> Path:
    ctx: dict[str, object] = {"cluster": context, "user": "admin"}
    if extension is not None:
        ctx["extensions"] = [{"name": "other.example.com/x", "extension": {"a": 1}},
                             {"name": "etcdtui", "extension": extension}]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "admin", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": ctx}],
    }))
    return path


def test_per_context_settings_override_the_top_level_ones() -> None:
    config = parse_config({
        "kubeone": {"binary": "/opt/kubeone", "manifest": "~/clusters/default/kubeone.yaml"},
        "contexts": {"prod": {"kubeone": {"manifest": "/srv/prod/kubeone.yaml", "tf": "/srv/prod/tf.json"},
                              "ssh": {"known_hosts": "~/prod_known_hosts", "user": "ubuntu",
                                      "bastion": "ops@bastion.example:2222"}}},
    })
    prod = config.clusters.settings_for("prod", "/nonexistent")
    assert prod.kubeone == KubeOnePaths("/opt/kubeone", "/srv/prod/kubeone.yaml", "/srv/prod/tf.json")
    assert prod.ssh == SshSettings(str(Path.home() / "prod_known_hosts"), "ubuntu", "ops@bastion.example:2222")
    assert prod.ssh.bastion_hop() == ("ops", "bastion.example", 2222)
    other = config.clusters.settings_for("staging", "/nonexistent")
    assert other.kubeone.binary == "/opt/kubeone"
    assert other.kubeone.manifest == str(Path.home() / "clusters/default/kubeone.yaml") and other.kubeone.tf is None
    assert other.ssh == SshSettings()


def test_the_kubeconfig_extension_and_config_yaml_are_one_schema_one_resolution(tmp_path: Path) -> None:
    """A context configured by hand in config.yaml and one carrying the same settings in its kubeconfig (as
    `etcdtui lab up` writes them) resolve to the same settings; flags and config.yaml win over the extension."""
    settings = {"kubeone": {"binary": "bin/kubeone", "manifest": "kubeone.yaml", "tf": "/abs/tf.json"},
                "ssh": {"known_hosts": "known_hosts"}}
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", settings)
    from_extension = settings_for_context("prod", str(kubeconfig))
    assert from_extension == ClusterSettings(
        KubeOnePaths(str(tmp_path / "bin/kubeone"), str(tmp_path / "kubeone.yaml"), "/abs/tf.json"),
        SshSettings(known_hosts=str(tmp_path / "known_hosts")))  # relative to the kubeconfig, like its certs
    by_hand = parse_config({"contexts": {"prod": {
        "kubeone": {k: str(tmp_path / v) if not v.startswith("/") else v for k, v in settings["kubeone"].items()},
        "ssh": {"known_hosts": str(tmp_path / "known_hosts")}}}})
    plain = _kubeconfig(tmp_path / "plain", None)
    assert settings_for_context("prod", str(plain), configured=by_hand.clusters.cluster_for("prod")) == from_extension
    flags = ClusterSettings(KubeOnePaths(binary="/usr/local/bin/kubeone"))
    configured = ClusterSettings(ssh=SshSettings(user="ubuntu", known_hosts="/etc/ssh/prod_known_hosts"))
    merged = settings_for_context("prod", str(kubeconfig), flags=flags, configured=configured)
    assert merged.kubeone == KubeOnePaths("/usr/local/bin/kubeone", str(tmp_path / "kubeone.yaml"), "/abs/tf.json")
    assert merged.ssh == SshSettings("/etc/ssh/prod_known_hosts", "ubuntu", None)
    assert from_kubeconfig(str(kubeconfig), "another-context") == ClusterSettings()
    assert from_kubeconfig(str(tmp_path / "missing")) == ClusterSettings()


def test_a_bad_extension_is_one_clear_error(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", {"kubeone": {"binary": 3}})
    with pytest.raises(SettingsError, match=r"context prod\.kubeone\.binary must be a path"):
        from_kubeconfig(str(kubeconfig))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kubeone": "kubeone"}, "kubeone must be a mapping with binary, manifest, tf"),
        ({"kubeone": {"tfjson": "x"}}, "kubeone: unknown key(s) tfjson"),
        ({"contexts": {"p": {"kubeone": {"binary": 3}}}}, "contexts.p.kubeone.binary must be a path"),
        ({"contexts": {"p": {"ssh": {"password": "x"}}}}, "contexts.p.ssh: unknown key(s) password"),
            ({"contexts": {"p": {"ssh": {"port": "22"}}}}, "contexts.p.ssh.port must be a port number"),
            ({"contexts": {"p": {"flavour": "rke2"}}}, "contexts.p.flavour must be kubeone or kubeadm"),
        ({"contexts": {"p": {"ssh": {"bastion": "ops@:99999"}}}}, "contexts.p.ssh.bastion: expected [user@]host[:port]"),
    ],
)
def test_bad_settings_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        parse_config(data)
