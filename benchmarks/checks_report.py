"""Benchmark: the checks screen's data on a lab: `ChecksService.report()` (pods, every member's log, kubeone
version, backups CronJob), its audit part alone, and `enable()` end to end (kubeone in a PTY, answer yes, all
members back with their new flags and logs).

Starts a fresh lab in a temp dir unless `--kubeconfig` points at a running one (then `--enable` changes it!).
Run: python benchmarks/checks_report.py [--rounds N] [--enable] [--kubeconfig K]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


async def measure(kubeconfig: str, rounds: int, enable: bool) -> None:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.checks import ChecksService, KubeOneSettings
    from etcdtui.engine.checks_plan import Plan
    from etcdtui.engine.context_settings import from_kubeconfig

    conn = await ClusterConnection.open(kubeconfig)
    try:
        service = ChecksService(conn, KubeOneSettings.of(from_kubeconfig(kubeconfig).kubeone))
        for name, call in (("report()", service.report), ("audit() (pods + logs)", service.audit)):
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                await call()
                times.append(time.perf_counter() - start)
            print(f"{name:<24} median {statistics.median(times) * 1000:7.1f} ms   "
                  f"max {max(times) * 1000:7.1f} ms   ({rounds} rounds)")
        if enable:
            async def yes(plan: Plan, prompt: str) -> bool:
                return True

            lines: list[str] = []
            start = time.perf_counter()
            outcome = await service.enable(on_output=lines.extend, on_plan=yes, on_progress=lambda _t: None)
            print(f"{'enable()':<24} {time.perf_counter() - start:7.1f} s   status {outcome.status}: "
                  f"{outcome.message} ({len(lines)} output lines)")
        print(f"{'max RSS':<24} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.1f} MiB")
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--enable", action="store_true", help="also time enable() (changes the lab)")
    parser.add_argument("--kubeconfig")
    args = parser.parse_args()
    if args.kubeconfig:
        asyncio.run(measure(args.kubeconfig, args.rounds, args.enable))
        return 0
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-checks-") as tmp:
        root = Path(tmp) / "lab"
        lab = [sys.executable, "-m", "etcdtui", "lab"]
        subprocess.run([*lab, "up", "--dir", str(root)], check=True, capture_output=True, timeout=180)
        try:
            asyncio.run(measure(str(root / "kubeconfig"), args.rounds, args.enable))
        finally:
            subprocess.run([*lab, "down", "--dir", str(root)], check=False, capture_output=True, timeout=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
