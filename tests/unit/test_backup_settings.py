"""`contexts.<name>.backups` (config.yaml or the kubeconfig extension): parsed, merged and refused like the rest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etcdtui.engine.backup_age import BackupPlace, backup_places, look
from etcdtui.engine.context_settings import (
    BackupSettings,
    ClusterSettings,
    SettingsError,
    parse_cluster_settings,
    settings_for_context,
)
from etcdtui.ui.config import ConfigError, parse_config

pytestmark = pytest.mark.unit


def test_parsed_with_a_default_threshold_of_a_day() -> None:
    s = parse_cluster_settings({"backups": {"dir": "~/restic/etcd", "max_age_hours": 6}}, "x")
    assert s.backups == BackupSettings(str(Path("~/restic/etcd").expanduser()), 6.0)
    assert s.backups.max_age_s == 6 * 3600
    assert ClusterSettings().backups.max_age_s == 24 * 3600


@pytest.mark.parametrize(("value", "says"), [
    ({"max_age_hours": 0}, "positive number"), ({"max_age_hours": True}, "positive number"),
    ({"max_age_hours": "24h"}, "positive number"), ({"dir": 3}, "must be a path"), ({"keep": 3}, "unknown key"),
    ("/srv/backups", "must be a mapping"),
])
def test_bad_values_are_one_line_naming_the_key(value: object, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        parse_cluster_settings({"backups": value}, "config.yaml: contexts.prod")


def test_the_app_config_takes_it_and_refuses_it_wrong() -> None:
    config = parse_config({"contexts": {"prod": {"accent": "red", "backups": {"dir": "/srv/restic"}}}})
    assert config.clusters.cluster_for("prod").backups.dir == "/srv/restic"
    with pytest.raises(ConfigError, match="max_age_hours"):
        parse_config({"contexts": {"prod": {"backups": {"max_age_hours": -1}}}})


def test_config_yaml_wins_over_the_kubeconfig_extension_key_by_key(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "current-context: prod\ncontexts:\n- name: prod\n  context:\n    extensions:\n    - name: etcdtui\n"
        "      extension:\n        backups: {dir: restored, max_age_hours: 12}\n")
    configured = ClusterSettings(backups=BackupSettings(max_age_hours=48))
    s = settings_for_context("prod", str(kubeconfig), configured=configured)
    assert s.backups == BackupSettings(str(tmp_path / "restored"), 48.0)  # relative to the kubeconfig


def test_the_newest_of_own_and_configured_directories(tmp_path: Path) -> None:
    own, restored = tmp_path / "state" / "backups", tmp_path / "restored"
    for d in (own, restored):
        d.mkdir(parents=True)
    (own / "etcd-snapshot-ctx-20261204T073201.db").write_bytes(b"x")
    (restored / "b.snapshot").write_bytes(b"y")
    os.utime(own / "etcd-snapshot-ctx-20261204T073201.db", (1_000, 1_000))
    settings = ClusterSettings(backups=BackupSettings(str(restored), 1.0))
    assert backup_places("ctx", settings, tmp_path / "state") == (BackupPlace(own, "ctx"), BackupPlace(restored))
    age = look("ctx", settings, tmp_path / "state")
    assert age.newest is not None and age.newest.path == restored / "b.snapshot" and age.max_age_s == 3600
    assert not age.stale(age.newest.mtime + 60) and age.stale(age.newest.mtime + 3601)
    assert look("ctx", ClusterSettings(), tmp_path / "empty").stale(0.0)  # none known: warned
