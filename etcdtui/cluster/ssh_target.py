"""What ssh connects to (a node, optionally through a bastion), validated before use, and what can go wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass

from etcdtui.cluster.command_output import CommandResult
from etcdtui.core.names import InvalidNameError, validate_node_name, validate_ssh_host

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


class SshError(Exception):
    """Anything that stops an ssh step; the message is one line for the operator."""


class SshHostKeyError(SshError):
    pass


class SshAuthError(SshError):
    pass


class SshConnectError(SshError):
    pass


class SshConnectionLostError(SshError):
    def __init__(self, message: str, result: CommandResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class SshTimeoutError(SshError):
    pass


@dataclass(frozen=True)
class SshHop:
    """One ssh server: the node itself or a bastion (KubeOne: `bastion`, `bastionPort`, `bastionUser`)."""

    host: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None  # None: ssh-agent ($SSH_AUTH_SOCK) and the default ~/.ssh keys

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SshTarget:
    node: str  # the Kubernetes Node name, used in every message
    hop: SshHop
    bastion: SshHop | None = None
    known_hosts: str = DEFAULT_KNOWN_HOSTS  # used for the bastion and the node
    insecure_skip_host_key_check: bool = False  # the lab only: never accept unknown keys elsewhere
    connect_timeout: float = 15.0
    keepalive_interval: float = 10.0  # a silently dead link is noticed after interval * count_max
    keepalive_count_max: int = 3

    def describe(self) -> str:
        via = f" via bastion {self.bastion.user}@{self.bastion.address}" if self.bastion else ""
        return f"{self.hop.user}@{self.hop.address} (node {self.node}){via}"


def hop_role(target: SshTarget, hop: SshHop, is_bastion: bool) -> str:
    return f"bastion {hop.address}" if is_bastion else f"{target.node} ({hop.address})"


def validate_target(target: SshTarget) -> None:
    try:
        validate_node_name(target.node)
        for hop in (target.hop, target.bastion):
            if hop is None:
                continue
            validate_ssh_host(hop.host)
            if not 0 < hop.port < 65536:
                raise InvalidNameError(f"invalid ssh port {hop.port} for {hop.host}")
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?", hop.user):
                raise InvalidNameError(f"invalid ssh user {hop.user!r}")
    except InvalidNameError as exc:
        raise SshError(str(exc)) from None


def failure_reason(exc: BaseException) -> str:
    import asyncssh  # here, not at the top: the ring view and `check` read targets without ever opening ssh

    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__
