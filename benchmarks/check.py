"""Benchmark: `etcdtui check` against `kubectl get pods -n kube-system -l component=etcd -o wide` on a lab,
and the engine's idle CPU between polls.

`check` does much more (pod/node watches, five etcdctl runs through the exec API, hashes at a common
revision, the ring evaluation) than kubectl's one list, so the ratio says what the full verdict costs.
Starts a fresh lab in a temp dir unless `--kubeconfig` points at a running one.
Run: python benchmarks/check.py [--rounds N] [--kubeconfig K] [--idle-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import time

from _bench_lab import compile_bytecode, lab_kubeconfig, timed


async def engine_idle_cpu(kubeconfig: str, seconds: float, poll_interval: float) -> tuple[float, int]:
    """CPU seconds of this process per wall second while the engine idles (after its first snapshot)."""
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.ring_engine import RingEngine

    conn = await ClusterConnection.open(kubeconfig)
    try:
        async with RingEngine(conn, poll_interval=poll_interval) as engine:
            await engine.wait_complete(30)
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            wall0 = time.perf_counter()
            await asyncio.sleep(seconds)
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            wall = time.perf_counter() - wall0
            polls = engine.polls
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        return cpu / wall, polls
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kubeconfig", help="a running lab's kubeconfig (default: start a fresh lab)")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    compile_bytecode()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not found: cannot compare", file=sys.stderr)
        return 3

    with lab_kubeconfig(args.kubeconfig, "etcdtui-bench-check-") as kubeconfig:
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        check_times, kubectl_times = [], []
        for i in range(args.rounds):
            t_check, rc_check = timed([[sys.executable, "-m", "etcdtui", "check", "--json"]], env)
            t_kubectl, rc_kubectl = timed(
                [[kubectl, "get", "pods", "-n", "kube-system", "-l", "component=etcd", "-o", "wide"]], env
            )
            check_times.append(t_check)
            kubectl_times.append(t_kubectl)
            print(f"round {i + 1}: etcdtui check {t_check:.3f} s (rc {rc_check[0]})   "
                  f"kubectl {t_kubectl:.3f} s (rc {rc_kubectl[0]})")
        med_check, med_kubectl = statistics.median(check_times), statistics.median(kubectl_times)
        print(f"median: etcdtui check {med_check:.3f} s, kubectl get pods {med_kubectl:.3f} s, "
              f"ratio {med_check / med_kubectl:.2f}")
        share, polls = asyncio.run(engine_idle_cpu(kubeconfig, args.idle_seconds, 15.0))
        print(f"engine idle CPU (default 15 s poll, {args.idle_seconds:.0f} s, {polls} polls): "
              f"{share * 100:.2f} % of one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
