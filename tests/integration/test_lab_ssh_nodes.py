"""The lab's SSH servers against real clients: the OpenSSH `ssh` binary (with the lab's ssh_config,
known_hosts and ProxyJump through the bastion) and asyncssh (host keys verified from known_hosts).

One lab (real etcd ring + ssh servers + bastion) serves this module; nothing here changes the ring.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest
import pytest_asyncio
from _lab_nodes import SSH, NodeLab, node_lab

from etcdtui.lab.kube_objects import KUBELET_VERSION

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NodeLab]:
    async with node_lab(tmp_path_factory.mktemp("ssh-lab"), bastion=True) as lab:
        yield lab


def _require_ssh() -> None:
    if SSH is None:
        pytest.fail("the OpenSSH client `ssh` is not installed: apt-get install openssh-client")


async def _connect(lab: NodeLab, node: str, **overrides: object) -> asyncssh.SSHClientConnection:
    ep = lab.access.nodes[node]
    options: dict[str, object] = {
        "username": lab.access.user,
        "client_keys": [str(lab.access.client_key_path)],
        "known_hosts": str(lab.layout.known_hosts),
        "config": [],
        "agent_path": None,
    }
    options.update(overrides)
    return await asyncssh.connect(ep.host, ep.port, **options)  # type: ignore[arg-type]


async def test_openssh_reaches_a_node_through_the_bastion(lab: NodeLab) -> None:
    _require_ssh()
    assert "ProxyJump lab-bastion" in lab.layout.ssh_config.read_text()
    rc, out, err = await lab.ssh("lab-cp-2", "hostname")
    assert (rc, out) == (0, "lab-cp-2\n"), err


async def test_openssh_reaches_a_node_directly(lab: NodeLab) -> None:
    _require_ssh()
    rc, out, err = await lab.ssh("-o", "ProxyJump=none", "lab-cp-3", "hostname -I")
    assert rc == 0, err
    assert out.split() == [lab.ring.member("lab-cp-3").host_ip]


async def test_openssh_refuses_a_changed_host_key(lab: NodeLab, tmp_path: Path) -> None:
    _require_ssh()
    # known_hosts that pins another key for lab-cp-2, as after a reinstall or an impostor.
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    ep = lab.access.nodes["lab-cp-2"]
    lines = [
        f"[{ep.host}]:{ep.port} {other[0]} {other[1]}\n" if line.startswith(f"[{ep.host}]") else line
        for line in lab.layout.known_hosts.read_text().splitlines(keepends=True)
    ]
    bad_known_hosts = tmp_path / "known_hosts"
    bad_known_hosts.write_text("".join(lines))
    config = tmp_path / "ssh_config"
    config.write_text(lab.layout.ssh_config.read_text().replace(str(lab.layout.known_hosts), str(bad_known_hosts)))
    proc = await asyncio.create_subprocess_exec(
        SSH or "ssh", "-F", str(config), "lab-cp-2", "hostname",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 255
    assert out == b""
    assert b"Host key verification failed" in err


async def test_asyncssh_runs_the_node_commands_with_verified_host_keys(lab: NodeLab) -> None:
    async with await _connect(lab, "lab-cp-1") as conn:
        expected = {
            "hostname": (0, "lab-cp-1\n"),
            "hostname -f": (0, "lab-cp-1\n"),
            "sudo -n true": (0, ""),
            "command -v kubeadm": (0, "/usr/bin/kubeadm\n"),
            "kubeadm version -o short": (0, KUBELET_VERSION + "\n"),
            "true": (0, ""),
            "hostname && sudo -n true && command -v kubeadm": (0, "lab-cp-1\n/usr/bin/kubeadm\n"),
            "command -v terraform": (1, ""),
        }
        for command, want in expected.items():
            result = await conn.run(command, check=False)
            assert (result.exit_status, result.stdout) == want, command
        uname = await conn.run("uname -a", check=False)
        assert uname.exit_status == 0 and str(uname.stdout).startswith("Linux lab-cp-1 ")


async def test_a_command_is_never_given_to_a_shell(lab: NodeLab, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    async with await _connect(lab, "lab-cp-1") as conn:
        unknown = await conn.run("nosuch --flag", check=False)
        assert (unknown.exit_status, unknown.stderr) == (127, "bash: nosuch: command not found\n")
        injected = await conn.run(f"hostname; touch {marker}", check=False)
        assert injected.exit_status == 127
        assert injected.stdout == "lab-cp-1\n"
        redirect = await conn.run(f"hostname > {marker}", check=False)
        assert redirect.exit_status != 0
    assert not marker.exists()


async def test_asyncssh_tunnels_through_the_bastion(lab: NodeLab) -> None:
    bastion = lab.access.bastion
    assert bastion is not None
    async with await asyncssh.connect(
        bastion.host, bastion.port, username=lab.access.user, client_keys=[str(lab.access.client_key_path)],
        known_hosts=str(lab.layout.known_hosts), config=[], agent_path=None,
    ) as jump:
        async with await _connect(lab, "lab-cp-3", tunnel=jump) as conn:
            assert (await conn.run("hostname", check=False)).stdout == "lab-cp-3\n"
        # The bastion forwards to the lab's ssh ports only: not to etcd, not anywhere else.
        etcd_port = lab.ring.member("lab-cp-1").client_port
        with pytest.raises(asyncssh.ChannelOpenError):
            await jump.open_connection(lab.ring.member("lab-cp-1").host_ip, etcd_port)


async def test_only_the_lab_key_and_user_get_in(lab: NodeLab) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        await _connect(lab, "lab-cp-1", client_keys=[stranger])
    with pytest.raises(asyncssh.PermissionDenied):
        await _connect(lab, "lab-cp-1", username="root")
    with pytest.raises(asyncssh.PermissionDenied):
        await _connect(lab, "lab-cp-1", client_keys=[], password="ubuntu")


async def test_kubeadm_reset_refuses_without_root_or_confirmation(lab: NodeLab) -> None:
    async with await _connect(lab, "lab-cp-2") as conn:
        not_root = await conn.run("kubeadm reset --force", check=False)
        assert not_root.exit_status == 2
        assert "[ERROR IsPrivilegedUser]: user is not running as root" in str(not_root.stderr)
        # Without --force kubeadm asks; the prompt (no newline) arrives while it waits: output is live.
        proc = await conn.create_process("sudo kubeadm reset")
        prompt = await asyncio.wait_for(proc.stdout.readuntil("[y/N]: "), 10)
        assert prompt == "[reset] Are you sure you want to proceed? [y/N]: "
        assert proc.exit_status is None
        proc.stdin.write("n\n")
        await asyncio.wait_for(proc.wait(), 10)
        assert proc.exit_status == 1
    assert lab.ring.member("lab-cp-2").running and not lab.ring.member("lab-cp-2").reset


async def test_key_files_are_private(lab: NodeLab) -> None:
    ssh_dir = lab.layout.ssh_dir
    assert stat.S_IMODE(ssh_dir.stat().st_mode) == 0o700
    private = [lab.access.client_key_path, *ssh_dir.glob("host_*_ed25519")]
    assert len(private) == 1 + len(lab.ring.nodes) + 1  # client key, one host key per node, the bastion's
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    known = lab.layout.known_hosts.read_text().splitlines()
    assert len(known) == len(lab.ring.nodes) + 1
    assert all(" ssh-ed25519 " in line for line in known)


async def test_a_session_without_command_gets_a_motd(lab: NodeLab) -> None:
    async with await _connect(lab, "lab-cp-1") as conn:
        result = await conn.run(check=False)  # a shell request, as `ssh lab-cp-1` sends
    assert result.exit_status == 0
    assert "lab-cp-1" in str(result.stdout) and str(result.stdout).count("\n") == 1


async def test_stop_closes_listeners_and_live_sessions(tmp_path: Path) -> None:
    async with node_lab(tmp_path / "lab", members=1) as lab:
        ep = lab.access.nodes["lab-cp-1"]
        conn = await _connect(lab, "lab-cp-1")
        await lab.access.stop()
        await asyncio.wait_for(conn.wait_closed(), 5)
        with pytest.raises(OSError):
            await asyncio.open_connection(ep.host, ep.port)
