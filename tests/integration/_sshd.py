"""A real OpenSSH sshd on loopback for tests: own config, host key, authorized_keys and log, on a free port.

Needs Debian's openssh-server (`scripts/test.sh` installs it) and root (sshd's privilege separation).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def sshd_unavailable_reason() -> str | None:
    if SSHD is None:
        return "OpenSSH sshd is not installed (apt-get install openssh-server; scripts/test.sh does it)"
    if os.geteuid() != 0:
        return "sshd needs root for privilege separation; these tests run as root in CI"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key(path: Path, alg: str = "ssh-ed25519") -> asyncssh.SSHKey:
    key = asyncssh.generate_private_key(alg)
    key.write_private_key(str(path))
    key.write_public_key(str(path) + ".pub")
    os.chmod(path, 0o600)
    return key


def known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key.export_public_key().decode().strip()}\n"


@dataclass
class Sshd:
    root: Path
    port: int
    host_key: asyncssh.SSHKey
    proc: subprocess.Popen[bytes]
    log: Path
    authorized_keys: Path
    extra: list[str] = field(default_factory=list)

    def known_hosts_line(self) -> str:
        return known_hosts_line("127.0.0.1", self.port, self.host_key)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def session_pids(self) -> list[int]:
        """Every descendant of the listening sshd (per-connection sshd processes, shells, commands)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        found: list[int] = []
        todo = [self.proc.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def kill_sessions(self) -> int:
        """Cut every open connection the way a crashed machine would: SIGKILL, no goodbye."""
        pids = self.session_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        self.kill_sessions()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_sshd(
    root: Path,
    authorized_keys: str,
    *,
    forwarding: bool = False,
    log_level: str = "VERBOSE",
    attempts: int = 5,
) -> Sshd:
    """Start sshd in `root`; retries with a new port if another engineer's process took it meanwhile."""
    assert SSHD is not None
    root.mkdir(parents=True, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    host_key_path = root / "ssh_host_ed25519_key"
    host_key = write_key(host_key_path)
    auth = root / "authorized_keys"
    auth.write_text(authorized_keys)
    log = root / "sshd.log"
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        config = root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key_path}",
                    f"AuthorizedKeysFile {auth}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    f"PidFile {root / 'sshd.pid'}",
                    f"AllowTcpForwarding {'yes' if forwarding else 'no'}",
                    f"LogLevel {log_level}",  # DEBUG also sends debug lines to the clients' stderr
                    "",
                ]
            )
        )
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return Sshd(root, port, host_key, proc, log, auth)
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        last_error = log.read_text(errors="replace")[-500:]
    raise RuntimeError(f"sshd did not start: {last_error}")
