"""Benchmark: `etcdtui lab up` until every member is healthy and every etcd pod Running, then `lab down`.

Five rounds in fresh temp dirs; prints each round and the median (target: median <= 5 s on 2 cores).
Run: python benchmarks/lab_up.py [--rounds N] [--members N]
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from etcdtui.lab.lifecycle import lab_processes, start_lab, stop_lab

TARGET_S = 5.0


def etcd_pods_running(state: dict[str, Any], root: Path) -> int:
    """Count etcd pods that the lab's own HTTPS API reports Running and ready (token + lab CA)."""
    ctx = ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))
    api = state["api"]
    req = urllib.request.Request(
        f"https://{api['host']}:{api['port']}/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd",
        headers={"Authorization": f"Bearer {state['token']}"},
    )
    with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:  # noqa: S310 - https to the lab only
        pods = json.load(resp)["items"]
    return sum(
        1 for p in pods
        if p["status"]["phase"] == "Running" and all(c["ready"] for c in p["status"]["containerStatuses"])
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--members", type=int, default=3)
    args = parser.parse_args()
    ups: list[float] = []
    downs: list[float] = []
    for i in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="etcdtui-bench-") as tmp:
            root = Path(tmp) / "lab"
            t0 = time.perf_counter()
            state = start_lab(root, members=args.members)
            while etcd_pods_running(state, root) < args.members:
                time.sleep(0.05)
            up = time.perf_counter() - t0
            t1 = time.perf_counter()
            stop_lab(root)
            down = time.perf_counter() - t1
            left = lab_processes(root)
        ups.append(up)
        downs.append(down)
        print(f"round {i}: lab up -> {args.members} healthy members, etcd pods Running: {up:.2f} s; "
              f"lab down: {down:.2f} s; processes left: {len(left)}")
    median = statistics.median(ups)
    print(f"lab up median over {len(ups)} rounds: {median:.2f} s (min {min(ups):.2f}, max {max(ups):.2f}); "
          f"target <= {TARGET_S:.0f} s: {'met' if median <= TARGET_S else 'MISSED'}")
    print(f"lab down median: {statistics.median(downs):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
