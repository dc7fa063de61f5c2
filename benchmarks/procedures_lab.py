"""Benchmark: the three procedures of issue #13 end to end on a real lab, through the real headless commands.

One lab (`etcdtui lab up --dir <tmp>`), then, --runs times each, in this order:

1. `etcdtui backup -o FILE`: the whole command (connect, poll, snapshot over exec + ssh, etcdutl verify).
2. Dead machine: `lab destroy-node lab-cp-2`, then `etcdtui replace lab-cp-2 --confirm etcdtui-lab`; the moment
   it prints that it waits for the fresh machine, `lab provision-node lab-cp-2` (the operator's terraform apply).
   Printed: the whole run, and the run minus the provisioning (what etcdtui itself spends).
3. Quorum lost: keys, `etcdtui backup`, `lab lose-quorum`, `etcdtui recover --snapshot FILE --confirm etcdtui-lab`.

Medians (and min/max) per procedure. The lab's own steps (fill, destroy, lose-quorum) are not timed.
Run: python benchmarks/procedures_lab.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTEXT = "etcdtui-lab"
NODE = "lab-cp-2"


def run(*argv: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "etcdtui", *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return done


def lab(root: Path, command: str, *args: str) -> None:
    run("lab", command, "--dir", str(root), *args)


def timed_backup(root: Path, out: Path) -> float:
    started = time.perf_counter()
    run("backup", "-o", str(out), "--kubeconfig", str(root / "kubeconfig"))
    return time.perf_counter() - started


def timed_dead_machine(root: Path, state: Path, log: Path) -> tuple[float, float]:
    """(whole run, run minus the provisioning the operator does)."""
    lab(root, "destroy-node", NODE)
    with log.open("w") as fh:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "etcdtui", "replace", NODE, "--confirm", CONTEXT, "--kubeconfig",
             str(root / "kubeconfig"), "--state-dir", str(state), "--wait-machine", "300"],
            stdout=fh, stderr=subprocess.STDOUT)
        while "waiting for a fresh machine" not in log.read_text():
            if proc.poll() is not None:
                raise SystemExit(f"replace ended early: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        provision_started = time.perf_counter()
        lab(root, "provision-node", NODE)
        provisioning = time.perf_counter() - provision_started
        if proc.wait(600) != 0:
            raise SystemExit(f"replace failed: {log.read_text()[-2000:]}")
    whole = time.perf_counter() - started
    return whole, whole - provisioning


def timed_recover(root: Path, state: Path, snap: Path) -> float:
    lab(root, "fill", "lab-cp-1", "--mb", "1")
    run("backup", "-o", str(snap), "--kubeconfig", str(root / "kubeconfig"))
    lab(root, "fill", "lab-cp-1", "--mb", "1")  # written after the backup: reported lost
    lab(root, "lose-quorum")
    started = time.perf_counter()
    run("recover", "--snapshot", str(snap), "--confirm", CONTEXT, "--kubeconfig", str(root / "kubeconfig"),
        "--state-dir", str(state))
    return time.perf_counter() - started


def line(name: str, values: list[float]) -> str:
    return (f"{name:<44} median {statistics.median(values):7.1f} s   min {min(values):7.1f} s   "
            f"max {max(values):7.1f} s   runs {len(values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each procedure (default 1; backup: 3x this)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-procedures-") as tmp:
        root, state = Path(tmp) / "lab", Path(tmp) / "state"
        lab(root, "up")
        try:
            lab(root, "fill", "lab-cp-1", "--mb", "8")
            backups = [timed_backup(root, Path(tmp) / f"b{i}.db") for i in range(3 * args.runs)]
            dead = [timed_dead_machine(root, state, Path(tmp) / f"replace{i}.log") for i in range(args.runs)]
            recover = [timed_recover(root, state, Path(tmp) / f"r{i}.db") for i in range(args.runs)]
        finally:
            lab(root, "down")
    print(f"3-member lab (etcd 3.5.1, its Kubernetes API, sshd per node), {args.runs} run(s) per procedure")
    print(line("etcdtui backup (8+ MiB ring)", backups))
    print(line("dead-machine replace, headless, whole", [w for w, _ in dead]))
    print(line("dead-machine replace, minus provisioning", [e for _, e in dead]))
    print(line("recover --snapshot (quorum lost), headless", recover))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
