"""Benchmark: the lab's node access, measured with the real clients on a real lab (ring + ssh + bastion).

Prints medians of: OpenSSH `ssh -F ssh_config NODE hostname` (through the bastion and direct), an asyncssh
connect + command, `sudo kubeadm reset --force` over ssh, `bin/kubeone apply -y` re-joining the reset node,
and `bin/kubeone apply --force-upgrade -y` restarting all members with KubeOne's flags.
Run: python benchmarks/lab_node_access.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from _lab_nodes import NodeLab, node_lab  # noqa: E402

SETTLE = 6.0  # etcd refuses membership changes until all peers have been connected ~5 s


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def run(argv: list[str], cwd: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {err.decode()[-500:]}")


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<48} median {statistics.median(samples) * 1000:8.0f} ms   (n={len(samples)}, "
          f"min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})")


async def bench(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-ssh-") as tmp:
        async with node_lab(Path(tmp) / "lab", bastion=True) as lab:
            await lab_round(lab, rounds)


async def lab_round(lab: NodeLab, rounds: int) -> None:
    root = lab.layout.root
    ep = lab.access.nodes["lab-cp-1"]

    async def asyncssh_hostname() -> None:
        async with asyncssh.connect(
            ep.host, ep.port, username=lab.access.user, client_keys=[str(lab.access.client_key_path)],
            known_hosts=str(lab.layout.known_hosts), config=[], agent_path=None,
        ) as conn:
            await conn.run("hostname", check=True)

    samples: dict[str, list[float]] = {
        "ssh lab-cp-2 hostname (ProxyJump bastion)": [],
        "ssh lab-cp-2 hostname (direct)": [],
        "asyncssh connect + hostname": [],
    }
    for _ in range(rounds):
        samples["ssh lab-cp-2 hostname (ProxyJump bastion)"].append(
            await timed(lambda: run(lab.ssh_argv("lab-cp-2", "hostname"), root)))
        samples["ssh lab-cp-2 hostname (direct)"].append(
            await timed(lambda: run(lab.ssh_argv("-o", "ProxyJump=none", "lab-cp-2", "hostname"), root)))
        samples["asyncssh connect + hostname"].append(await timed(asyncssh_hostname))
    for name, values in samples.items():
        report(name, values)

    await asyncio.sleep(SETTLE)
    kubeone = [str(lab.layout.kubeone_bin), "apply", "-m", "kubeone.yaml", "-t", "tf.json", "-y"]
    reset, rejoin = [], []
    for _ in range(rounds):
        reset.append(await timed(lambda: run(lab.ssh_argv("lab-cp-2", "sudo kubeadm reset --force"), root)))
        lab.ring.store.delete("Node", "", "lab-cp-2")
        rejoin.append(await timed(lambda: run(kubeone, root)))
        await asyncio.sleep(SETTLE)
    report("kubeadm reset --force over ssh", reset)
    report("kubeone apply -y (re-join one node)", rejoin)
    upgrade = [await timed(lambda: run([*kubeone, "--force-upgrade"], root)) for _ in range(max(1, rounds // 2))]
    report(f"kubeone apply --force-upgrade -y ({len(lab.ring.nodes)} members)", upgrade)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(bench(args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
