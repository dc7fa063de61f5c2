"""Node access for the lab: one real SSH server (asyncssh) per node, an optional bastion, and the files
(`ssh_config`, `known_hosts`, client key) with which OpenSSH, asyncssh and KubeOne reach them.

Only public-key auth with the lab's client key, for one user. Each node has its own ed25519 host key, listed
in `known_hosts`, so host-key checking is real. The bastion forwards direct-tcpip only to the node ports,
which is all `ssh -J`/ProxyJump and asyncssh `tunnel=` need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from etcdtui.lab import node_fs, node_manifest
from etcdtui.lab.kubeadm import KUBEADM_PATH, kubeadm_main
from etcdtui.lab.layout import LabLayout

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

log = logging.getLogger(__name__)

SSH_USER = "ubuntu"  # the user of KubeOne's AWS example (`ssh_user`); sudo is passwordless as KubeOne assumes
BASTION = "lab-bastion"
BASTION_HOST = "127.0.0.1"
CLIENT_KEY_NAME = "id_ed25519"
SAME_PORT_ATTEMPTS = 20


@dataclass(frozen=True)
class SshEndpoint:
    name: str  # node name, or lab-bastion
    host: str
    port: int
    host_key: asyncssh.SSHKey  # private; only its public half is ever written out

    def known_hosts_line(self) -> str:
        public = self.host_key.export_public_key("openssh").decode().split()
        # Entries for the address and for the alias, so clients connecting either way can verify.
        return f"[{self.host}]:{self.port},[{self.name}]:{self.port} {public[0]} {public[1]}\n"


@dataclass
class NodeAccess:
    user: str
    client_key_path: Path
    nodes: dict[str, SshEndpoint]
    bastion: SshEndpoint | None
    _servers: list[asyncssh.SSHAcceptor] = field(default_factory=list, repr=False)
    _connections: set[asyncssh.SSHServerConnection] = field(default_factory=set, repr=False)

    def endpoints(self) -> list[SshEndpoint]:
        return [*self.nodes.values(), *([self.bastion] if self.bastion else [])]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self._connections):  # clients still connected must not keep the lab alive
            conn.close()
        self._connections.clear()
        await asyncio.gather(*(s.wait_closed() for s in self._servers), return_exceptions=True)
        self._servers.clear()


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create or replace a file with `mode` from the start, so a key is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_or_create_key(path: Path) -> asyncssh.SSHKey:
    """Reuse a key kept from an earlier run (`--keep-data`), so known_hosts stays valid; else make one."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519", comment=path.name)
    write_private(path, key.export_private_key("openssh"))
    write_private(path.with_name(path.name + ".pub"), key.export_public_key("openssh"), 0o644)
    return key


class _KeyOnlyServer(asyncssh.SSHServer):
    """Public-key auth for one user with one key; nothing else."""

    def __init__(self, user: str, client_key: asyncssh.SSHKey, connections: set[asyncssh.SSHServerConnection]) -> None:
        self._user = user
        self._client_public = client_key.public_data
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always require auth

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._user and key.public_data == self._client_public


class _BastionServer(_KeyOnlyServer):
    def __init__(
        self, user: str, client_key: asyncssh.SSHKey, connections: set[asyncssh.SSHServerConnection],
        allowed: set[tuple[str, int]],
    ) -> None:
        super().__init__(user, client_key, connections)
        self._allowed = allowed

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        if (dest_host, dest_port) in self._allowed:
            return True
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, f"lab bastion forwards only to lab nodes, not {dest_host}:{dest_port}"
        )


# -- the node's "shell": a fixed set of commands, parsed with shlex, never handed to a real shell -------------

