"""SSH to a cluster node (optionally through a bastion) with asyncssh: verified host keys, live output.

How KubeOne connects (kubeone-procedure.md §7.2): to the host's public (else private) address as `sshUsername`,
with a bastion as `ssh -J bastionUser@bastion`. Unlike KubeOne, host keys are verified against a known_hosts
file by default, for the bastion and for the node, each on its own: an unknown or changed key stops with the
host and the offered fingerprint named. `insecure_skip_host_key_check` exists for the lab only.

Commands are argv lists, quoted with `shlex.join`. ssh always hands a command string to the remote user's login
shell (there is no "exec" in the protocol), so the quoting is what keeps arguments intact; node names are
validated as DNS-1123 before they are used. `~/.ssh/config` is not read (`config=[]`): everything comes from
kubeone.yaml/tf.json so the target is exactly what the operator was shown.

Output uses the events of `etcdtui.cluster.command_output`, like local commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import shlex
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncssh

from etcdtui.cluster.argv import checked_argv
from etcdtui.cluster.command_output import (
    DEFAULT_LIMITS,
    DEFAULT_PROMPT_PATTERNS,
    CommandResult,
    Event,
    OutputBatch,
    OutputPump,
    StreamLimits,
    Transcript,
)
from etcdtui.core.names import InvalidNameError, is_ip_address, validate_node_name, validate_ssh_host

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_READ_SIZE = 64 * 1024


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


def _role(target: SshTarget, hop: SshHop, is_bastion: bool) -> str:
    return f"bastion {hop.address}" if is_bastion else f"{target.node} ({hop.address})"


def _validate(target: SshTarget) -> None:
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


# -- connecting ------------------------------------------------------------------------------------


async def connect(target: SshTarget) -> SshNode:
    """Connect to the bastion (if any), then to the node through it; each host key verified on its own."""
    _validate(target)
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
    role = _role(target, hop, is_bastion)
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
        role = _role(self.target, self.target.hop, False)
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
                f"connection to {role} lost before running `{command}`: {_reason(exc)}"
            ) from None
        if not stdin:
            proc.stdin.write_eof()
        return RemoteCommand(self, argv, command, proc, limits, prompt_patterns, transcript_path, pty, stdin)

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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


class RemoteCommand:
    """A command running on a node: `events()`, `wait()`, `answer()`, `cancel()` like a local command."""

    def __init__(
        self,
        node: SshNode,
        argv: tuple[str, ...],
        command: str,
        proc: asyncssh.SSHClientProcess[bytes],
        limits: StreamLimits,
        prompt_patterns: Sequence[str],
        transcript_path: Path | None,
        pty: bool,
        stdin: bool,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._stdin_open = stdin
        self.argv = argv
        self.command = command
        self.role = _role(node.target, node.target.hop, False)
        self._where = node.where
        self._proc = proc
        self._t0 = self._loop.time()
        self._cancelled = False
        self._lost: str | None = None
        streams = ["pty"] if pty else ["stdout", "stderr"]
        self.transcript = Transcript(argv, node.where, limits, transcript_path)
        self._pump = OutputPump(streams, self.transcript, limits, prompt_patterns)
        readers: list[tuple[str, Any]] = [(streams[0], proc.stdout)]
        if not pty:
            readers.append(("stderr", proc.stderr))
        self._readers = [asyncio.create_task(self._read(name, r)) for name, r in readers]
        self._abandoned: str | None = None
        self._done: asyncio.Future[CommandResult] = self._loop.create_future()
        self._collector = asyncio.create_task(self._collect())
        self._supervisor = asyncio.create_task(self._supervise())

    async def _read(self, stream: str, reader: asyncssh.SSHReader[bytes]) -> None:
        try:
            while data := await reader.read(_READ_SIZE):
                self._pump.feed(stream, data)
                if not self._pump.has_space():
                    await self._pump.wait_for_space()  # backpressure: sshd's window fills up, no loss
        except (asyncssh.Error, OSError) as exc:
            self._note_lost(exc)

    def _note_lost(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = f"connection to {self.role} lost while running `{self.command}`: {_reason(exc)}"

    async def _collect(self) -> tuple[int | None, tuple[str, bool, str, str] | None]:
        await asyncio.gather(*self._readers)
        try:
            completed = await self._proc.wait(check=False)
        except (asyncssh.Error, OSError) as exc:
            self._note_lost(exc)
            return None, None
        return completed.exit_status, completed.exit_signal

    async def _supervise(self) -> None:
        exit_status: int | None = None
        exit_signal: tuple[str, bool, str, str] | None = None
        try:
            exit_status, exit_signal = await self._collector
        except asyncio.CancelledError:
            if self._abandoned is None:  # the supervisor itself is being cancelled (shutdown)
                raise
        finally:
            duration = self._loop.time() - self._t0
            if self._abandoned is not None:
                error: str | None = self._abandoned
            elif exit_signal is None and (exit_status is None or exit_status < 0):
                # The channel closed without an exit status: the connection (or sshd) died under us.
                error = self._lost or f"connection to {self.role} lost while running `{self.command}`"
            else:
                error = None
            await self._pump.close()
            result = CommandResult(
                argv=self.argv,
                where=self._where,
                exit_code=exit_status if error is None and exit_signal is None else None,
                signal=_signal_number(exit_signal[0]) if exit_signal else None,
                duration_s=duration,
                started_at=self.transcript.started_at,
                cancelled=self._cancelled,
                dropped_bytes=self._pump.dropped_bytes,
                error=error,
            )
            await self._pump.finish(result)
            self._done.set_result(result)

    def events(self) -> AsyncIterator[Event]:
        return self._pump.events()

    async def wait(self) -> CommandResult:
        return await asyncio.shield(self._done)

    async def answer(self, text: str, *, secret: bool = False) -> None:
        if self._done.done() or not self._stdin_open:
            raise SshError(
                f"cannot answer `{self.command}`: it has no input (start it with stdin=True) or has finished"
            )
        try:
            self._proc.stdin.write((text + "\n").encode())
            await self._proc.stdin.drain()
        except (asyncssh.Error, OSError) as exc:
            raise SshError(f"cannot answer `{self.command}` on {self.role}: {_reason(exc)}") from None
        self._pump.record("answer", "<hidden>" if secret else text)

    async def close_input(self) -> None:
        """End of input (EOF on the command's stdin), e.g. after writing a file's content to `tee`."""
        if self._stdin_open:
            self._stdin_open = False
            with contextlib.suppress(asyncssh.Error, OSError):
                self._proc.stdin.write_eof()

    async def cancel(self, grace: float = 3.0) -> CommandResult:
        """Stop the command: a TERM signal request, then closing the channel, then giving up waiting.

        OpenSSH refuses signal requests for root sessions ("session signalling requires privilege
        separation") and cannot signal a command running under sudo; closing the channel hangs up a remote
        terminal (SIGHUP), so start commands that may need stopping with `pty=True`. Without a terminal
        the command may keep running on the node: the result says so in `error`.
        """
        if self._done.done():
            return self._done.result()
        self._cancelled = True
        self._pump.record("event", "cancel: TERM signal request")
        with contextlib.suppress(asyncssh.Error, OSError):
            self._proc.send_signal("TERM")
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.wait(), grace)
        self._pump.record("event", "cancel: closing the channel")
        self._proc.close()
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.wait(), grace)
        self._abandoned = (
            f"stopped waiting for `{self.command}` on {self.role}: sshd could not signal it "
            "and it has no terminal to hang up, so it may still be running there"
        )
        self._collector.cancel()
        return await self.wait()


def _signal_number(name: str) -> int | None:
    with contextlib.suppress(KeyError):
        return int(signal.Signals["SIG" + name.removeprefix("SIG")])
    return None


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
