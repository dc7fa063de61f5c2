"""SSH to a cluster node (optionally through a bastion) with asyncssh: verified host keys, live output.

How KubeOne connects (kubeone-procedure.md §7.2): to the host's public (else private) address as `sshUsername`,
with a bastion as `ssh -J bastionUser@bastion`. Unlike KubeOne, host keys are verified against a known_hosts
file by default, for the bastion and for the node, each on its own: an unknown or changed key stops with the
host and the offered fingerprint named. `insecure_skip_host_key_check` exists for the lab only.

Commands are argv lists, quoted with `shlex.join`. ssh always hands a command string to the remote user's login
shell (there is no "exec" in the protocol), so the quoting is what keeps arguments intact; node names are
validated as DNS-1123 before they are used. `~/.ssh/config` is not read (`config=[]`): everything comes from
kubeone.yaml/tf.json so the target is exactly what the operator was shown.

Output uses the events of `etcdtui.cluster.command_output`, like local commands. The target, its validation
and the errors are in `ssh_target`, a running command in `ssh_command`, the checks before a reset in
`ssh_preflight`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncssh

from etcdtui.cluster.argv import checked_argv
from etcdtui.cluster.command_output import (
    DEFAULT_LIMITS,
    DEFAULT_PROMPT_PATTERNS,
    CommandResult,
    OutputBatch,
    StreamLimits,
)
from etcdtui.cluster.ssh_command import RemoteCommand
from etcdtui.cluster.ssh_target import (
    SshAuthError,
    SshConnectError,
    SshConnectionLostError,
    SshError,
    SshHop,
    SshHostKeyError,
    SshTarget,
    SshTimeoutError,
    failure_reason,
    hop_role,
    validate_target,
)
from etcdtui.core.names import is_ip_address

# -- connecting ------------------------------------------------------------------------------------


async def connect(target: SshTarget) -> SshNode:
    """Connect to the bastion (if any), then to the node through it; each host key verified on its own."""
    validate_target(target)
    known_hosts: asyncssh.SSHKnownHosts | None = None
    if not target.insecure_skip_host_key_check:
        known_hosts = await _load_known_hosts(target.known_hosts)
    bastion_conn: asyncssh.SSHClientConnection | None = None
    try:
        if target.bastion is not None:
            bastion_conn = await _connect_hop(target, target.bastion, True, known_hosts, None)
        conn = await _connect_hop(target, target.hop, False, known_hosts, bastion_conn)
    except BaseException:
        if bastion_conn is not None:
            bastion_conn.close()
        raise
    return SshNode(target, conn, bastion_conn)


def _expand(path: str) -> str:
    return os.path.expanduser(path)


async def _load_known_hosts(path: str) -> asyncssh.SSHKnownHosts:
    full = _expand(path)
    try:
        return await asyncio.to_thread(asyncssh.read_known_hosts, full)
    except OSError as exc:
        raise SshHostKeyError(
            f"cannot read known_hosts file {full}: {exc.strerror}; host keys are always verified "
            "(add the nodes' keys after checking their fingerprints)"
        ) from None
    except ValueError as exc:
        raise SshHostKeyError(f"known_hosts file {full} is invalid: {exc}") from None


async def _client_keys(hop: SshHop) -> list[asyncssh.SSHKey] | None:
    if hop.key_file is None:
        return None
    path = _expand(hop.key_file)
    try:
        return [await asyncio.to_thread(asyncssh.read_private_key, path)]
    except OSError as exc:
        raise SshAuthError(f"cannot read ssh key {path}: {exc.strerror}") from None
    except (asyncssh.KeyImportError, ValueError) as exc:
        hint = "; load it into ssh-agent instead" if "assphrase" in str(exc) else ""
        raise SshAuthError(f"cannot use ssh key {path}: {exc}{hint}") from None


async def _connect_hop(
    target: SshTarget,
    hop: SshHop,
    is_bastion: bool,
    known_hosts: asyncssh.SSHKnownHosts | None,
    tunnel: asyncssh.SSHClientConnection | None,
) -> asyncssh.SSHClientConnection:
    role = hop_role(target, hop, is_bastion)
    keys = await _client_keys(hop)
    options: dict[str, Any] = {
        "username": hop.user,
        "known_hosts": known_hosts,
        "config": [],  # never ~/.ssh/config: its ProxyJump/User would silently change the target
        "preferred_auth": "publickey",
        "connect_timeout": target.connect_timeout,
        "keepalive_interval": target.keepalive_interval,
        "keepalive_count_max": target.keepalive_count_max,
    }
    if keys is not None:
        options["client_keys"] = keys
        options["agent_path"] = None  # KubeOne uses the agent only when no key file is given
    if tunnel is not None:
        options["tunnel"] = tunnel
    try:
        return await asyncssh.connect(hop.host, hop.port, **options)
    except asyncssh.HostKeyNotVerifiable:
        assert known_hosts is not None
        raise await _host_key_error(target, hop, role, known_hosts, tunnel) from None
    except asyncssh.PermissionDenied:
        key = f"key {hop.key_file}" if hop.key_file else "the ssh-agent and default keys"
        raise SshAuthError(
            f"ssh authentication failed for {hop.user}@{hop.address} ({role}) with {key}"
        ) from None
    except asyncssh.ChannelOpenError as exc:
        # The bastion refused to forward (AllowTcpForwarding no) or could not reach the node.
        raise SshConnectError(f"cannot reach {role} through the bastion: {exc.reason}") from None
    except asyncssh.Error as exc:
        raise SshConnectError(f"ssh to {role} failed: {exc.reason}") from None
    except TimeoutError:
        raise SshConnectError(
            f"cannot connect to {role}: timed out after {target.connect_timeout:g} s"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SshConnectError(f"cannot connect to {role}: {reason}") from None


async def _host_key_error(
    target: SshTarget,
    hop: SshHop,
    role: str,
    known_hosts: asyncssh.SSHKnownHosts,
    tunnel: asyncssh.SSHClientConnection | None,
) -> SshHostKeyError:
    path = _expand(target.known_hosts)
    addr = hop.host if is_ip_address(hop.host) else ""
    trusted = known_hosts.match(hop.host, addr, hop.port if hop.port != 22 else None)[0]
    algs = [alg.decode() for key in trusted for alg in key.sig_algorithms] or ()
    offered = None
    with contextlib.suppress(asyncssh.Error, OSError, TimeoutError, ValueError):
        offered = await asyncssh.get_server_host_key(
            hop.host,
            hop.port,
            tunnel=tunnel if tunnel is not None else (),
            config=[],
            server_host_key_algs=algs,
        )
    got = f"{offered.get_algorithm()} {offered.get_fingerprint('sha256')}" if offered else "an unreadable key"
    if trusted:
        known = ", ".join(f"{k.get_algorithm()} {k.get_fingerprint('sha256')}" for k in trusted)
        return SshHostKeyError(
            f"HOST KEY MISMATCH for {role}: it offered {got} but {path} has {known}; refusing to connect "
            "(the machine was reinstalled, or someone is in the middle: check before replacing the line)"
        )
    return SshHostKeyError(
        f"unknown host key for {role}: {got} is not in {path}; refusing to connect "
        "(verify the fingerprint out of band, then add the key)"
    )


# -- commands --------------------------------------------------------------------------------------


class SshNode:
    """An open connection to one node. Use as an async context manager, or call `close()`."""

    def __init__(
        self,
        target: SshTarget,
        conn: asyncssh.SSHClientConnection,
        bastion_conn: asyncssh.SSHClientConnection | None,
    ) -> None:
        self.target = target
        self._conn = conn
        self._bastion_conn = bastion_conn

    @property
    def where(self) -> str:
        return f"{self.target.hop.user}@{self.target.hop.address}"

    @property
    def connection(self) -> asyncssh.SSHClientConnection:
        """The verified connection, for byte streams (`backup.py` fetches a snapshot with `sudo cat`)."""
        return self._conn

    async def start(
        self,
        argv: Sequence[str],
        *,
        pty: bool = False,
        stdin: bool = False,
        limits: StreamLimits = DEFAULT_LIMITS,
        prompt_patterns: Sequence[str] = DEFAULT_PROMPT_PATTERNS,
        transcript_path: Path | None = None,
    ) -> RemoteCommand:
        """Start `argv` on the node; `pty` gives it a remote terminal (stderr then joins stdout)."""
        argv = checked_argv(argv, SshError, "a remote command")
        command = shlex.join(argv)
        role = hop_role(self.target, self.target.hop, False)
        try:
            proc = await self._conn.create_process(
                command,
                encoding=None,
                request_pty="force" if pty else False,
                term_type="dumb" if pty else None,
                term_size=(200, 50) if pty else None,
            )
        except (asyncssh.Error, OSError) as exc:
            raise SshConnectionLostError(
                f"connection to {role} lost before running `{command}`: {failure_reason(exc)}"
            ) from None
        if not stdin:
            proc.stdin.write_eof()
        return RemoteCommand(self.target, self.where, argv, command, proc, limits, prompt_patterns, transcript_path,
                             pty, stdin)

    async def run(
        self,
        argv: Sequence[str],
        *,
        on_batch: Callable[[OutputBatch], Awaitable[None] | None] | None = None,
        time_limit: float | None = None,
        cancel_grace: float = 3.0,
        pty: bool = False,
        limits: StreamLimits = DEFAULT_LIMITS,
        transcript_path: Path | None = None,
    ) -> CommandResult:
        """Run to completion with live output. Raises SshConnectionLostError or SshTimeoutError.

        A command that exceeds `time_limit` is cancelled (see `RemoteCommand.cancel`).
        """
        cmd = await self.start(argv, pty=pty, limits=limits, transcript_path=transcript_path)

        async def consume() -> None:
            async for ev in cmd.events():
                if isinstance(ev, OutputBatch) and on_batch is not None:
                    maybe = on_batch(ev)
                    if maybe is not None:
                        await maybe

        try:
            async with asyncio.timeout(time_limit):
                await consume()
        except TimeoutError:
            stopped = await cmd.cancel(cancel_grace)
            outcome = "it was stopped" if stopped.error is None else stopped.error
            raise SshTimeoutError(
                f"`{cmd.command}` on {cmd.role} did not finish within {time_limit:g} s; {outcome}"
            ) from None
        result = await cmd.wait()
        if result.error is not None:
            raise SshConnectionLostError(result.error, result)
        return result

    async def capture(
        self, argv: Sequence[str], time_limit: float = 30.0
    ) -> tuple[CommandResult, list[str], list[str]]:
        """Run a short command and return its result, stdout lines and stderr lines."""
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def keep(batch: OutputBatch) -> None:
            out.setdefault(batch.stream, []).extend(batch.lines)

        result = await self.run(argv, on_batch=keep, time_limit=time_limit)
        return result, out["stdout"], out["stderr"]

    async def close(self) -> None:
        self._conn.close()
        with contextlib.suppress(Exception):
            await self._conn.wait_closed()
        if self._bastion_conn is not None:
            self._bastion_conn.close()
            with contextlib.suppress(Exception):
                await self._bastion_conn.wait_closed()

    async def __aenter__(self) -> SshNode:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