UNAME_R = "6.1.0-18-amd64"
BINARIES = {
    "kubeadm": KUBEADM_PATH,
    "kubelet": "/usr/bin/kubelet",
    "kubectl": "/usr/bin/kubectl",
    "hostname": "/usr/bin/hostname",
    "sudo": "/usr/bin/sudo",
    "uname": "/usr/bin/uname",
    "whoami": "/usr/bin/whoami",
    "true": "true",
    "false": "false",
    "command": "command",
}
SUDO_FLAGS = {"-n", "-E", "-H", "-S", "--"}
KUBEADM_DATA_DIR = "/var/lib/etcd"  # the etcd data dir kubeadm mounts into the etcd pod
CHAIN_OPERATORS = {"&&", "||", ";"}
MAX_STDIN_LINE = 4096


class _Writer:
    """Writes text to an ssh channel stream, keeping on when the client has gone: a reset must finish."""

    def __init__(self, stream: asyncssh.SSHWriter[bytes]) -> None:
        self._stream = stream

    async def __call__(self, text: str) -> None:
        await self.raw(text.encode())

    async def raw(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            self._stream.write(data)
            await self._stream.drain()


class NodeShell:
    """Answers exec requests on one node (or on the bastion when `node` is None)."""

    def __init__(self, ring: Ring, node: str | None, *, user: str) -> None:
        self._ring = ring
        self._node = node
        self._user = user

    @property
    def hostname(self) -> str:
        return self._node or BASTION

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        out, err = _Writer(process.stdout), _Writer(process.stderr)
        command = process.command
        if command is None:
            await out(f"Welcome to {self.hostname}, an etcdtui lab node. Run commands as `ssh {self.hostname} CMD`.\n")
            process.exit(0)
            return
        try:
            # Shielded: a client that disconnects mid-reset must not leave the node half reset.
            code = await asyncio.shield(self.run(command, out, err, process.stdin))
        except asyncio.CancelledError:
            return
        except Exception as exc:  # the lab's own bug: say so on the channel, keep the server up
            log.exception("ssh command %r on %s failed", command, self.hostname)
            await err(f"lab: internal error: {exc}\n")
            code = 1
        with contextlib.suppress(Exception):
            process.exit(code)

    async def run(self, command: str, out: _Writer, err: _Writer, stdin: asyncssh.SSHReader[bytes]) -> int:
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            await err(f"bash: syntax error: {exc}\n")
            return 2
        code = 0
        op = ";"
        simple: list[str] = []
        for token in [*tokens, ";"]:
            if token not in CHAIN_OPERATORS:
                if token and set(token) <= set(";&|"):
                    await err(f"bash: `{token}' is not supported on lab nodes\n")
                    return 2
                simple.append(token)
                continue
            if simple and (op == ";" or (op == "&&") == (code == 0)):
                code = await self._exec(simple, out, err, stdin)
            simple, op = [], token
        return code

    async def _exec(self, argv: list[str], out: _Writer, err: _Writer, stdin: asyncssh.SSHReader[bytes]) -> int:
        root = self._user == "root"
        if argv[0] == "sudo":
            argv = argv[1:]
            while argv and argv[0] in SUDO_FLAGS:
                argv = argv[1:]
            if not argv:
                await err("usage: sudo -h | -K | -k | -V\n")
                return 1
            root = True
        name, args = argv[0], argv[1:]
        if name == "true":
            return 0
        if name == "false":
            return 1
        if name == "hostname":
            return await self._hostname(args, out)
        if name == "whoami":
            await out(("root" if root else self._user) + "\n")
            return 0
        if name == "uname":
            return await self._uname(args, out)
        if name == "command" and len(args) == 2 and args[0] == "-v":
            path = BINARIES.get(args[1]) if (self._node or args[1] not in {"kubeadm", "kubelet"}) else None
            if path is None:
                return 1
            await out(path + "\n")
            return 0
        if name in {"kubeadm", KUBEADM_PATH} and self._node is not None:

            async def read_line() -> str:
                try:
                    data = await stdin.readline()
                except Exception:
                    return ""
                return data[:MAX_STDIN_LINE].decode(errors="replace")

            return await kubeadm_main(self._ring, self._node, args, root=root, out=out, err=err, read_line=read_line)
        if self._node is not None and node_manifest.handles(name, args):  # the etcd static pod manifest (#14)
            return await node_manifest.run(self._ring, self._node, name, root=root, out=out, err=err, stdin=stdin)
        if name in {"cat", "rm"} and self._node is not None:
            return await self._etcd_data_file(name, args, root, out, err)
        if name in node_fs.COMMANDS and self._node is not None:  # disaster recovery (issue #13)
            return await node_fs.run(self._ring, self._node, name, args, root=root, out=out, err=err, stdin=stdin)
        await err(f"bash: {name}: command not found\n")
        return 127

    async def _etcd_data_file(self, name: str, args: list[str], root: bool, out: _Writer, err: _Writer) -> int:
        """`cat FILE` / `rm -f FILE` for a file directly under the node's /var/lib/etcd (root only, like 0700).

        What etcdtui's backup needs: etcdctl in the etcd pod saves a snapshot into the data dir, and it is
        fetched and removed over ssh. Nothing else of the node's file system exists in the lab.
        """
        force = name == "rm" and args[:1] == ["-f"]
        paths = args[1:] if force else args
        if len(paths) != 1 or not paths[0].startswith(KUBEADM_DATA_DIR + "/") or "/" in paths[0][len(KUBEADM_DATA_DIR) + 1:]:
            await err(f"{name}: lab nodes only serve `{name}{' -f' if name == 'rm' else ''} {KUBEADM_DATA_DIR}/FILE`\n")
            return 1
        if not root:
            await err(f"{name}: {paths[0]}: Permission denied\n")
            return 1
        local = self._ring.member(self._node or "").data_dir / paths[0].rsplit("/", 1)[1]
        if name == "rm":
            try:
                local.unlink()
            except FileNotFoundError:
                if not force:
                    await err(f"rm: cannot remove '{paths[0]}': No such file or directory\n")
                    return 1
            return 0
        try:
            fh = await asyncio.to_thread(local.open, "rb")
        except (FileNotFoundError, IsADirectoryError):
            await err(f"cat: {paths[0]}: No such file or directory\n")
            return 1
        try:
            while chunk := await asyncio.to_thread(fh.read, 256 * 1024):
                await out.raw(chunk)
        finally:
            fh.close()
        return 0

    async def _hostname(self, args: list[str], out: _Writer) -> int:
        ip = self._ring.member(self._node).host_ip if self._node else BASTION_HOST
        if args in ([], ["-f"], ["-s"], ["--fqdn"], ["--short"]):
            await out(self.hostname + "\n")
        elif args in (["-I"], ["--all-ip-addresses"]):
            await out(ip + " \n")
        elif args in (["-i"], ["--ip-address"]):
            await out(ip + "\n")
        else:
            await out("Usage: hostname [-f|-s|-i|-I]\n")
            return 1
        return 0

    async def _uname(self, args: list[str], out: _Writer) -> int:
        if args == ["-a"]:
            await out(f"Linux {self.hostname} {UNAME_R} #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n")
        elif args in ([], ["-s"]):
            await out("Linux\n")
        elif args == ["-r"]:
            await out(UNAME_R + "\n")
        elif args == ["-m"]:
            await out("x86_64\n")
        else:
            await out(f"uname: invalid option -- '{' '.join(args)}'\n")
            return 1
        return 0


async def _listen(
    server_factory: Callable[[], asyncssh.SSHServer], host: str, port: int, host_key: asyncssh.SSHKey, shell: NodeShell
) -> tuple[asyncssh.SSHAcceptor, int]:
    acceptor = await asyncssh.create_server(
        server_factory,
        host,
        port,
        server_host_keys=[host_key],
        process_factory=shell.handle,
        line_editor=False,
        encoding=None,  # the shell encodes what it writes
        keepalive_interval=15,
    )
    return acceptor, acceptor.sockets[0].getsockname()[1]


async def _start_node_servers(
    ring: Ring, layout: LabLayout, client_key: asyncssh.SSHKey, access: NodeAccess
) -> None:
    """All nodes listen on one port number (each on its own address), as tf.json has one `ssh_port` for all."""
    keys = {node: load_or_create_key(layout.ssh_dir / f"host_{node}_ed25519") for node in ring.nodes}
    for _attempt in range(SAME_PORT_ATTEMPTS):
        port = 0
        try:
            for node in ring.nodes:
                host = ring.member(node).host_ip
                shell = NodeShell(ring, node, user=access.user)
                acceptor, port = await _listen(
                    lambda: _KeyOnlyServer(access.user, client_key, access._connections), host, port, keys[node], shell
                )
                access._servers.append(acceptor)
                access.nodes[node] = SshEndpoint(node, host, port, keys[node])
            return
        except OSError as exc:
            log.info("ssh port %d not free on every node address (%s); trying another", port, exc)
            await access.stop()
            access.nodes.clear()
    raise OSError(f"no port free on every lab node address after {SAME_PORT_ATTEMPTS} attempts")


async def start_node_access(ring: Ring, layout: LabLayout, *, bastion: bool) -> NodeAccess:
    """Start one SSH server per node (+ the bastion) and write `ssh_config`, `known_hosts` and the client key."""
    logging.getLogger("asyncssh").setLevel(logging.WARNING)  # one INFO line per packet event floods lab.log
    layout.ssh_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.ssh_dir, 0o700)
    client_key_path = layout.ssh_dir / CLIENT_KEY_NAME
    client_key = load_or_create_key(client_key_path)
    access = NodeAccess(SSH_USER, client_key_path, {}, None)
    try:
        await _start_node_servers(ring, layout, client_key, access)
        if bastion:
            allowed = {(ep.host, ep.port) for ep in access.nodes.values()}
            host_key = load_or_create_key(layout.ssh_dir / "host_bastion_ed25519")
            shell = NodeShell(ring, None, user=SSH_USER)
            acceptor, port = await _listen(
                lambda: _BastionServer(SSH_USER, client_key, access._connections, allowed), BASTION_HOST, 0, host_key, shell
            )
            access._servers.append(acceptor)
            access.bastion = SshEndpoint(BASTION, BASTION_HOST, port, host_key)
        write_known_hosts(layout.known_hosts, access)
        write_ssh_config(layout.ssh_config, access, layout)
    except BaseException:
        await access.stop()  # nothing half-started left behind
        raise
    log.info("ssh: %s", ", ".join(f"{ep.name}={ep.host}:{ep.port}" for ep in access.endpoints()))
    return access


