"""`kubeone version`, the ≥ 1.4.1 rule, and the host records of kubeone.yaml / tf.json (kubeone-procedure §1, §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from etcdtui.core.findings import Severity
from etcdtui.core.kubeone import (
    corruption_check_support,
    effective_hosts,
    host_for_node,
    kubeone_version_findings,
    parse_kubeone_manifest,
    parse_kubeone_version,
    parse_kubeone_version_text,
    parse_tf_output,
)

pytestmark = pytest.mark.unit


def version_output(git_version: str) -> str:
    """The exact shape `kubeone version` prints (pkg/cmd/version.go: json.Encoder with two-space indent)."""
    info = {
        "kubeone": {
            "major": "1",
            "minor": "4",
            "gitVersion": git_version,
            "gitCommit": "abc",
            "gitTreeState": "",
            "buildDate": "2022-05-01T00:00:00Z",
            "goVersion": "go1.18",
            "compiler": "gc",
            "platform": "linux/amd64",
        },
        "machine_controller": {
            "major": "1",
            "minor": "43",
            "gitVersion": "v1.43.0",
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": "",
            "compiler": "",
            "platform": "linux/amd64",
        },
    }
    return json.dumps(info, indent=2) + "\n"


@pytest.mark.parametrize(
    ("git_version", "triple", "supported"),
    [
        ("1.4.1", (1, 4, 1), True),
        ("v1.4.1-12-gabcdef0", (1, 4, 1), True),  # git describe: built after the tag
        ("1.5.0-rc.0", (1, 5, 0), True),
        ("1.4.0", (1, 4, 0), False),
        ("1.3.3", (1, 3, 3), False),
        ("1.3.5", (1, 3, 5), True),  # 1.3.4/1.3.5 also set the flags
        ("1.12.0", (1, 12, 0), True),
        ("dev", None, None),
        ("", None, None),
    ],
)
def test_version_rule(git_version: str, triple: tuple[int, int, int] | None, supported: bool | None) -> None:
    v = parse_kubeone_version_text(version_output(git_version))
    assert v.version == triple
    assert v.machine_controller == "v1.43.0"
    assert corruption_check_support(v).supported is supported


def test_dev_build_asks_the_operator() -> None:
    (f,) = kubeone_version_findings(parse_kubeone_version_text(version_output("dev")))
    assert f.kind == "kubeone.version_unknown" and f.severity is Severity.WARNING and "'dev'" in f.message


def test_too_old_says_what_to_do() -> None:
    (f,) = kubeone_version_findings(parse_kubeone_version_text(version_output("1.4.0")))
    assert f.kind == "kubeone.too_old" and "1.4.1" in f.message
    assert kubeone_version_findings(parse_kubeone_version_text(version_output("1.6.2"))) == []


@pytest.mark.parametrize(
    ("git_version", "compaction"),
    [("1.4.11", False), ("1.4.12", True), ("1.5.3", False), ("1.5.4", True), ("1.11.0", True)],
)
def test_compaction_check_by_kubeone_version(git_version: str, compaction: bool) -> None:
    assert (
        corruption_check_support(parse_kubeone_version_text(version_output(git_version))).compaction_check
        is compaction
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Error: unknown shorthand flag: 'o' in -o", "not JSON"),
        ("[]", "`kubeone` object"),
        ('{"kubeone": {}}', "gitVersion"),
    ],
)
def test_malformed_version_output(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_kubeone_version_text(text)


def test_version_from_decoded_object() -> None:
    assert parse_kubeone_version({"kubeone": {"gitVersion": "1.7.0"}}).machine_controller is None


MANIFEST: dict[str, Any] = {
    "apiVersion": "kubeone.k8c.io/v1beta2",
    "kind": "KubeOneCluster",
    "name": "prod",
    "versions": {"kubernetes": "1.29.4"},
    "apiEndpoint": {"host": "lb.example.com", "port": 6443},
    "controlPlane": {
        "hosts": [
            {
                "publicAddress": "3.3.3.1",
                "privateAddress": "10.0.0.1",
                "hostname": "cp-1",
                "sshUsername": "ubuntu",
                "sshPrivateKeyFile": "~/.ssh/id_ed25519",
            },
            {"privateAddress": "10.0.0.2", "hostname": "cp-2", "sshPort": 2222, "bastion": "1.2.3.4"},
            {
                "publicAddress": "3.3.3.3",
                "hostname": "cp-3",
                "bastion": "1.2.3.4",
                "bastionUser": "jump",
                "bastionPort": 2200,
            },
        ]
    },
}


def test_manifest_hosts_with_kubeone_defaults() -> None:
    cluster = parse_kubeone_manifest(MANIFEST)
    assert (
        cluster.name,
        cluster.kubernetes_version,
        cluster.api_endpoint_host,
        cluster.api_endpoint_port,
    ) == ("prod", "1.29.4", "lb.example.com", 6443)
    h1, h2, h3 = cluster.hosts
    assert h1.ssh_address == "3.3.3.1" and h1.ssh_username == "ubuntu" and h1.ssh_agent_socket == ""
    # empty public takes private and vice versa; user root; bastion user = ssh user; agent when no key
    assert h2.public_address == "10.0.0.2" and h2.ssh_username == "root" and h2.ssh_port == 2222
    assert h2.bastion_user == "root" and h2.ssh_agent_socket == "env:SSH_AUTH_SOCK"
    assert h2.ssh_summary == "ssh -J root@1.2.3.4 root@10.0.0.2:2222"
    assert h3.private_address == "3.3.3.3" and h3.ssh_summary == "ssh -J jump@1.2.3.4:2200 root@3.3.3.3"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"kind": "Cluster"}, "kind is 'Cluster'"),
        ({"apiVersion": "v1"}, "apiVersion"),
        ({"controlPlane": {"hosts": "cp-1"}}, "controlPlane.hosts: expected a list"),
        (
            {"controlPlane": {"hosts": [{"hostname": "x"}]}},
            r"hosts\[0\]: neither a public nor a private address",
        ),
        (
            {"controlPlane": {"hosts": [{"privateAddress": "10.0.0.1", "sshPort": "ssh"}]}},
            r"hosts\[0\]\.sshPort: expected a port number",
        ),
        ({"controlPlane": {"hosts": [{"privateAddress": "10.0.0.1", "sshPort": 70000}]}}, "out of range"),
        ({"controlPlane": {"hosts": [{"privateAddress": 10}]}}, r"privateAddress: expected a string"),
        ({"versions": ["1.29"]}, "versions: expected a mapping"),
    ],
)
def test_malformed_manifest(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_kubeone_manifest({**MANIFEST, **patch})


def test_manifest_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="top level"):
        parse_kubeone_manifest(["not", "a", "manifest"])


TF: dict[str, Any] = {
    "kubeone_api": {"sensitive": False, "type": ["object", {}], "value": {"endpoint": "lb"}},
    "kubeone_hosts": {
        "sensitive": False,
        "type": ["object", {}],
        "value": {
            "control_plane": {
                "cluster_name": "prod",
                "cloud_provider": "aws",
                "leader_ip": "",
                "private_address": ["172.31.195.53", "172.31.196.114", "172.31.197.44"],
                "hostnames": [
                    "ip-172-31-195-53.eu-west-3.compute.internal",
                    "ip-172-31-196-114.eu-west-3.compute.internal",
                    "ip-172-31-197-44.eu-west-3.compute.internal",
                ],
                "ssh_user": "ubuntu",
                "ssh_port": 22,
                "ssh_private_key_file": "",
                "ssh_agent_socket": "env:SSH_AUTH_SOCK",
                "ssh_hosts_keys": [None],
                "bastion": "15.236.1.1",
                "bastion_port": 22,
                "bastion_user": "",
            }
        },
    },
    "ssh_commands": {"value": ["ssh -J ubuntu@15.236.1.1 ubuntu@172.31.195.53"]},
}


def test_tf_hosts_by_index_with_group_bastion() -> None:
    hosts = parse_tf_output(TF)
    assert [h.private_address for h in hosts] == ["172.31.195.53", "172.31.196.114", "172.31.197.44"]
    assert hosts[1].hostname == "ip-172-31-196-114.eu-west-3.compute.internal"
    assert all(h.bastion == "15.236.1.1" and h.bastion_user == "ubuntu" for h in hosts)
    assert hosts[0].ssh_summary == "ssh -J ubuntu@15.236.1.1 ubuntu@172.31.195.53"


def test_tfstate_outputs_key_and_missing_hosts() -> None:
    assert len(parse_tf_output({"outputs": TF})) == 3
    assert parse_tf_output({"kubeone_api": TF["kubeone_api"]}) == ()


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "top level"),
        ({"kubeone_hosts": {"value": []}}, "kubeone_hosts"),
        (
            {
                "kubeone_hosts": {
                    "value": {
                        "control_plane": {
                            "public_address": ["1.1.1.1", "2.2.2.2"],
                            "private_address": ["10.0.0.1"],
                        }
                    }
                }
            },
            "2 public but 1 private",
        ),
        ({"kubeone_hosts": {"value": {"control_plane": {"private_address": [1]}}}}, r"private_address\[0\]"),
    ],
)
def test_malformed_tf(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tf_output(doc)


def test_tf_hosts_replace_manifest_hosts() -> None:
    cluster = parse_kubeone_manifest(MANIFEST)
    assert effective_hosts(cluster, parse_tf_output(TF))[0].private_address == "172.31.195.53"
    assert effective_hosts(cluster, ()) == cluster.hosts


def test_host_for_node_by_hostname_then_internal_ip() -> None:
    hosts = parse_tf_output(TF)
    assert host_for_node(hosts, "ip-172-31-197-44.eu-west-3.compute.internal") is hosts[2]
    assert host_for_node(hosts, "renamed-node", ["172.31.196.114"]) is hosts[1]
    assert host_for_node(hosts, "unknown", ["10.9.9.9"]) is None
