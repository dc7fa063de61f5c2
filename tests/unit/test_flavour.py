"""A context's flavour (its `flavour` setting, else a kubeone manifest, else kubeadm) and its node ssh settings,
all from the one per-context settings path (engine/context_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from etcdtui.cluster.ssh_target import DEFAULT_KNOWN_HOSTS
from etcdtui.engine.context_settings import (
    ClusterSettings,
    KubeOnePaths,
    SettingsError,
    SshSettings,
    parse_cluster_settings,
    resolve_settings,
)
from etcdtui.engine.flavour import NodeSsh, decide
from etcdtui.ui.config import ConfigError, load_config, parse_config


def test_setting_wins_then_a_manifest_then_kubeadm() -> None:
    manifest = KubeOnePaths(manifest="/k/kubeone.yaml")
    assert decide(ClusterSettings(manifest, flavour="kubeadm")).name == "kubeadm"
    assert decide(ClusterSettings(manifest)).describe() == "kubeone (kubeone manifest /k/kubeone.yaml)"
    found = decide(ClusterSettings())
    assert found.is_kubeadm and found.reason == "no kubeone manifest configured or found"


def test_flavour_and_ssh_from_the_config_file_over_the_kubeconfig_extension(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("contexts:\n  prod:\n    flavour: kubeadm\n    ssh:\n      user: admin\n      port: 2222\n"
                    "      known_hosts: /k/known_hosts\n      bastion: jump@bastion.example:2200\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "current-context: prod\ncontexts:\n"
        "- name: prod\n  context:\n    extensions:\n    - name: etcdtui\n      extension:\n"
        "        flavour: kubeone\n        ssh: {identity_file: keys/id, port: 22}\n"
        "- name: other\n  context:\n    extensions:\n    - name: etcdtui\n      extension:\n"
        "        kubeone: {manifest: kubeone.yaml}\n")
    settings = resolve_settings("prod", str(kubeconfig), path=path)
    assert settings.flavour == "kubeadm"  # config.yaml over the extension
    assert settings.ssh.identity_file == str(tmp_path / "keys/id")  # the extension's, relative to the kubeconfig
    target = NodeSsh.of(settings.ssh).target("cp-1", "10.0.0.11")
    assert target.describe() == "admin@10.0.0.11:2222 (node cp-1) via bastion jump@bastion.example:2200"
    assert target.known_hosts == "/k/known_hosts" and target.hop.key_file == str(tmp_path / "keys/id")
    other = resolve_settings("other", str(kubeconfig), path=path)
    assert other.flavour is None and decide(other).name == "kubeone"
    assert decide(resolve_settings("prod", str(kubeconfig), path=tmp_path / "missing.yaml")).name == "kubeone"


def test_node_ssh_defaults() -> None:
    assert NodeSsh.of(SshSettings()) == NodeSsh("root", 22, None, DEFAULT_KNOWN_HOSTS, None)


@pytest.mark.parametrize(("entry", "message"), [
    ({"flavour": "rke2"}, "flavour must be kubeone or kubeadm"),
    ({"ssh": {"port": 0}}, "port must be a port number"),
    ({"ssh": {"port": True}}, "port must be a port number"),
    ({"ssh": {"usr": "x"}}, "unknown key(s) usr"),
    ({"ssh": {"identity_file": 3}}, "identity_file must be a string"),
    ({"ssh": {"bastion": "host:abc"}}, "bastion: expected"),
])
def test_bad_settings_are_one_line_errors(entry: dict[str, object], message: str) -> None:
    pattern = message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(SettingsError, match=pattern):
        parse_cluster_settings(entry, "contexts.prod")
    with pytest.raises(ConfigError, match="contexts.prod"):  # the app refuses the file before connecting
        parse_config({"contexts": {"prod": entry}})


def test_the_app_and_the_headless_commands_read_config_yaml_alike(tmp_path: Path) -> None:
    """One reader (engine/config_file.py), one parser of the cluster keys: the UI's config and `resolve_settings`
    give the same settings for a context, and refuse the same broken file with the same line."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"kubeone": {"binary": "/opt/kubeone"}, "contexts": {"prod": {
        "accent": "#d70000", "flavour": "kubeadm", "ssh": {"user": "ubuntu", "port": 2222}}}}))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    for context in ("prod", "staging"):
        assert (load_config(path).clusters.settings_for(context, str(kubeconfig))
                == resolve_settings(context, str(kubeconfig), path=path))
    assert resolve_settings("prod", str(kubeconfig), path=path).ssh.port == 2222
    path.write_text("contexts: [unclosed\n")
    with pytest.raises(ConfigError) as ui_error:
        load_config(path)
    with pytest.raises(SettingsError) as headless_error:
        resolve_settings("prod", str(kubeconfig), path=path)
    assert str(ui_error.value) == str(headless_error.value) == f"{path}: not valid YAML (line 2)"
