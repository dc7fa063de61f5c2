"""The ssh adapter against real OpenSSH sshd processes on loopback (one node, one bastion).

Nothing is mocked: Debian's sshd, real keys, real known_hosts files, real TCP forwarding through the bastion.
The "node" is this machine, so its hostname and addresses are what the preflight must find.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from _sshd import Sshd, known_hosts_line, sshd_unavailable_reason, start_sshd, write_key

from etcdtui.cluster.command_output import Finished, OutputBatch, PromptEvent, StreamLimits
from etcdtui.cluster.ssh import connect
from etcdtui.cluster.ssh_preflight import PreflightOptions, preflight
from etcdtui.cluster.ssh_target import (
    SshAuthError,
    SshConnectError,
    SshConnectionLostError,
    SshError,
    SshHop,
    SshHostKeyError,
    SshTarget,
    SshTimeoutError,
)
from etcdtui.core.names import is_dns1123_subdomain

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(sshd_unavailable_reason() is not None, reason=sshd_unavailable_reason() or ""),
]

NODE = socket.gethostname().lower()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ssh")


@pytest.fixture(scope="module")
def client_key(workdir: Path) -> Path:
    path = workdir / "id_ed25519"
    write_key(path)
    return path


@pytest.fixture(scope="module")
def node_sshd(workdir: Path, client_key: Path) -> Iterator[Sshd]:
    server = start_sshd(workdir / "node", Path(str(client_key) + ".pub").read_text())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bastion_sshd(workdir: Path, client_key: Path) -> Iterator[Sshd]:
    # DEBUG1 logs the forwarded connections (the proof that the tunnel was used); no commands run here.
    pub = Path(str(client_key) + ".pub").read_text()
    server = start_sshd(workdir / "bastion", pub, forwarding=True, log_level="DEBUG1")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def known_hosts(workdir: Path, node_sshd: Sshd, bastion_sshd: Sshd) -> Path:
    path = workdir / "known_hosts"
    path.write_text(node_sshd.known_hosts_line() + bastion_sshd.known_hosts_line())
    return path


def target(node_sshd: Sshd, key: Path, known_hosts: Path, **kw: object) -> SshTarget:
    hop = SshHop("127.0.0.1", node_sshd.port, "root", str(key))
    return SshTarget(kw.pop("node", NODE), hop, known_hosts=str(known_hosts), connect_timeout=5, **kw)  # type: ignore[arg-type]


async def test_key_auth_and_argv_quoting(node_sshd: Sshd, client_key: Path, known_hosts: Path) -> None:
    tricky = ["printf", "%s|", "two words", "it's", "$HOME", "a;b", "`id`", "*"]
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        result, out, err = await node.capture(tricky)
        who, _, _ = await node.capture(["id", "-un"])
    assert result.exit_code == 0 and result.ok and err == []
    assert out == ["two words|it's|$HOME|a;b|`id`|*|"]  # every argument reached the program untouched
    assert result.where == f"root@127.0.0.1:{node_sshd.port}"


async def test_live_output_arrives_in_batches_before_exit(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    script = "echo one; sleep 0.4; echo two >&2; sleep 0.4; echo three; exit 3"
    arrivals: list[tuple[float, str, tuple[str, ...]]] = []
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        cmd = await node.start(["sh", "-c", script])
        t0 = time.monotonic()
        async for ev in cmd.events():
            if isinstance(ev, OutputBatch) and ev.lines:
                arrivals.append((time.monotonic() - t0, ev.stream, ev.lines))
            elif isinstance(ev, Finished):
                finished_at = time.monotonic() - t0
        result = await cmd.wait()
    assert [(s, lines) for _, s, lines in arrivals] == [
        ("stdout", ("one",)),
        ("stderr", ("two",)),
        ("stdout", ("three",)),
    ]
    assert arrivals[0][0] < finished_at - 0.6  # "one" was shown while the command still ran
    assert result.exit_code == 3 and not result.ok and result.error is None
    assert 0.7 < result.duration_s < 5


async def test_large_remote_output_is_complete(node_sshd: Sshd, client_key: Path, known_hosts: Path) -> None:
    script = "seq 1 400000"  # 2.7 MB, faster than the pump batches it: exercises the backpressure path
    limits = StreamLimits(max_pending_bytes=64 * 1024)
    count = 0
    last = ""

    def keep(batch: OutputBatch) -> None:
        nonlocal count, last
        count += len(batch.lines)
        last = batch.lines[-1] if batch.lines else last

    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        result = await node.run(["sh", "-c", script], on_batch=keep, limits=limits)
    assert result.ok and result.dropped_bytes == 0
    assert count == 400000 and last == "400000"


async def test_remote_pty_prompt_and_answer(node_sshd: Sshd, client_key: Path, known_hosts: Path) -> None:
    script = (
        'test -t 0 && test -t 1 || exit 10; printf "Do you want to proceed (yes/no): "; read a; echo "got $a"'
    )
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        cmd = await node.start(["sh", "-c", script], pty=True, stdin=True)
        lines: list[str] = []
        prompts: list[str] = []
        async for ev in cmd.events():
            if isinstance(ev, PromptEvent):
                prompts.append(ev.text)
                await cmd.answer("yes")
            elif isinstance(ev, OutputBatch):
                lines.extend(ev.lines)
        result = await cmd.wait()
    assert prompts == ["Do you want to proceed (yes/no): "]
    assert "got yes" in lines and result.exit_code == 0


async def test_unknown_host_key_is_refused(
    node_sshd: Sshd, client_key: Path, bastion_sshd: Sshd, workdir: Path
) -> None:
    only_bastion = workdir / "known_hosts_without_node"
    only_bastion.write_text(bastion_sshd.known_hosts_line())
    with pytest.raises(SshHostKeyError) as err:
        await connect(target(node_sshd, client_key, only_bastion))
    msg = str(err.value)
    assert msg.startswith(f"unknown host key for {NODE} (127.0.0.1:{node_sshd.port}): ssh-ed25519 ")
    assert node_sshd.host_key.get_fingerprint("sha256") in msg
    assert str(only_bastion) in msg and "\n" not in msg


async def test_host_key_mismatch_is_refused(node_sshd: Sshd, client_key: Path, workdir: Path) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = workdir / "known_hosts_wrong"
    wrong.write_text(known_hosts_line("127.0.0.1", node_sshd.port, impostor))
    with pytest.raises(SshHostKeyError) as err:
        await connect(target(node_sshd, client_key, wrong))
    msg = str(err.value)
    assert msg.startswith(f"HOST KEY MISMATCH for {NODE} (127.0.0.1:{node_sshd.port})")
    assert node_sshd.host_key.get_fingerprint("sha256") in msg  # what the server offered
    assert impostor.get_fingerprint("sha256") in msg  # what we trusted
    assert "refusing to connect" in msg


async def test_missing_known_hosts_is_an_error_not_a_silent_accept(
    node_sshd: Sshd, client_key: Path, workdir: Path
) -> None:
    with pytest.raises(SshHostKeyError, match="cannot read known_hosts file .*No such file"):
        await connect(target(node_sshd, client_key, workdir / "absent"))


async def test_lab_opt_out_skips_host_key_check(node_sshd: Sshd, client_key: Path, workdir: Path) -> None:
    t = target(node_sshd, client_key, workdir / "absent", insecure_skip_host_key_check=True)
    async with await connect(t) as node:
        result, out, _ = await node.capture(["echo", "lab"])
    assert out == ["lab"] and result.ok


async def test_auth_failure_is_clear(node_sshd: Sshd, known_hosts: Path, workdir: Path) -> None:
    stranger = workdir / "id_stranger"
    write_key(stranger)
    with pytest.raises(SshAuthError) as err:
        await connect(target(node_sshd, stranger, known_hosts))
    assert str(err.value) == (
        f"ssh authentication failed for root@127.0.0.1:{node_sshd.port} ({NODE} (127.0.0.1:{node_sshd.port})) "
        f"with key {stranger}"
    )


async def _run(*argv: str, env: dict[str, str] | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode(errors="replace")


async def test_an_encrypted_key_says_to_use_the_agent(
    node_sshd: Sshd, known_hosts: Path, tmp_path: Path
) -> None:
    locked = tmp_path / "id_locked"
    await _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked))
    with pytest.raises(
        SshAuthError, match=rf"^cannot use ssh key {locked}: .*[Pp]assphrase.*; load it into ssh-agent"
    ):
        await connect(target(node_sshd, locked, known_hosts))


async def test_key_from_a_real_ssh_agent(
    node_sshd: Sshd, client_key: Path, known_hosts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KubeOne's default when no key file is given: the agent at $SSH_AUTH_SOCK (OpenSSH's ssh-agent here)."""
    agent_bin = shutil.which("ssh-agent")
    if not agent_bin or not shutil.which("ssh-add"):
        pytest.skip("ssh-agent/ssh-add are not installed (apt-get install openssh-client)")
    sock = tmp_path / "agent.sock"
    agent = await asyncio.create_subprocess_exec(
        agent_bin, "-D", "-a", str(sock), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.02)
        await _run("ssh-add", str(client_key), env={"SSH_AUTH_SOCK": str(sock), "PATH": "/usr/bin:/bin"})
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))  # no default ~/.ssh keys: only the agent can succeed
        hop = SshHop("127.0.0.1", node_sshd.port, "root", key_file=None)
        async with await connect(SshTarget(NODE, hop, known_hosts=str(known_hosts))) as node:
            result, out, _ = await node.capture(["echo", "agent"])
        assert out == ["agent"] and result.ok
    finally:
        agent.terminate()
        await agent.wait()


