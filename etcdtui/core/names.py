"""Validation of names before they reach a remote shell, a file path or an API call.

Kubernetes Node names are DNS-1123 subdomains (`IsDNS1123Subdomain` in apimachinery): at most 253
characters of lowercase letters, digits, `-` and `.`, each dot-separated part starting and ending with a
letter or digit. Anything else did not come from the cluster and must not be used to pick a machine to reset.
"""

from __future__ import annotations

import ipaddress
import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")


class InvalidNameError(ValueError):
    """A name that fails validation; the message is one line meant for the operator."""


def is_dns1123_label(name: str) -> bool:
    """A single DNS label: `lab-cp-2`, never `lab.cp` or `-x`."""
    return len(name) <= DNS1123_LABEL_MAX and _LABEL_RE.fullmatch(name) is not None


def is_dns1123_subdomain(name: str) -> bool:
    """Kubernetes' rule for Node names: `lab-cp-2`, `ip-10-0-0-1.eu-west-3.compute.internal`."""
    return len(name) <= DNS1123_SUBDOMAIN_MAX and _SUBDOMAIN_RE.fullmatch(name) is not None


def validate_node_name(name: str) -> str:
    """Return `name` unchanged when it is a valid Node name, else raise InvalidNameError saying why."""
    if not name:
        raise InvalidNameError("node name is empty")
    if len(name) > DNS1123_SUBDOMAIN_MAX:
        raise InvalidNameError(
            f"node name is {len(name)} characters long; at most {DNS1123_SUBDOMAIN_MAX} allowed"
        )
    if not is_dns1123_subdomain(name):
        raise InvalidNameError(
            f"invalid node name {name!r}: a DNS-1123 subdomain is lowercase letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit"
        )
    return name


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def validate_ssh_host(host: str) -> str:
    """An ssh target is an IP address or a DNS name (case-insensitive); never an option like `-oProxyCommand`."""
    if is_ip_address(host) or is_dns1123_subdomain(host.lower()):
        return host
    raise InvalidNameError(f"invalid ssh host {host!r}: expected an IP address or a DNS name")
