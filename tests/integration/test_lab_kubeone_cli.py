"""The lab's `bin/kubeone` as a real executable against a lab of real parts (etcd ring, ssh servers, the
kubeone control routes on a unix socket): version JSON, KubeOne's errors and exit codes, the TTY rule of the
prompt, host probes over real SSH, and `--force-upgrade` enabling the corruption checks for real.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from _lab_nodes import NodeLab, PtyProcess, kubeone_argv, node_lab

from etcdtui.lab.kubeone_version import VERSION_ENV
from etcdtui.lab.layout import NAMESPACE, etcd_pod_name

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PROMPT = "Do you want to proceed (yes/no): "
KUBEONE_FLAGS = ["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NodeLab]:
    async with node_lab(tmp_path_factory.mktemp("kubeone-lab")) as lab:
        yield lab


async def kubeone(lab: NodeLab, *args: str, version: str | None = None, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run bin/kubeone with pipes (no terminal), as a script or CI would."""
    env = {k: v for k, v in os.environ.items() if k != VERSION_ENV}
    if version:
        env[VERSION_ENV] = version
    proc = await asyncio.create_subprocess_exec(
        *kubeone_argv(lab, *args), cwd=cwd or lab.layout.root, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(b"yes\n"), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def _commands(lab: NodeLab) -> dict[str, list[str]]:
    return {n: lab.ring.store.get("Pod", NAMESPACE, etcd_pod_name(n))["spec"]["containers"][0]["command"] for n in lab.ring.nodes}


async def test_version_prints_kubeones_json(lab: NodeLab) -> None:
    rc, out, err = await kubeone(lab, "version")
    assert (rc, err) == (0, "")
    info = json.loads(out)
    assert list(info) == ["kubeone", "machine_controller"]
    assert list(info["kubeone"]) == [
        "major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"
    ]
    assert (info["kubeone"]["major"], info["kubeone"]["minor"], info["kubeone"]["gitVersion"]) == ("1", "8", "1.8.2")
    assert out.startswith('{\n  "kubeone": {\n    "major": "1",') and out.endswith("}\n")


async def test_version_is_configurable_by_env_and_by_file(lab: NodeLab) -> None:
    rc, out, _ = await kubeone(lab, "version", version="1.4.0")
    assert rc == 0 and json.loads(out)["kubeone"]["gitVersion"] == "1.4.0"
    version_file = lab.layout.root / "kubeone-version"
    version_file.write_text("v1.4.1-12-gabcdef0\n")
    try:
        rc, out, _ = await kubeone(lab, "version")
        info = json.loads(out)["kubeone"]
        assert (info["gitVersion"], info["minor"]) == ("v1.4.1-12-gabcdef0", "4")
    finally:
        version_file.unlink()


async def test_there_is_no_output_flag(lab: NodeLab) -> None:
    assert await kubeone(lab, "version", "-o", "json") == (1, "", "Error: unknown shorthand flag: 'o' in -o\n")


async def test_missing_files_fail_like_kubeone(lab: NodeLab) -> None:
    rc, out, err = await kubeone(lab, "apply", "-m", "nosuch.yaml", "-t", "tf.json")
    assert (rc, out) == (10, "")
    assert err == "Error: runtime: reading cluster configuration\nopen nosuch.yaml: no such file or directory\n"
    rc, _, err = await kubeone(lab, "apply", "-m", "kubeone.yaml", "-t", "nosuch.json")
    assert rc == 10
    assert err == "Error: runtime: reading terraform output file\nopen nosuch.json: no such file or directory\n"
    # KubeOne 1.4 printed errors on stdout and exited with -1.
    rc, out, err = await kubeone(lab, "apply", "-m", "nosuch.yaml", version="1.4.0")
    assert (rc, err) == (255, "")
    assert out == "runtime: reading cluster configuration\nopen nosuch.yaml: no such file or directory\n"


async def test_apply_without_a_terminal_refuses_before_doing_anything(lab: NodeLab) -> None:
    pids = lab.ring.pids()
    rc, out, err = await kubeone(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "--force-upgrade")
    assert rc == 10
    assert "\t~ force upgrade control plane node" in out
    assert PROMPT not in out
    assert err.endswith("Error: runtime: terminal detecting\nnot running in the terminal\n")
    rc, out, _ = await kubeone(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "--force-upgrade", version="1.4.1")
    assert rc == 255 and out.endswith("not running in the terminal\n")
    assert lab.ring.pids() == pids


async def test_apply_with_nothing_to_do_exits_zero(lab: NodeLab) -> None:
    rc, out, err = await kubeone(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json")
    assert rc == 0, err
    assert out.startswith("The following actions will be taken: \n")
    assert "Nothing to do" in err and PROMPT not in out


async def test_apply_reaches_the_hosts_over_ssh(lab: NodeLab, tmp_path: Path) -> None:
    tf = json.loads(lab.layout.tf_json.read_text())
    cp = tf["kubeone_hosts"]["value"]["control_plane"]
    cp["ssh_port"] = lab.ring.member("lab-cp-1").client_port  # an etcd port: no ssh server there
    (tmp_path / "tf.json").write_text(json.dumps(tf))
    rc, _, err = await kubeone(lab, "apply", "-m", str(lab.layout.kubeone_yaml), "-t", "tf.json", cwd=tmp_path)
    assert rc == 13, err
    assert "Error: ssh: connection to 127.0.1." in err


async def test_force_upgrade_with_an_old_kubeone_adds_no_corruption_flags(lab: NodeLab) -> None:
    before = lab.ring.pids()
    rc, out, err = await kubeone(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "--force-upgrade", "-y", version="1.4.0")
    assert rc == 0, err
    after = lab.ring.pids()
    assert all(after[n] != before[n] for n in lab.ring.nodes), "every member restarts"
    for command in _commands(lab).values():
        assert not any(flag in command for flag in KUBEONE_FLAGS)


async def test_force_upgrade_answered_yes_enables_the_corruption_checks(lab: NodeLab) -> None:
    pty = await PtyProcess.start(
        kubeone_argv(lab, "apply", "-m", "kubeone.yaml", "-t", "tf.json", "--force-upgrade"), lab.layout.root
    )
    await pty.read_until(PROMPT, 60)
    pty.type("yes\n")
    rc, screen, err = await pty.finish(120)
    assert rc == 0, err
    assert "Operation canceled." not in err
    assert "Running 'kubeadm upgrade' on leader control plane node..." in err
    for node, command in _commands(lab).items():
        for flag in KUBEONE_FLAGS:
            assert flag in command, (node, command)
        # etcd 3.5.1 has no compact hash check: KubeOne's flag for it would make etcd exit.
        if not lab.ring.binaries.supports("--experimental-compact-hash-check-enabled"):
            assert not any(arg.startswith("--experimental-compact-hash-check-enabled") for arg in command)
        assert lab.ring.member(node).running
    # Members started later (a kill, a re-join) keep them, as kubeadm's config now carries them.
    assert set(KUBEONE_FLAGS) <= set(lab.ring.corrupt_checks_flags())


async def test_unknown_hosts_and_nodes_are_refused(lab: NodeLab, tmp_path: Path) -> None:
    tf = json.loads(lab.layout.tf_json.read_text())
    tf["kubeone_hosts"]["value"]["control_plane"]["hostnames"][1] = "lab-cp-9"
    (tmp_path / "tf.json").write_text(json.dumps(tf))
    rc, _, err = await kubeone(lab, "apply", "-m", str(lab.layout.kubeone_yaml), "-t", "tf.json", cwd=tmp_path)
    assert rc == 15, err
    assert err.endswith('Error: host "lab-cp-9" is not a node of this lab (lab nodes: lab-cp-1, lab-cp-2, lab-cp-3)\n')
    connector = aiohttp.UnixConnector(path=str(lab.layout.control_socket))
    async with aiohttp.ClientSession(connector=connector) as session:
        for body in ({"action": "join", "nodes": ["lab-cp-9"]}, {"action": "rm -rf", "nodes": ["lab-cp-1"]}, {}):
            async with session.post("http://lab/kubeone/apply", json=body) as resp:
                assert resp.status == 400
                message = (await resp.json())["error"]
                assert "\n" not in message and message


async def test_one_apply_at_a_time(lab: NodeLab) -> None:
    connector = aiohttp.UnixConnector(path=str(lab.layout.control_socket))
    upgrade = {"action": "force-upgrade", "nodes": ["lab-cp-3"], "flags": []}
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post("http://lab/kubeone/apply", json=upgrade) as first:
            assert first.status == 200
            await first.content.readline()  # it has started
            async with session.post("http://lab/kubeone/apply", json=upgrade) as second:
                assert second.status == 409
            records = [json.loads(line) async for line in first.content]
    assert records[-1] == {"done": True, "ok": True, "dropped": 0}
    assert lab.ring.member("lab-cp-3").running
