"""The fleet screen from real labs: 3 labs (`lab up --name lab|east|west`), a context whose API refuses and
one that hangs, watched by FleetWatch; `lab corrupt` on `west` -> its row CORRUPTION at the top -> fleet.svg.

The fleet screen runs in `FleetApp` (etcdtui/ui/fleet_session.py) on a FleetWatch, as `etcdtui --all-contexts`.
Run through `python scripts/screenshots.py --only fleet` or directly: `python scripts/screenshots_fleet.py`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _fleet_contexts import HangingServer, refused_port, with_broken_contexts, write_kubeconfig  # noqa: E402

from etcdtui.engine.fleet_summary import FleetRow  # noqa: E402
from etcdtui.engine.fleet_watch import FleetWatch  # noqa: E402
from etcdtui.engine.snapshot import Verdict  # noqa: E402
from etcdtui.lab.kubeconfigs import merged_kubeconfig  # noqa: E402
from etcdtui.lab.lifecycle import start_lab, stop_lab  # noqa: E402
from etcdtui.ui.fleet_session import FleetApp  # noqa: E402

NAMES = ("lab", "east", "west")


def shoot_fleet(out: Path, size: tuple[int, int], to_png: Callable[[Path], None]) -> None:
    """Labs start and stop outside the event loop (their CLI is synchronous)."""
    with tempfile.TemporaryDirectory(prefix="etcdtui-shots-fleet-") as tmp:
        roots = [Path(tmp) / name for name in NAMES]
        hanging = HangingServer()
        try:
            with ThreadPoolExecutor(len(NAMES)) as pool:
                for future in [pool.submit(start_lab, r, name=n, bastion=False, within=60)
                               for r, n in zip(roots, NAMES, strict=True)]:
                    future.result()
            doc = with_broken_contexts(merged_kubeconfig([r / "kubeconfig" for r in roots]),
                                       refused=refused_port(), hanging=hanging.port)
            kubeconfig = write_kubeconfig(Path(tmp) / "fleet.kubeconfig", doc)
            asyncio.run(_shoot(kubeconfig, [c["name"] for c in doc["contexts"]], roots[2], out, size))
        finally:
            hanging.close()
            for root in roots:
                if root.exists():
                    stop_lab(root)
    print(f"wrote {out / 'fleet.svg'}")
    to_png(out / "fleet.svg")


async def _shoot(kubeconfig: Path, contexts: list[str], west: Path, out: Path, size: tuple[int, int]) -> None:
    watch = FleetWatch(str(kubeconfig), contexts, poll_interval=3.0, timeout=5.0)
    app = FleetApp(watch)
    async with app.run_test(size=size) as pilot:
        async with watch:
            await wait_for(pilot, lambda: all(r.verdict is not Verdict.UNKNOWN for r in watch.rows.values()
                                              if r.context.startswith("etcdtui-")), 60, "lab rows")
            await asyncio.to_thread(subprocess.run, [
                sys.executable, "-m", "etcdtui", "lab", "corrupt", "lab-cp-2", "--dir", str(west)],
                check=True, capture_output=True, timeout=60)
            await wait_for(pilot, lambda: top(watch) == ("etcdtui-west", Verdict.CORRUPTION), 60,
                           "west CORRUPTION at the top")
            await pilot.pause(0.5)
            app.save_screenshot("fleet.svg", path=str(out))


def top(watch: FleetWatch) -> tuple[str, Verdict] | None:
    rows: list[FleetRow] = sorted(watch.rows.values(), key=lambda r: (r.rank, r.context))
    return (rows[0].context, rows[0].verdict) if rows else None


async def wait_for(pilot, ready: Callable[[], bool], within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: fleet: {what} not there after {within:g}s")
        await pilot.pause(0.2)


if __name__ == "__main__":
    from screenshots import ROOT, to_png  # scripts/ is on sys.path when run as a script

    os.environ.setdefault("TZ", "UTC")
    shoot_fleet(ROOT / "screenshots", (160, 20), to_png)
