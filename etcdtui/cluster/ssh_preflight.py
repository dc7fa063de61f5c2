"""Before a node is reset: simple checks over ssh (hostname, IP, sudo, kubeadm) that it is the node the operator named."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from etcdtui.cluster.ssh import SshNode

# -- preflight (issue #7, step 5) ------------------------------------------------------------------
# Each check is one simple command (no pipes, no redirections): they work through any login shell,
# busybox included, and on the lab's nodes.


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Literal["passed", "failed", "skipped"]
    detail: str
    value: str | None = None  # what was found, e.g. the kubeadm path to use in `sudo <path> reset`

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class PreflightOptions:
    node_ip: str | None = None  # the Node's InternalIP; None skips the IP check with a reason
    kubeadm_dirs: tuple[str, ...] = ("/usr/local/bin", "/opt/bin")  # Flatcar puts kubeadm in /opt/bin
    time_limit: float = 30.0  # per check command


_IP_TOKEN = re.compile(r"^[0-9a-fA-F:.]+(?:%\w+)?(?:/\d+)?$")


def _ips_in(lines: Sequence[str]) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for token in " ".join(lines).split():
        if _IP_TOKEN.match(token):
            with contextlib.suppress(ValueError):
                found.add(ipaddress.ip_address(token.split("/")[0].split("%")[0]))
    return found


async def preflight(node: SshNode, options: PreflightOptions = PreflightOptions()) -> list[CheckResult]:
    """Is this the right machine, and can we act on it? hostname, IP, passwordless sudo, kubeadm.

    Raises SshConnectionLostError/SshTimeoutError when the node stops answering.
    """
    return [
        await _check_hostname(node, options),
        await _check_ip(node, options),
        await _check_sudo(node, options),
        await _check_kubeadm(node, options),
    ]


async def _check_hostname(node: SshNode, options: PreflightOptions) -> CheckResult:
    name = node.target.node
    names: list[str] = []
    for argv in (["hostname"], ["hostname", "-f"]):  # kubelet may use either (Azure: the short one)
        result, out, _ = await node.capture(argv, options.time_limit)
        if result.exit_code == 0 and out and out[0].strip():
            names.append(out[0].strip().lower())
    if name.lower() in names:
        return CheckResult("hostname", "passed", f"the machine is {name}", name)
    shown = " / ".join(dict.fromkeys(names)) or "nothing"
    return CheckResult("hostname", "failed", f"the machine says it is {shown}, not {name}")


async def _check_ip(node: SshNode, options: PreflightOptions) -> CheckResult:
    if options.node_ip is None:
        return CheckResult("node IP", "skipped", "the Node has no InternalIP to compare")
    want = ipaddress.ip_address(options.node_ip)
    have: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for argv in (["hostname", "-I"], ["ip", "-o", "addr", "show"]):  # busybox hostname has no -I
        result, out, _ = await node.capture(argv, options.time_limit)
        if result.exit_code == 0:
            have |= _ips_in(out)
        if want in have:
            return CheckResult("node IP", "passed", f"{want} is an address of the machine", str(want))
    if not have:
        return CheckResult(
            "node IP", "skipped", "neither `hostname -I` nor `ip -o addr` works on the machine"
        )
    listed = ", ".join(sorted(str(a) for a in have))
    return CheckResult("node IP", "failed", f"{want} is not among the machine's addresses ({listed})")


async def _check_sudo(node: SshNode, options: PreflightOptions) -> CheckResult:
    result, _, err = await node.capture(["sudo", "-n", "true"], options.time_limit)
    if result.exit_code == 0:
        return CheckResult("sudo", "passed", "passwordless sudo works")
    why = err[-1] if err else f"exit code {result.exit_code}"
    return CheckResult("sudo", "failed", f"`sudo -n true` failed: {why}")


async def _check_kubeadm(node: SshNode, options: PreflightOptions) -> CheckResult:
    # `command -v` is a shell builtin, so this runs in the login shell; an absolute path found here is
    # what the reset step should run under sudo (sudo's secure_path may lack /opt/bin).
    for candidate in ("kubeadm", *(f"{d.rstrip('/')}/kubeadm" for d in options.kubeadm_dirs)):
        result, out, _ = await node.capture(["command", "-v", candidate], options.time_limit)
        if result.exit_code == 0 and out and out[-1].startswith("/"):
            return CheckResult("kubeadm", "passed", f"kubeadm is {out[-1]}", out[-1])
    dirs = ", ".join(options.kubeadm_dirs) or "no other directory"
    return CheckResult("kubeadm", "failed", f"kubeadm not found on the PATH (also looked in {dirs})")
