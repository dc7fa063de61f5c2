"""The lab kubeone's pure rules: which KubeOne versions set which etcd flags, version parsing, flag errors,
logrus lines, and how hosts come from kubeone.yaml and tf.json (kubeone-procedure.md §1, §2.6, §7)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from etcdtui.lab.kubeadm import one_line
from etcdtui.lab.kubeone import merge_flags
from etcdtui.lab.kubeone_cli import parse_args
from etcdtui.lab.kubeone_errors import KubeOneError
from etcdtui.lab.kubeone_log import Logger
from etcdtui.lab.kubeone_manifest import load_cluster
from etcdtui.lab.kubeone_version import corruption_flags, version_json, version_triple

pytestmark = pytest.mark.unit

BASIC = ["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m"]
COMPACT = "--experimental-compact-hash-check-enabled=true"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.3.3", []),
        ("1.3.4", BASIC),
        ("1.4.0", []),
        ("v1.4.1", BASIC),
        ("v1.4.1-12-gabcdef0", BASIC),
        ("1.4.12", [*BASIC, COMPACT]),
        ("1.5.0", BASIC),
        ("1.5.4", [*BASIC, COMPACT]),
        ("1.8.2", [*BASIC, COMPACT]),
        ("dev", []),
    ],
)
def test_corruption_flags_follow_kubeones_releases(version: str, expected: list[str]) -> None:
    assert corruption_flags(version) == expected


def test_version_parsing_ignores_git_describe_suffixes() -> None:
    assert version_triple("v1.4.1-12-gabc") == (1, 4, 1)
    assert version_triple("1.5.0-rc.0") == (1, 5, 0)
    assert version_triple("dev") is None
    unparsable = json.loads(version_json("dev"))["kubeone"]
    assert (unparsable["major"], unparsable["minor"], unparsable["gitVersion"]) == ("", "", "dev")


def test_flag_errors_read_like_cobra() -> None:
    with pytest.raises(KubeOneError, match=r"^unknown shorthand flag: 'o' in -o$"):
        parse_args(["version", "-o", "json"])
    with pytest.raises(KubeOneError, match=r"^unknown flag: --dry-run$"):
        parse_args(["apply", "--dry-run"])
    opts = parse_args(["apply", "-m", "a.yaml", "--tfjson=t.json", "-y", "--force-upgrade", "-v"])
    assert (opts.command, opts.manifest, opts.tfjson, opts.auto_approve, opts.force_upgrade, opts.verbose) == (
        "apply", "a.yaml", "t.json", True, True, True
    )


def test_kubeones_flags_replace_the_labs_by_name() -> None:
    lab = ["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=5s"]
    assert merge_flags(lab, BASIC) == BASIC
    assert merge_flags([], BASIC) == BASIC
    assert merge_flags(lab, []) == lab


def test_logrus_text_lines_without_a_terminal() -> None:
    stream = io.StringIO()
    Logger(stream, verbose=False).info('Elected leader "lab-cp-1"...', node="127.0.1.1")
    Logger(stream, verbose=False).log("debug", "hidden unless verbose")
    line = stream.getvalue()
    assert re.fullmatch(
        r'time="\d\d:\d\d:\d\d \w+" level=info msg="Elected leader \\"lab-cp-1\\"\.\.\." node=127\.0\.1\.1\n', line
    ), line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_logrus_coloured_lines_on_a_terminal() -> None:
    stream = _Terminal()
    Logger(stream, verbose=False).info("Running cluster probes...")
    Logger(stream, verbose=False).warn("Task failed", node="127.0.1.2")
    info, warn = stream.getvalue().splitlines()
    assert re.fullmatch(r"\x1b\[36mINFO\x1b\[0m\[\d\d:\d\d:\d\d \w+\] Running cluster probes\.\.\.", info), info
    assert warn.startswith("\x1b[33mWARN\x1b[0m[") and warn.endswith(" \x1b[33mnode\x1b[0m=127.0.1.2")


def test_terraform_hosts_replace_the_manifests(tmp_path: Path) -> None:
    manifest = tmp_path / "kubeone.yaml"
    manifest.write_text(
        "apiVersion: kubeone.k8c.io/v1beta2\nkind: KubeOneCluster\nversions: {kubernetes: '1.29.4'}\n"
        "controlPlane:\n  hosts:\n  - {privateAddress: 10.0.0.9, hostname: old}\n"
    )
    tf = tmp_path / "tf.json"
    tf.write_text(json.dumps({"kubeone_hosts": {"value": {"control_plane": {
        "private_address": ["10.0.0.1", "10.0.0.2"], "hostnames": ["cp-1", "cp-2"], "ssh_user": "ubuntu",
        "ssh_port": 2222, "bastion": "1.2.3.4",
    }}}}))
    cluster = load_cluster(str(manifest), str(tf))
    assert [(h.hostname, h.private_address, h.public_address, h.ssh_port) for h in cluster.hosts] == [
        ("cp-1", "10.0.0.1", "10.0.0.1", 2222), ("cp-2", "10.0.0.2", "10.0.0.2", 2222)
    ]
    assert {(h.bastion, h.bastion_port, h.bastion_user) for h in cluster.hosts} == {("1.2.3.4", 22, "ubuntu")}
    only_manifest = load_cluster(str(manifest), "")
    assert [(h.hostname, h.ssh_user, h.ssh_port) for h in only_manifest.hosts] == [("old", "root", 22)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: KubeOneCluster\n", "apiVersion and kind must be present in the manifest"),
        ("apiVersion: v1\nkind: Pod\n", 'provided object "Pod" is not KubeOneCluster object'),
        ("apiVersion: kubeone.io/v1alpha1\nkind: KubeOneCluster\n", 'provided apiVersion "kubeone.io/v1alpha1" is not supported'),
    ],
)
def test_bad_manifests_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    manifest = tmp_path / "kubeone.yaml"
    manifest.write_text(text)
    with pytest.raises(KubeOneError) as caught:
        load_cluster(str(manifest), "")
    assert (str(caught.value), caught.value.code) == (message, 15)


def test_etcdctl_errors_become_one_line() -> None:
    raw = 'etcdctl member remove failed: {"level":"warn","msg":"retrying"}\nError: etcdserver: unhealthy cluster'
    assert one_line(raw) == "etcdctl member remove failed: etcdserver: unhealthy cluster"
    assert one_line("context deadline exceeded") == "context deadline exceeded"
