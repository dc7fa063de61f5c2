"""Startup and idle cost of the ring view on a lab: the real `etcdtui` command in a real terminal.

* startup: from spawning `etcdtui --kubeconfig LAB` in a pseudo-terminal of 160x45 to the moment its screen
  (read back with pyte, a terminal emulator) shows the populated table: every member's row with its member
  ID, its version and a hash verdict. Target (issue #12): <= 600 ms on a quiet machine.
  Beside it, in the same run and alternating with it: `kubectl get pods -n kube-system -l component=etcd -o
  wide` on the same lab, the time to the first pod-level rows (what kubectl prints), and the floor under it
  all: a minimal Textual app painting a 3-row table from constants (benchmarks/_textual_floor.py).
* idle CPU: the same process, left alone for `--idle` s after the table is populated (the engine keeps its
  watches open and polls etcdctl every 15 s, as in real use), user+sys CPU / wall time. Target <= 2 % of a core.

    python benchmarks/startup.py [--runs 7] [--idle 30] [--lab KUBECONFIG] [--baseline CHECKOUT]

`--baseline` also times another checkout's etcdtui (e.g. `git worktree add /tmp/base REV`), alternating with
this one in the same run, so a change is judged against the same machine noise.

Each figure is the median of `--runs`. Prints the figures; exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
from _bench_lab import compile_bytecode, lab_kubeconfig

TARGET_STARTUP_S = 0.6
TARGET_IDLE_CPU = 2.0  # percent of one core
COLUMNS, LINES = 160, 45
_ROW = re.compile(r"^\s*(etcd-\S+)\s+\d+/\d+\s+\S+")  # NAME READY STATUS: a pod-level row
_MEMBER_ID = re.compile(r"\b[0-9a-f]{12,16}\b")
_VERSION = re.compile(r"\b3\.\d+\.\d+\b")
_HASH = re.compile(r"✓ equal|✗ DIFFERS|\? inconclusive")  # every verdict of ui/format.hash_agreement


def _table_state(display: list[str]) -> tuple[int, int]:
    """(pod rows shown, rows with member ID, version and hash verdict) on the emulated screen."""
    rows = [line for line in display if _ROW.match(line)]
    full = [line for line in rows if _MEMBER_ID.search(line) and _VERSION.search(line) and _HASH.search(line)]
    return len(rows), len(full)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _time_app(kubeconfig: str, members: int, idle: float, checkout: str | None = None,
              argv: list[str] | None = None) -> dict[str, float]:
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    if checkout:
        env["PYTHONPATH"] = checkout
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command exactly as an operator types it
        command = argv or [sys.executable, "-m", "etcdtui", "--kubeconfig", kubeconfig]
        os.execvpe(command[0], command, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    figures: dict[str, float] = {}
    try:
        deadline = started + 60
        while "startup_s" not in figures:
            if time.perf_counter() > deadline:
                raise SystemExit("the ring view did not show a populated table within 60 s:\n"
                                 + "\n".join(screen.display))
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            now = time.perf_counter() - started  # when the terminal got it, before the emulator parses it
            stream.feed(chunk)
            rows, full = _table_state(screen.display)
            if rows >= members:
                figures.setdefault("pods_s", now)
            if full >= members:
                figures["startup_s"] = now
                figures["cpu_s"] = _cpu_seconds(pid)  # the process's CPU until then: less noisy than wall time
        if idle:
            cpu0, wall0 = _cpu_seconds(pid), time.perf_counter()
            end = wall0 + idle
            while (left := end - time.perf_counter()) > 0:  # keep draining the terminal, as a terminal does
                if select.select([fd], [], [], left)[0]:
                    os.read(fd, 1 << 16)
            figures["idle_cpu_pct"] = 100 * (_cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return figures


def _time_kubectl(kubeconfig: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-n", "kube-system", "-l", "component=etcd",
         "-o", "wide"],
        check=True, capture_output=True, timeout=60,
    )
    return time.perf_counter() - start


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--lab", metavar="KUBECONFIG", help="a running lab's kubeconfig (default: a fresh lab)")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--baseline", metavar="CHECKOUT", help="another checkout to time alternately")
    args = parser.parse_args()

    compile_bytecode(*([args.baseline] if args.baseline else []))
    kubectl, app, pods, base, floor, client_floor, cpu, base_cpu = [], [], [], [], [], [], [], []
    floor_argv = [sys.executable, str(Path(__file__).with_name("_textual_floor.py"))]
    client_argv = [*floor_argv, "--with-client"]
    idle_cpu = 0.0
    with lab_kubeconfig(args.lab, "etcdtui-bench-startup-") as kubeconfig:
        _time_app(kubeconfig, args.members, 0.0)  # warm the page cache once; not counted
        if args.baseline:
            _time_app(kubeconfig, args.members, 0.0, args.baseline)
        _time_app(kubeconfig, 3, 0.0, argv=floor_argv)
        for run in range(args.runs):
            kubectl.append(_time_kubectl(kubeconfig))
            floor.append(_time_app(kubeconfig, 3, 0.0, argv=floor_argv)["startup_s"])
            client_floor.append(_time_app(kubeconfig, 3, 0.0, argv=client_argv)["startup_s"])
            if args.baseline:
                other = _time_app(kubeconfig, args.members, 0.0, args.baseline)
                base.append(other["startup_s"])
                base_cpu.append(other["cpu_s"])
            last = run == args.runs - 1  # idle CPU once, on the last run
            figures = _time_app(kubeconfig, args.members, args.idle if last else 0.0)
            app.append(figures["startup_s"])
            cpu.append(figures["cpu_s"])
            pods.append(figures["pods_s"])
            idle_cpu = figures.get("idle_cpu_pct", idle_cpu)

    k, a, p = statistics.median(kubectl), statistics.median(app), statistics.median(pods)
    print(f"kubectl get pods -o wide:         {k * 1000:6.0f} ms  (median of {args.runs}: {_ms(kubectl)})")
    print(f"etcdtui first pod-level rows:     {p * 1000:6.0f} ms  (what kubectl prints; {p / k:.1f} x kubectl)")
    print(f"etcdtui first populated table:    {a * 1000:6.0f} ms  (median of {args.runs}: {_ms(app)}; "
          f"target <= {TARGET_STARTUP_S * 1000:.0f} ms; {a / k:.1f} x kubectl)")
    print(f"  its CPU until then:             {statistics.median(cpu) * 1000:6.0f} ms  (user+sys of the etcdtui process)")
    f = statistics.median(floor)
    print(f"minimal Textual app, 3-row table: {f * 1000:6.0f} ms  (median of {args.runs}: {_ms(floor)}; "
          "benchmarks/_textual_floor.py: no cluster, no kubernetes client, no etcdtui)")
    c = statistics.median(client_floor)
    print(f"  the same + the kubernetes client imported: {c * 1000:.0f} ms  (median of {args.runs}: {_ms(client_floor)}; "
          "no request made)")
    if base:
        b = statistics.median(base)
        print(f"baseline {args.baseline}: {b * 1000:6.0f} ms  (median of {args.runs}: {_ms(base)}; "
              f"this checkout / baseline {a / b:.2f}); its CPU {statistics.median(base_cpu) * 1000:.0f} ms "
              f"(ratio {statistics.median(cpu) / statistics.median(base_cpu):.2f})")
    print(f"idle CPU over {args.idle:g} s:             {idle_cpu:6.2f} %  of one core (target <= {TARGET_IDLE_CPU:g} %)")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}; "
          "the command is `python -m etcdtui --kubeconfig LAB` in a 160x45 pseudo-terminal")
    return 0 if a <= TARGET_STARTUP_S and idle_cpu <= TARGET_IDLE_CPU else 1


if __name__ == "__main__":
    raise SystemExit(main())