def write_known_hosts(path: Path, access: NodeAccess) -> None:
    write_private(path, "".join(ep.known_hosts_line() for ep in access.endpoints()).encode(), 0o644)


def _quote(path: Path) -> str:
    return f'"{path}"'


def ssh_config_text(access: NodeAccess, layout: LabLayout) -> str:
    def entry(ep: SshEndpoint, jump: bool) -> str:
        lines = [
            f"Host {ep.name}",
            f"    HostName {ep.host}",
            f"    Port {ep.port}",
            f"    User {access.user}",
            f"    IdentityFile {_quote(access.client_key_path)}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {_quote(layout.known_hosts)}",
            "    GlobalKnownHostsFile /dev/null",
            "    StrictHostKeyChecking yes",
            "    PasswordAuthentication no",
            "    KbdInteractiveAuthentication no",
        ]
        if jump:
            lines.append(f"    ProxyJump {BASTION}")
        return "\n".join(lines) + "\n"

    parts = ["# Written by `etcdtui lab`: use with `ssh -F <this file> lab-cp-1 ...`\n"]
    parts += [entry(ep, access.bastion is not None) for ep in access.nodes.values()]
    if access.bastion is not None:
        parts.append(entry(access.bastion, False))
    return "\n".join(parts)


def write_ssh_config(path: Path, access: NodeAccess, layout: LabLayout) -> None:
    write_private(path, ssh_config_text(access, layout).encode(), 0o644)
