"""Fleet benchmark: `etcdtui check --all-contexts` over 3 labs + 1 refusing + 1 hanging context against a
single-context `etcdtui check`, run alternately; and the ring view's first populated table.

* fleet check: target <= 1.5 x the single-context check; the hanging context (accepts TCP, never answers)
  costs its `--timeout` (passed to both sides, default 3 s) and nothing more.
* also printed: the fleet of the 3 labs + the refusing context only (no hanging one), against the same single
  check, so the cost of running contexts concurrently is visible apart from the hanging one's timeout.
* also printed: the check process's own CPU for one context and for the fleet, apart from the labs' share.
* ring view first populated table: benchmarks/startup.py's measurement, the real command in a pseudo-terminal
  (target <= 600 ms on a quiet machine; startup.py prints its peers).
* fleet screen of the 3 labs (+ refusing + hanging): from the screen's mount to every lab row populated
  (target <= 1.5 s), in-process.

Starts 3 labs (`lab up --name lab|east|west` in a temp state dir) unless `--kubeconfig` gives a kubeconfig
holding several lab contexts (e.g. `etcdtui lab kubeconfig --all`).
Run: python benchmarks/fleet.py [--rounds N] [--timeout S] [--kubeconfig K] [--ring-view-runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_lab import compile_bytecode, timed, timed_with_cpu  # noqa: E402
from _fleet_contexts import HangingServer, refused_port, with_broken_contexts, write_kubeconfig  # noqa: E402

NAMES = ("lab", "east", "west")


async def fleet_screen_filled(kubeconfig: Path, labs: list[str]) -> float:
    """Seconds from the fleet screen's mount to every lab row showing a verdict (FleetWatch feeding it)."""
    from textual.app import App

    from etcdtui.engine.fleet_watch import FleetWatch
    from etcdtui.engine.snapshot import Verdict
    from etcdtui.ui.screens.fleet import FleetScreen

    screen = FleetScreen()

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(screen)

    contexts = [*labs, "refusing", "hanging"]
    async with Host().run_test(size=(160, 20)) as pilot:
        started = time.perf_counter()
        async with FleetWatch(str(kubeconfig), contexts, timeout=5.0, on_row=screen.put_row):
            while not all(c in screen.rows and screen.rows[c].verdict is not Verdict.UNKNOWN for c in labs) \
                    or not set(labs) <= set(screen.table.shown):
                await pilot.pause(0.01)
            return time.perf_counter() - started


def start_labs(state: Path) -> tuple[list[Path], str]:
    from etcdtui.lab.kubeconfigs import merged_kubeconfig
    from etcdtui.lab.layout import default_lab_dir
    from etcdtui.lab.lifecycle import start_lab

    os.environ["XDG_STATE_HOME"] = str(state)
    roots = [default_lab_dir(n) for n in NAMES]
    with ThreadPoolExecutor(len(NAMES)) as pool:
        for future in [pool.submit(start_lab, r, name=n, bastion=False, within=60) for r, n in zip(roots, NAMES, strict=True)]:
            future.result()
    doc = merged_kubeconfig([r / "kubeconfig" for r in roots])
    return roots, yaml.safe_dump(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=3.0, help="per-context --timeout for every check")
    parser.add_argument("--kubeconfig", help="kubeconfig with several lab contexts (default: start 3 labs)")
    parser.add_argument("--ring-view-runs", type=int, default=3, help="0 skips the ring view figure")
    args = parser.parse_args()
    compile_bytecode()
    tmp = tempfile.TemporaryDirectory(prefix="etcdtui-bench-fleet-")
    roots: list[Path] = []
    hanging = HangingServer()
    try:
        if args.kubeconfig:
            base = yaml.safe_load(Path(args.kubeconfig).read_text())
        else:
            roots, text = start_labs(Path(tmp.name) / "state")
            base = yaml.safe_load(text)
        labs = [c["name"] for c in base["contexts"]]
        full = write_kubeconfig(Path(tmp.name) / "fleet.kubeconfig",
                                with_broken_contexts(base, refused=refused_port(), hanging=hanging.port))
        env = {**os.environ, "KUBECONFIG": str(full)}
        check = [sys.executable, "-m", "etcdtui", "check", "--timeout", f"{args.timeout:g}"]
        sides = {
            "single": [*check, "--context", labs[0]],
            "fleet": [*check, "--all-contexts"],
            "fleet-no-hang": [*check, *(a for c in [*labs, "refusing"] for a in ("--context", c))],
        }
        times: dict[str, list[float]] = {k: [] for k in sides}
        cpus: dict[str, list[float]] = {k: [] for k in sides}
        for argv in sides.values():
            timed([argv], env)  # warm caches once
        for i in range(args.rounds):
            line = []
            for name, argv in sides.items():
                t, cpu, codes = timed_with_cpu([argv], env)
                rc = codes[0]
                times[name].append(t)
                cpus[name].append(cpu)
                line.append(f"{name} {t:.3f} s (rc {rc})")
            print(f"round {i + 1}: " + "   ".join(line))
        single = statistics.median(times["single"])
        fleet = statistics.median(times["fleet"])
        no_hang = statistics.median(times["fleet-no-hang"])
        print(f"median: single check {single:.3f} s; --all-contexts ({len(labs)} labs + refusing + hanging) "
              f"{fleet:.3f} s, ratio {fleet / single:.2f} (target <= 1.5); hanging timeout {args.timeout:g} s")
        print(f"median: {len(labs)} labs + refusing (no hanging) {no_hang:.3f} s, ratio {no_hang / single:.2f}")
        cpu_single, cpu_fleet = statistics.median(cpus["single"]), statistics.median(cpus["fleet-no-hang"])
        print(f"etcdtui's own CPU (user+sys of the check process): single {cpu_single:.3f} s, {len(labs)} labs + "
              f"refusing {cpu_fleet:.3f} s (+{(cpu_fleet - cpu_single) * 1000:.0f} ms); the rest of the wall time is "
              f"the labs' API servers, etcd and etcdctl sharing this machine's {os.cpu_count()} cores")
        if args.ring_view_runs:
            import startup  # benchmarks/startup.py: the ring view's time to its first populated table

            kubeconfig = Path(tmp.name) / "one.kubeconfig"
            one = dict(base, **{"current-context": labs[0]})
            write_kubeconfig(kubeconfig, one)
            firsts = [startup._time_app(str(kubeconfig), 3, 0.0)["startup_s"] for _ in range(args.ring_view_runs)]
            print(f"ring view first populated table: median {statistics.median(firsts) * 1000:.0f} ms "
                  f"of {args.ring_view_runs} (target <= 600 ms)")
        firsts = [asyncio.run(fleet_screen_filled(full, labs)) for _ in range(max(1, args.ring_view_runs))]
        print(f"fleet screen of {len(labs)} labs (+ refusing + hanging), all lab rows populated: median "
              f"{statistics.median(firsts) * 1000:.0f} ms of {len(firsts)} (target <= 1500 ms; in-process from "
              f"the screen's mount, without interpreter start-up)")
    finally:
        hanging.close()
        if roots:
            from etcdtui.lab.lifecycle import stop_lab

            for root in roots:
                stop_lab(root)
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
