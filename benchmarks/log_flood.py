"""Benchmark: the logs screen under a flood, the store with 1M lines, and the history scan on the lab.

1. Flood: the real app (`make_app` on fixed ring data) runs headless with the logs screen open; a replay
   source feeds the real fixture lines (tests/fixtures/etcd-logs/*.log, re-stamped with a kubelet prefix)
   at MEMBERS × RATE lines/s for SECONDS, parsed and classified on ingest like live lines. Meanwhile a
   "user" scrolls up and down, sets and clears filters and finds. Prints lines ingested/s, how far behind
   the source fell, p99/max event-loop lag (a 10 ms timer), CPU, peak RSS, dropped lines.
2. Retained: a store with 1,000,000 lines (replayed fixture lines); prints RSS and the time of a full
   refilter and of rendering a screen.
3. History scan (`--history`): a fresh lab with 3 members, each member's current log grown to MB
   megabytes of fixture lines; a new LogEngine fetches and classifies all of it; prints the time.

Run: python benchmarks/log_flood.py [--rate 5000] [--members 3] [--seconds 30] [--retain 1000000] [--history] [--mb 10]
Targets (issue #5): keeps up with 15,000 lines/s; p99 loop lag <= 50 ms while scrolling and filtering;
peak RSS <= 300 MB with 1,000,000 lines retained; history of 3 x 10 MB in <= 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from etcdtui.core.log_filter import LogFilter
from etcdtui.core.logstore import LogStore
from etcdtui.core.scan import LogScanner
from etcdtui.engine.log_ingest import to_entries
from etcdtui.engine.log_replay import Replay, kubelet_prefix, read_lines
from etcdtui.ui.app import make_app
from etcdtui.ui.screens.logs import LogsScreen, StoreSource

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))  # the fixed ring data lives with the UI tests
import fixed_ring as fixtures  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "etcd-logs"


def fixture_lines() -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(FIXTURES.glob("*.log")):
        lines += [line for line in read_lines(path) if line.startswith(b"{")]  # zap lines (3.5 fixtures)
    return lines


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20  # MiB, like ru_maxrss


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class LagProbe:
    """A 10 ms timer on the loop; lateness of each wake-up is the loop lag."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.lags.append(max(0.0, loop.time() - due))

    def p99_ms(self) -> float:
        return statistics.quantiles(self.lags, n=100)[98] * 1000 if len(self.lags) > 100 else float("nan")


