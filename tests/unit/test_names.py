"""Node names and ssh hosts are validated before they reach a remote shell or pick a machine to reset."""

from __future__ import annotations

import pytest

from etcdtui.core.names import (
    InvalidNameError,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_ip_address,
    validate_node_name,
    validate_ssh_host,
)

pytestmark = pytest.mark.unit

VALID_NODES = [
    "lab-cp-2",
    "a",
    "0",
    "ip-172-31-195-53.eu-west-3.compute.internal",
    "node.1",
    "a" * 63 + "." + "b" * 63,
    ".".join(["a" * 63] * 3) + "." + "b" * 61,  # exactly 253
]

INVALID_NODES = [
    "",
    "Lab-cp-2",  # uppercase is not allowed in Node names
    "-lab",
    "lab-",
    "lab..cp",
    ".lab",
    "lab.",
    "lab_cp",
    "lab cp",
    "lab;reboot",
    "$(id)",
    "lab\ncp",
    "-oProxyCommand=evil",
    "x" * 254,
    "lab-cp-2 ",
]


@pytest.mark.parametrize("name", VALID_NODES)
def test_valid_node_names(name: str) -> None:
    assert is_dns1123_subdomain(name)
    assert validate_node_name(name) == name


@pytest.mark.parametrize("name", INVALID_NODES)
def test_invalid_node_names(name: str) -> None:
    assert not is_dns1123_subdomain(name)
    with pytest.raises(InvalidNameError) as err:
        validate_node_name(name)
    assert "\n" not in str(err.value)


def test_messages_say_why() -> None:
    with pytest.raises(InvalidNameError, match="^node name is empty$"):
        validate_node_name("")
    with pytest.raises(InvalidNameError, match="254 characters long; at most 253"):
        validate_node_name("x" * 254)
    with pytest.raises(
        InvalidNameError, match=r"^invalid node name 'Lab': a DNS-1123 subdomain is lowercase"
    ):
        validate_node_name("Lab")


@pytest.mark.parametrize(
    ("label", "ok"),
    [("lab-cp-2", True), ("a" * 63, True), ("a" * 64, False), ("lab.cp", False), ("-a", False), ("", False)],
)
def test_labels(label: str, ok: bool) -> None:
    assert is_dns1123_label(label) is ok


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("fd00::2", True),
        ("bastion.example.com", True),
        ("Bastion.Example.com", True),  # DNS is case-insensitive; Node names are not
        ("-oProxyCommand=x", False),
        ("host name", False),
        ("user@host", False),
        ("", False),
    ],
)
def test_ssh_hosts(host: str, ok: bool) -> None:
    if ok:
        assert validate_ssh_host(host) == host
    else:
        with pytest.raises(InvalidNameError, match="invalid ssh host"):
            validate_ssh_host(host)


def test_ip_addresses() -> None:
    assert is_ip_address("10.0.0.1") and is_ip_address("fe80::1")
    assert not is_ip_address("10.0.0.256") and not is_ip_address("lab-cp-1")
