"""Startup and idle cost of the ring view on the lab, against `kubectl get pods` in the same run.

* startup: from process start (`python -m ...` spawned by this script) to the first fully populated table
  (3 rows, each with a member ID, a version and a hash verdict), headless at 160x45; against
  `kubectl get pods -n kube-system -l component=etcd -o wide` on the same lab. Target ratio ≤ 3.
  Also printed: the time to the first pod-level rows (the same facts kubectl prints).
* idle CPU: the same app process, left alone for 30 s after the table is populated (the engine keeps its
  watches open and polls etcdctl every 15 s, as in real use), user+sys CPU / wall time. Target ≤ 2 % of a core.

    python benchmarks/startup.py [--runs 3] [--idle 30]

Each figure is the median of `--runs` (kubectl and the app alternate, so neither gets a warmer cache).
Prints the figures; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 3.0
TARGET_IDLE_CPU = 2.0  # percent of one core


def _child(kubeconfig: str, spawned_at: float, idle: float) -> None:
    """Runs in the spawned process: the app, headless, on the real engine."""
    from etcdtui.ui.app import make_app
    from etcdtui.ui.session import Connection, connected_services
    from etcdtui.ui.widgets.member_table import MemberTable

    async def run() -> dict[str, float]:
        async with connected_services(Connection(kubeconfig=kubeconfig)) as services:
            app = make_app(services)
            async with app.run_test(size=(160, 45)) as pilot:
                table = app.ring.query_one(MemberTable)
                pods_shown = None
                while not _populated(table):
                    if pods_shown is None and table.row_count == 3:
                        pods_shown = time.time() - spawned_at
                    await pilot.pause(0.02)
                populated = time.time() - spawned_at
                cpu0, wall0 = _cpu(), time.monotonic()
                await asyncio.sleep(idle)  # no pilot: the app is on its own, like a user watching
                cpu1, wall1 = _cpu(), time.monotonic()
                return {"startup_s": populated, "pods_s": pods_shown or populated, "idle_cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0),
                        "cells_updated": float(table.cells_updated)}

    print(json.dumps(asyncio.run(run())), flush=True)


def _populated(table: object) -> bool:
    from etcdtui.ui.widgets.member_table import MemberTable

    assert isinstance(table, MemberTable)
    if table.row_count != 3:
        return False
    keys = [str(k.value) for k in table.rows]
    return all(
        table.get_cell(k, "member").plain not in ("", "-")
        and table.get_cell(k, "version").plain not in ("", "-")
        and table.get_cell(k, "hash").plain not in ("", "-")
        for k in keys
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _lab(root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "etcdtui", "lab", args[0], "--dir", str(root), *args[1:]],
                   check=True, capture_output=True, timeout=180)


def _time_kubectl(kubeconfig: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-n", "kube-system", "-l", "component=etcd",
         "-o", "wide"],
        check=True, capture_output=True, timeout=60,
    )
    return time.perf_counter() - start


def _time_app(kubeconfig: Path, idle: float) -> dict[str, float]:
    spawned_at = time.time()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(kubeconfig), "--spawned-at", repr(spawned_at), "--idle", str(idle)],
        check=True, capture_output=True, text=True, timeout=120 + idle,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.spawned_at, args.idle)
        return 0

    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-") as tmp:
        root = Path(tmp) / "lab"
        _lab(root, "up")
        try:
            kubeconfig = root / "kubeconfig"
            kubectl, app, pods, idle_cpu = [], [], [], []
            for run in range(args.runs):
                kubectl.append(_time_kubectl(kubeconfig))
                # Idle CPU only on the last run: 30 s is enough once.
                figures = _time_app(kubeconfig, args.idle if run == args.runs - 1 else 0.0)
                app.append(figures["startup_s"])
                pods.append(figures["pods_s"])
                if run == args.runs - 1:
                    idle_cpu.append(figures["idle_cpu_pct"])
        finally:
            _lab(root, "down")

    k, a = statistics.median(kubectl), statistics.median(app)
    ratio = a / k
    cpu = idle_cpu[0]
    print(f"kubectl get pods -o wide:        {k * 1000:7.0f} ms  (median of {args.runs}: "
          f"{', '.join(f'{x * 1000:.0f}' for x in kubectl)})")
    print(f"etcdtui first populated table:   {a * 1000:7.0f} ms  (median of {args.runs}: "
          f"{', '.join(f'{x * 1000:.0f}' for x in app)})")
    print(f"ratio:                           {ratio:7.2f}     (target <= {TARGET_RATIO:g})")
    p = statistics.median(pods)
    print(f"etcdtui first pod-level rows:    {p * 1000:7.0f} ms  (what kubectl shows; ratio {p / k:.2f}; "
          "member IDs, versions and hashes need the etcdctl poll through exec)")
    print(f"idle CPU over {args.idle:g} s:            {cpu:7.2f} %   of one core (target <= {TARGET_IDLE_CPU:g} %)")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    return 0 if ratio <= TARGET_RATIO and cpu <= TARGET_IDLE_CPU else 1


if __name__ == "__main__":
    raise SystemExit(main())