async def flood(rate: float, members: int, seconds: float) -> None:
    lines = fixture_lines()
    store = LogStore()
    names = [f"etcd-lab-cp-{i + 1}" for i in range(members)]
    for name in names:
        store.member_id(name)
    app = make_app(fixtures.fixed_services(fixtures.healthy_ring(), context_label="bench"))
    screen = LogsScreen(StoreSource(store, dict.fromkeys(names, "live")), context="bench")
    replay = Replay(store, names, lines, rate=rate)
    probe = LagProbe()
    async with app.run_test(size=(160, 50)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        cpu0, wall0 = time.process_time(), time.monotonic()
        probe_task = asyncio.create_task(probe.run())
        feed = asyncio.create_task(replay.run(seconds))
        actions = 0
        user_lags: list[float] = []
        while not feed.done():
            await asyncio.sleep(0.5)
            n = len(probe.lags)
            step = actions % 6
            if step == 0:
                await pilot.press("pageup", "pageup", "up", "up")  # scroll back: follow pauses
            elif step == 1:
                screen.apply_filter(LogFilter(pattern=r"apply request|hash|peer", regex=True))
            elif step == 2:
                screen.set_find("raft")
                await pilot.press("n", "n")
            elif step == 3:
                screen.apply_filter(LogFilter(min_level=2))
            elif step == 4:
                screen.apply_filter(LogFilter())
                screen.set_find("")
            else:
                await pilot.press("end")  # back to follow
            actions += 1
            user_lags += probe.lags[n:]
        await feed
        wall = time.monotonic() - wall0
        await asyncio.sleep(1.0)  # let the reordering window drain
        cpu = time.process_time() - cpu0
        probe_task.cancel()
        ingested = store.total_lines + store.dropped_lines
        offered = replay.offered
        print(f"flood: {members} members x {rate:.0f} lines/s for {seconds:.0f} s (offered {offered} lines)")
        print(f"  lines ingested/s: {replay.ingested / wall:,.0f} (offered {offered / seconds:,.0f}/s)")
        print(f"  behind: source {offered - replay.ingested} lines at the end; store pending {store.pending}; "
              f"released {ingested}")
        print(f"  loop lag (10 ms timer) p99 {probe.p99_ms():.1f} ms, max {max(probe.lags) * 1000:.1f} ms; "
              f"while scrolling/filtering p99 "
              f"{statistics.quantiles(user_lags, n=100)[98] * 1000:.1f} ms ({actions} user actions)")
        print(f"  CPU {cpu:.1f} s over {wall + 1:.1f} s wall ({100 * cpu / (wall + 1):.0f}% of one core)")
        print(f"  RSS now {rss_mb():.0f} MiB, peak {peak_rss_mb():.0f} MiB; dropped lines {store.dropped_lines}; "
              f"late lines {store.late_lines}; screen repaints {screen.repaints}")


def retained(count: int) -> None:
    lines = fixture_lines()
    base = rss_mb()
    store = LogStore(max_lines=count + 10, max_bytes=1 << 40, reorder_window=0)
    scanners = [LogScanner(f"m{i}", f"m{i}") for i in range(3)]
    start = time.monotonic()
    batch = 5000
    now = time.time() - count / 1000
    for done in range(0, count, batch):
        member = (done // batch) % 3
        prefix = kubelet_prefix(now + done / 1000)
        chunk = [prefix + lines[(done + i) % len(lines)] for i in range(min(batch, count - done))]
        store.add(to_entries(f"etcd-lab-cp-{member + 1}", chunk, scanners[member]), 0.0)
        store.release(1.0)
    gc.collect()
    took = time.monotonic() - start
    print(f"retained: {store.total_lines:,} lines, {store.total_bytes / 2**20:.0f} MiB of text, ingested in "
          f"{took:.1f} s ({store.total_lines / took:,.0f} lines/s parse+classify+store)")
    print(f"  RSS {rss_mb():.0f} MiB (process before the store {base:.0f} MiB), peak {peak_rss_mb():.0f} MiB")
    t = time.monotonic()
    store.set_filter(LogFilter(pattern="hash", regex=False))
    print(f"  full refilter of 1M lines: {time.monotonic() - t:.2f} s (the UI does it in steps of 2k lines, "
          f"yielding between), {len(store):,} match")
    store.set_filter(LogFilter())
    asyncio.run(_browse(store))


async def _browse(store: LogStore, seconds: float = 15.0) -> None:
    """The real app on the retained store: scroll, filter, find, jump, while a 10 ms timer measures lag."""
    app = make_app(fixtures.fixed_services(fixtures.healthy_ring(), context_label="bench"))
    screen = LogsScreen(StoreSource(store, dict.fromkeys(store.members, "live")), context="bench")
    probe = LagProbe()
    async with app.run_test(size=(160, 50)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        task = asyncio.create_task(probe.run())
        end = time.monotonic() + seconds
        actions = 0
        while time.monotonic() < end:
            step = actions % 5
            if step == 0:
                await pilot.press("home", "pagedown", "pagedown", "end", "pageup")
            elif step == 1:
                screen.apply_filter(LogFilter(pattern=r"hash|alarm", regex=True))
            elif step == 2:
                screen.set_find("peer")
                await pilot.press("n", "N")
            elif step == 3:
                await pilot.press("right_square_bracket", "left_square_bracket")
            else:
                screen.apply_filter(LogFilter())
            actions += 1
            await asyncio.sleep(0.5)
        task.cancel()
    print(f"  app on the 1M-line store, {actions} user actions in {seconds:.0f} s: loop lag p99 {probe.p99_ms():.1f} ms, "
          f"max {max(probe.lags) * 1000:.1f} ms; RSS {rss_mb():.0f} MiB, peak {peak_rss_mb():.0f} MiB")


def history(mb: float) -> None:
    from etcdtui.lab.layout import LabLayout
    from etcdtui.lab.lifecycle import start_lab, stop_lab

    lines = fixture_lines()
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-") as tmp:
        root = Path(tmp) / "lab"
        start_lab(root)
        try:
            layout = LabLayout(root)
            for pod in ("etcd-lab-cp-1", "etcd-lab-cp-2", "etcd-lab-cp-3"):
                files = sorted(layout.container_logs_dir(pod).iterdir(), key=lambda p: p.stat().st_mtime)
                out: list[bytes] = []
                size = 0
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z").encode()
                while size < mb * 1e6:
                    line = stamp + b" stderr F " + lines[len(out) % len(lines)] + b"\n"
                    out.append(line)
                    size += len(line)
                _append(files[-1], b"".join(out))  # the current run's CRI file, grown as a busy member's
            asyncio.run(_scan_history(layout.kubeconfig))
        finally:
            stop_lab(root)


async def _scan_history(kubeconfig: Path) -> None:
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.log_engine import LogEngine

    conn = await ClusterConnection.open(kubeconfig=str(kubeconfig))
    engine = LogEngine(conn)
    t = time.monotonic()
    cpu = time.process_time()
    await engine.start()
    done = await engine.wait_history(60)
    took = time.monotonic() - t
    progress = engine.history_progress()
    lines_read = sum(p[1] for p in progress.values())
    bytes_read = sum(p[0] for p in progress.values())
    findings = sum(c.findings for c in engine.store.counts.values())
    print(f"history scan: {len(progress)} members, {bytes_read / 1e6:.1f} MB / {lines_read:,} lines fetched, "
          f"parsed, classified and merged in {took:.2f} s (complete: {done}; CPU {time.process_time() - cpu:.2f} s); "
          f"{len(engine.store):,} lines in the store, {findings} findings; RSS {rss_mb():.0f} MiB")
    await engine.stop()
    await conn.close()


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=5000.0, help="lines/s per member")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--retain", type=int, default=1_000_000)
    parser.add_argument("--history", action="store_true", help="also the history scan on a fresh lab")
    parser.add_argument("--mb", type=float, default=10.0, help="MB of log per member for --history")
    parser.add_argument("--skip-flood", action="store_true")
    args = parser.parse_args()
    if not args.skip_flood:
        asyncio.run(flood(args.rate, args.members, args.seconds))
    if args.history:
        history(args.mb)
    if args.retain:
        retained(args.retain)  # last: it makes the process big
    return 0


if __name__ == "__main__":
    sys.exit(main())
