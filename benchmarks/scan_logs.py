"""Benchmark `etcdtui scan-logs` against `grep -ci corrupt` on a ≥ 500 MB log built from the real fixtures.

Targets (issue 2): scan time ≤ 4 × grep time, peak RSS of the scan ≤ 100 MB. Both commands run as a user
would run them (subprocesses) on the same file in the same run, after one untimed read that puts the file
in the page cache, so neither pays for the disk. Prints the figures; exits 1 if a target is missed.

Two logs, both made only of real fixture lines (tests/fixtures/etcd-logs, tests/fixtures/etcd-13766):

* `realistic`: closer to a long-running etcd log — mostly lines that are not evidence (every fixture
  line that `classify` ignores, in fixture order), with every fixture file inserted whole every 50 MB
  (all the corruption scenarios: ~0.3 % of the lines are evidence). Still pessimistic: the fixture runs
  restart a member every few hundred lines, so ~6 % of the lines are startup lines the scanner must read.
  The targets apply to this one.
* `dense`: all fixture lines repeated as they are: incident-only logs (every ~150 lines a restart, a
  corruption check or an alarm; 9 % of the lines are findings). Reported for honesty: this is the
  worst case, not the target.

    python benchmarks/scan_logs.py [--size-mb 500] [--only realistic|dense]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [ROOT / "tests" / "fixtures" / "etcd-logs", ROOT / "tests" / "fixtures" / "etcd-13766"]
RATIO_TARGET = 4.0
RSS_TARGET_MB = 100.0


def fixture_block() -> bytes:
    """Every line of every fixture log, in file order: the real mix of routine lines and evidence."""
    parts = []
    for directory in FIXTURES:
        for path in sorted(directory.glob("*.log")):
            data = path.read_bytes()
            parts.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(parts)


def background_block(block: bytes) -> bytes:
    """The fixture lines that are not evidence (what fills a long-running log between incidents)."""
    from etcdtui.core.classify import classify
    from etcdtui.core.logline import parse_line

    keep = [line for line in block.split(b"\n") if line and classify(parse_line(line)) is None]
    return b"\n".join(keep) + b"\n"


def build_log(path: Path, size_mb: int, mix: str) -> tuple[int, int]:
    evidence = fixture_block()
    filler = background_block(evidence) if mix == "realistic" else evidence
    target = size_mb * 1_000_000
    written = lines = 0
    next_evidence = 0
    with path.open("wb") as out:
        while written < target:
            if mix == "realistic" and written >= next_evidence:
                out.write(evidence)
                written += len(evidence)
                lines += evidence.count(b"\n")
                next_evidence += 50_000_000
            out.write(filler)
            written += len(filler)
            lines += filler.count(b"\n")
    return written, lines


def timed(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    return elapsed, done.returncode, done.stdout.decode(errors="replace")


def run(mix: str, size_mb: int, rounds: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-") as tmp:
        log = Path(tmp) / f"etcd-{mix}.log"
        size, lines = build_log(log, size_mb, mix)
        print(f"[{mix}] log: {size / 1e6:.0f} MB, {lines} lines, built from the fixture logs")
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        grep_times, scan_times, rss = [], [], 0
        for _ in range(rounds):  # alternate, keep the best of each: other jobs share this machine
            grep_s, grep_rc, grep_out = timed(["grep", "-ci", "corrupt", str(log)])
            scan_s, scan_rc, scan_out, scan_rss_kb = timed_rss([sys.executable, "-m", "etcdtui", "scan-logs", str(log)])
            grep_times.append(grep_s)
            scan_times.append(scan_s)
            rss = max(rss, scan_rss_kb)
    grep_s, scan_s = min(grep_times), min(scan_times)
    ratio = scan_s / grep_s
    rss_mb = rss / 1024
    print(f"[{mix}] grep -ci corrupt : {grep_s:7.2f} s  best of {rounds} ({grep_out.strip()} matching lines)")
    print(f"[{mix}] etcdtui scan-logs: {scan_s:7.2f} s  best of {rounds} (rc {scan_rc}: {scan_out.splitlines()[0]!r})")
    print(f"[{mix}] ratio scan/grep  : {ratio:7.2f}   (target <= {RATIO_TARGET}); all runs: scan "
          f"{', '.join(f'{t:.2f}' for t in scan_times)} s, grep {', '.join(f'{t:.2f}' for t in grep_times)} s")
    print(f"[{mix}] scan throughput  : {size / 1e6 / scan_s:7.0f} MB/s")
    print(f"[{mix}] scan peak RSS    : {rss_mb:7.1f} MB (target <= {RSS_TARGET_MB})")
    return ratio <= RATIO_TARGET and rss_mb <= RSS_TARGET_MB and scan_rc == 2


def timed_rss(argv: list[str]) -> tuple[float, int, str, int]:
    """Run one child and return (seconds, exit code, stdout, peak RSS in KiB of exactly that child)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child only (Linux: ru_maxrss in KiB)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return elapsed, proc.returncode, text, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--only", choices=["realistic", "dense"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {mix: run(mix, args.size_mb, args.rounds) for mix in ("realistic", "dense") if args.only in (None, mix)}
    met = results.get("realistic", True)
    print("RESULT:", "targets met on the realistic log" if met else "TARGET MISSED on the realistic log")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
