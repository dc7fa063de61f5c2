"""Benchmark: etcd #13766 in the lab, N times: kills needed per divergence, seconds from the last kill to
etcdtui's detection, and whether etcd's own corruption checks had said anything by then.

Each run: a fresh lab (3 etcd 3.5.1 members, etcd's corruption checks on: startup check and a 5 s periodic
check), `Incident13766` (range-compare load, SIGKILL, kubelet restart, repeat until a member really lost a
write), then `etcdtui check --json` as a subprocess, repeated until it reports CORRUPTION naming the member
the incident found (key counts per member). etcd's own detection lines (`checkInitialHashKV failed`,
`found different hash values from remote peer`, `same compact revision then hashes must match`,
`alarm raised`, ...) are looked up in every member's log at that moment.
Run: python benchmarks/incident_13766.py [--runs 10] [--max-kills 10] [--snapshot-count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from etcdtui.lab.incident_evidence import etcd_detections
from etcdtui.lab.incident_scenario import Incident13766, IncidentResult
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.lifecycle import start_lab, stop_lab

DETECTION_PATIENCE = 60.0


def check_names(kubeconfig: Path) -> tuple[str, set[str]]:
    """`etcdtui check --json`: its status and the members its hash comparison names."""
    done = subprocess.run([sys.executable, "-m", "etcdtui", "check", "--kubeconfig", str(kubeconfig), "--json"],
                          capture_output=True, text=True, check=False, timeout=90)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return "UNREADABLE", set()
    every = [f for m in report["members"] for f in m["findings"]] + report["findings"]
    return report["status"], {f["member"] for f in every if f["kind"] == "corruption.hash_mismatch"}


def one_run(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    start_lab(root, corrupt_checks="on")
    layout = LabLayout(root)
    try:
        scenario = Incident13766(layout, node=None, max_kills=args.max_kills, clients=args.clients, keys=args.keys,
                                 progress=lambda _line: None, snapshot_count=args.snapshot_count)
        result: IncidentResult = asyncio.run(scenario.run())
        row: dict[str, Any] = {"kills": len(result.kills), "diverged": result.diverged, "victim": result.victim,
                               "txn_per_s": result.load.get("txn_per_s"),
                               "initial_check_passed": result.initial_check_passed}
        if not result.diverged:
            return row
        last_kill = result.kills[-1].at
        deadline = time.time() + DETECTION_PATIENCE
        while time.time() < deadline:
            status, named = check_names(layout.kubeconfig)
            if status == "CORRUPTION" and named == {result.victim}:
                row["detect_after_kill_s"] = round(time.time() - last_kill, 1)
                row["detect_after_load_stop_s"] = round(time.time() - result.load_stopped_at, 1)
                break
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(result.kills[0].at))
        row["etcd_said"] = etcd_detections(layout, ["lab-cp-1", "lab-cp-2", "lab-cp-3"], since)
        return row
    finally:
        stop_lab(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--max-kills", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--snapshot-count", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-13766-") as tmp:
        for i in range(1, args.runs + 1):
            started = time.monotonic()
            row = one_run(Path(tmp) / f"lab{i}", args)
            row["wall_s"] = round(time.monotonic() - started, 1)
            rows.append(row)
            print(f"run {i:2d}: kills {row['kills']:2d}  diverged {'yes' if row['diverged'] else 'NO '}  "
                  f"victim {row.get('victim') or '-':<9} detected {row.get('detect_after_kill_s', '-')} s after "
                  f"the last kill ({row.get('detect_after_load_stop_s', '-')} s after the load stopped)  "
                  f"etcd's startup check passed: {row.get('initial_check_passed')}  "
                  f"etcd said: {'; '.join(row.get('etcd_said') or []) or 'nothing'}  "
                  f"[{row.get('txn_per_s')} txn/s, {row['wall_s']} s]", flush=True)
    hits = [r for r in rows if r["diverged"]]
    detected = [r["detect_after_kill_s"] for r in hits if "detect_after_kill_s" in r]
    print(f"\n{len(hits)}/{len(rows)} runs diverged; kills per divergence: "
          f"{', '.join(str(r['kills']) for r in hits) or '-'} "
          f"(mean {statistics.mean([r['kills'] for r in hits]) if hits else 0:.1f})")
    if detected:
        print(f"etcdtui detected {len(detected)}/{len(hits)}: seconds from the last kill to CRITICAL "
              f"median {statistics.median(detected):.1f}, max {max(detected):.1f}")
    said = sum(1 for r in hits if r.get("etcd_said"))
    passed = sum(1 for r in hits if r.get("initial_check_passed"))
    print(f"etcd's own checks had said anything by then in {said}/{len(hits)} runs; its startup check "
          f"passed on the victim in {passed}/{len(hits)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