async def test_a_server_that_never_answers_times_out(client_key: Path, known_hosts: Path) -> None:
    with socket.socket() as silent:  # accepts TCP connections (backlog) but never speaks SSH
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        hop = SshHop("127.0.0.1", port, "root", str(client_key))
        t = SshTarget(NODE, hop, known_hosts=str(known_hosts), connect_timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(
            SshConnectError, match=rf"^cannot connect to {NODE} \(127.0.0.1:{port}\): timed out after 0.5 s$"
        ):
            await connect(t)
        assert time.monotonic() - t0 < 3


async def test_connection_refused_is_clear(client_key: Path, known_hosts: Path) -> None:
    with socket.socket() as s:  # a port that is certainly closed: bound but not listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        t = SshTarget(NODE, SshHop("127.0.0.1", port, "root", str(client_key)), known_hosts=str(known_hosts))
        with pytest.raises(SshConnectError, match=rf"^cannot connect to {NODE} \(127.0.0.1:{port}\): "):
            await connect(t)


async def test_invalid_node_name_never_reaches_ssh(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    with pytest.raises(SshError, match="invalid node name"):
        await connect(target(node_sshd, client_key, known_hosts, node="-oProxyCommand=evil"))
    bad_host = SshTarget(NODE, SshHop("-oProxyCommand=x", 22), known_hosts=str(known_hosts))
    with pytest.raises(SshError, match="invalid ssh host"):
        await connect(bad_host)


async def test_through_a_bastion(
    node_sshd: Sshd, bastion_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    bastion = SshHop("127.0.0.1", bastion_sshd.port, "root", str(client_key))
    async with await connect(target(node_sshd, client_key, known_hosts, bastion=bastion)) as node:
        result, out, _ = await node.capture(["echo", "via bastion"])
    assert out == ["via bastion"] and result.ok
    # The node connection really went through the bastion's TCP forwarding.
    log = bastion_sshd.log_text()
    assert "server_request_direct_tcpip: originator" in log and f"port {node_sshd.port}" in log


async def test_bastion_host_key_is_verified_on_its_own(
    node_sshd: Sshd, bastion_sshd: Sshd, client_key: Path, workdir: Path
) -> None:
    only_node = workdir / "known_hosts_without_bastion"
    only_node.write_text(node_sshd.known_hosts_line())
    bastion = SshHop("127.0.0.1", bastion_sshd.port, "root", str(client_key))
    with pytest.raises(
        SshHostKeyError, match=rf"^unknown host key for bastion 127.0.0.1:{bastion_sshd.port}: "
    ):
        await connect(target(node_sshd, client_key, only_node, bastion=bastion))


async def test_node_host_key_behind_the_bastion_is_verified(
    node_sshd: Sshd, bastion_sshd: Sshd, client_key: Path, workdir: Path
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong_node = workdir / "known_hosts_wrong_node"
    wrong_node.write_text(
        bastion_sshd.known_hosts_line() + known_hosts_line("127.0.0.1", node_sshd.port, impostor)
    )
    bastion = SshHop("127.0.0.1", bastion_sshd.port, "root", str(client_key))
    with pytest.raises(SshHostKeyError) as err:
        await connect(target(node_sshd, client_key, wrong_node, bastion=bastion))
    msg = str(err.value)
    assert msg.startswith(f"HOST KEY MISMATCH for {NODE} (127.0.0.1:{node_sshd.port})")
    # The offered key was fetched through the bastion too: it is the real node key.
    assert node_sshd.host_key.get_fingerprint("sha256") in msg


async def test_a_bastion_that_refuses_forwarding_is_reported(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    no_forwarding = SshHop("127.0.0.1", node_sshd.port, "root", str(client_key))  # AllowTcpForwarding no
    with pytest.raises(
        SshConnectError, match=rf"^cannot reach {NODE} \(127.0.0.1:{node_sshd.port}\) through the bastion: "
    ):
        await connect(target(node_sshd, client_key, known_hosts, bastion=no_forwarding))


async def test_dropped_connection_mid_command_is_reported(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    argv = ["sh", "-c", "echo started; sleep 20"]
    node = await connect(target(node_sshd, client_key, known_hosts))
    seen: list[str] = []

    async def on_batch(batch: OutputBatch) -> None:
        seen.extend(batch.lines)
        if "started" in batch.lines:
            assert node_sshd.kill_sessions() > 0  # the machine "dies" under the running command

    t0 = time.monotonic()
    with pytest.raises(SshConnectionLostError) as err:
        await node.run(argv, on_batch=on_batch)
    assert time.monotonic() - t0 < 10
    assert seen == ["started"]
    assert str(err.value).startswith(
        f"connection to {NODE} (127.0.0.1:{node_sshd.port}) lost while running `sh -c 'echo started; sleep 20'`"
    )
    assert err.value.result is not None and err.value.result.exit_code is None
    await node.close()


async def test_time_limit_stops_a_command_in_a_terminal(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        t0 = time.monotonic()
        with pytest.raises(
            SshTimeoutError, match=r"^`sleep 30` on .* did not finish within 0.5 s; it was stopped$"
        ):
            await node.run(["sleep", "30"], time_limit=0.5, cancel_grace=0.5, pty=True)
        assert time.monotonic() - t0 < 3
        result, out, _ = await node.capture(["echo", "still usable"])
    assert out == ["still usable"]


async def test_cancel_without_a_terminal_says_the_command_may_still_run(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    # OpenSSH refuses signal requests for root sessions, and without a PTY closing the channel kills nothing.
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        cmd = await node.start(["sh", "-c", "echo ready; exec sleep 29"])
        async for ev in cmd.events():
            if isinstance(ev, OutputBatch) and "ready" in ev.lines:
                break
        t0 = time.monotonic()
        result = await cmd.cancel(grace=0.3)
        assert time.monotonic() - t0 < 3
    node_sshd.kill_sessions()  # clean up the orphaned sleep
    assert result.cancelled and not result.ok and result.exit_code is None
    assert result.error is not None and "may still be running" in result.error


async def test_cancel_hangs_up_a_command_in_a_terminal(
    node_sshd: Sshd, client_key: Path, known_hosts: Path
) -> None:
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        cmd = await node.start(["sh", "-c", "echo ready; exec sleep 30"], pty=True)
        async for ev in cmd.events():
            if isinstance(ev, OutputBatch) and "ready" in ev.lines:
                break
        t0 = time.monotonic()
        result = await cmd.cancel(grace=0.5)
        assert time.monotonic() - t0 < 2
    assert result.cancelled and result.signal == signal.SIGHUP and result.error is None
    assert "cancelled, killed by SIGHUP" in result.describe()


def _local_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout
    return out.split()


@pytest.mark.skipif(
    not is_dns1123_subdomain(NODE), reason=f"this machine's hostname {NODE!r} is no Node name"
)
async def test_preflight_on_the_right_machine(
    node_sshd: Sshd, client_key: Path, known_hosts: Path, tmp_path: Path
) -> None:
    kubeadm_dir = tmp_path / "opt-bin"
    kubeadm_dir.mkdir()
    kubeadm = kubeadm_dir / "kubeadm"  # only its presence is checked; it is never run
    kubeadm.write_text("#!/bin/sh\nexit 0\n")
    kubeadm.chmod(0o755)
    addresses = _local_addresses()
    options = PreflightOptions(node_ip=addresses[0] if addresses else None, kubeadm_dirs=(str(kubeadm_dir),))
    async with await connect(target(node_sshd, client_key, known_hosts)) as node:
        checks = await preflight(node, options)
    by_name = {c.name: c for c in checks}
    assert list(by_name) == ["hostname", "node IP", "sudo", "kubeadm"]
    assert by_name["hostname"].passed, by_name["hostname"].detail
    if addresses:
        assert by_name["node IP"].passed, by_name["node IP"].detail
    else:
        assert by_name["node IP"].status == "skipped"
    if shutil.which("sudo"):
        assert by_name["sudo"].passed, by_name["sudo"].detail
    else:
        assert by_name["sudo"].status == "failed" and "sudo" in by_name["sudo"].detail
    assert by_name["kubeadm"].detail == f"kubeadm is {kubeadm}" and by_name["kubeadm"].value == str(kubeadm)


async def test_preflight_on_the_wrong_machine(node_sshd: Sshd, client_key: Path, known_hosts: Path) -> None:
    options = PreflightOptions(node_ip="203.0.113.9", kubeadm_dirs=("/nonexistent",))
    t = target(node_sshd, client_key, known_hosts, node="lab-cp-2")
    async with await connect(t) as node:
        checks = await preflight(node, options)
    by_name = {c.name: c for c in checks}
    assert by_name["hostname"].status == "failed"
    assert (
        by_name["hostname"].detail.startswith(f"the machine says it is {NODE}")
        and "not lab-cp-2" in by_name["hostname"].detail
    )
    assert by_name["node IP"].status == "failed" and "203.0.113.9 is not among" in by_name["node IP"].detail
    assert by_name["kubeadm"].status == "failed" and "/nonexistent" in by_name["kubeadm"].detail
