"""Regenerate the README screenshots from a real lab: `python scripts/screenshots.py [--out screenshots]`.

1. `etcdtui lab up` (checks off) -> the healthy ring         -> healthy-ring.svg
2. `etcdtui lab up --corrupt-checks on` + `lab corrupt lab-cp-2`, wait for CORRUPTION -> corrupted-ring.svg
3. `etcdtui lab up` -> the checks screen, then Enable through the lab's kubeone -> checks-before.svg, checks-after.svg
   (`scripts/screenshots_checks.py`).
4. `etcdtui lab up --corrupt-checks on` + `lab corrupt lab-cp-2` -> `R`, every step through the dialogs
   -> replace-midrun.svg (kubeone apply running), replace-done.svg (`scripts/screenshots_replace.py`).
5. `etcdtui lab up --corrupt-checks on` + `lab corrupt lab-cp-2` -> the logs screen -> logs-corruption.svg
   (`scripts/screenshots_logs.py`).
6. `etcdtui lab up --corrupt-checks on` + `lab incident 13766` -> the ring view naming the victim -> incident-13766.svg.
7. `etcdtui lab up` -> `b` -> backup-taken.svg; `lab destroy-node lab-cp-2` -> `R` -> replace-dead-variant.svg,
   replace-dead-waiting.svg (waiting for the fresh machine), `lab provision-node` -> replace-dead-done.svg
   (`scripts/screenshots_dead_machine.py`).
`--only ring|incident|logs|checks|replace|dead-machine|fleet` regenerates one group.
Each SVG also becomes a PNG when `rsvg-convert` is installed (Debian: librsvg2-bin, fonts-firacode).
The app runs headless at 160x45 through `run_test`, exactly as the Pilot tests drive it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from etcdtui.engine.snapshot import RingSnapshot, Verdict
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.session import Connection, connected_services
from etcdtui.ui.widgets.member_table import MemberTable

SIZE = (160, 45)
ROOT = Path(__file__).resolve().parents[1]


def lab(root: Path, command: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "etcdtui", "lab", command, "--dir", str(root), *args],
        capture_output=True, text=True, timeout=180, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"screenshots: lab {command} failed: {(done.stderr or done.stdout).strip()}")


@contextmanager
def running_lab(*up_args: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="etcdtui-shots-") as tmp:
        root = Path(tmp) / "lab"
        lab(root, "up", *up_args)
        try:
            yield root
        finally:
            lab(root, "down")


async def shoot(
    kubeconfig: Path,
    out: Path,
    name: str,
    ready: Callable[[RingSnapshot], bool],
    wait_s: float,
    select: str | Callable[[RingSnapshot], str | None] | None = None,
    before: Callable[[], None] | None = None,
) -> None:
    async with connected_services(Connection(kubeconfig=str(kubeconfig), poll_interval=3)) as services:
        app: EtcdTuiApp = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            if before:
                await asyncio.to_thread(before)
            deadline = time.monotonic() + wait_s
            while not (app.ring.snapshot and ready(app.ring.snapshot)):
                if time.monotonic() > deadline:
                    snap = app.ring.snapshot
                    raise SystemExit(f"screenshots: {name}: not ready after {wait_s:g}s "
                                     f"(verdict {snap.verdict if snap else None})")
                await pilot.pause(0.2)
            key = select(app.ring.snapshot) if callable(select) else select
            if key:
                table = app.ring.query_one(MemberTable)
                table.move_cursor(row=table.get_row_index(key))
            await pilot.pause(0.3)
            app.save_screenshot(f"{name}.svg", path=str(out))
    print(f"wrote {out / (name + '.svg')}")
    to_png(out / f"{name}.svg")


def to_png(svg: Path) -> None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("rsvg-convert not found: SVG only (apt-get install librsvg2-bin fonts-firacode)")
        return
    # librsvg collapses the leading spaces of Rich's text runs unless told to preserve them.
    fixed = svg.with_suffix(".preserve.svg")
    fixed.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
    try:
        subprocess.run([converter, "-z", "1", str(fixed), "-o", str(svg.with_suffix(".png"))], check=True)
    finally:
        fixed.unlink()
    print(f"wrote {svg.with_suffix('.png')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--only", choices=("ring", "incident", "logs", "checks", "replace", "dead-machine", "fleet"),
                        help="regenerate one group of screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "ring"):
        shoot_ring(args.out)
    if args.only in (None, "incident"):
        shoot_incident(args.out)
    if args.only in (None, "logs"):
        from screenshots_logs import shoot_logs  # scripts/ is on sys.path when run as a script

        with running_lab("--corrupt-checks", "on") as root:
            asyncio.run(shoot_logs(root, args.out, SIZE, to_png))
    if args.only in (None, "checks"):
        from screenshots_checks import shoot_checks  # scripts/ is on sys.path when run as a script

        with running_lab() as root:
            asyncio.run(shoot_checks(root / "kubeconfig", args.out, SIZE, to_png))
    if args.only in (None, "replace"):
        from screenshots_replace import shoot_replace

        with running_lab("--corrupt-checks", "on") as root:
            lab(root, "corrupt", "lab-cp-2")
            asyncio.run(shoot_replace(root, args.out, SIZE, to_png))
    if args.only in (None, "dead-machine"):
        from screenshots_dead_machine import shoot_dead_machine  # b, destroy-node, R, provision-node

        with running_lab() as root:
            asyncio.run(shoot_dead_machine(root, args.out, SIZE, to_png))
    if args.only in (None, "fleet"):
        from screenshots_fleet import shoot_fleet  # 3 labs + a refusing and a hanging context

        shoot_fleet(args.out, (SIZE[0], 20), to_png)
    return 0


def shoot_ring(out: Path) -> None:
    def complete(snap: RingSnapshot) -> bool:
        return snap.complete and len(snap.rows) == 3

    with running_lab() as root:
        asyncio.run(shoot(root / "kubeconfig", out, "healthy-ring", complete, 60))

    def corrupted(snap: RingSnapshot) -> bool:
        return snap.verdict is Verdict.CORRUPTION and len(snap.rows) == 3

    with running_lab("--corrupt-checks", "on") as root:
        asyncio.run(shoot(root / "kubeconfig", out, "corrupted-ring", corrupted, 120,
                          select="etcd-lab-cp-2", before=lambda: lab(root, "corrupt", "lab-cp-2")))


def shoot_incident(out: Path) -> None:
    """etcd #13766 reproduced for real (`lab incident 13766`), and the ring view naming the member that lost a write."""

    def diverged(snap: RingSnapshot) -> bool:
        return snap.verdict is Verdict.CORRUPTION and any(r.hash_agrees is False for r in snap.rows)

    def victim(snap: RingSnapshot) -> str | None:
        return next((r.pod_name for r in snap.rows if r.hash_agrees is False), None)

    with running_lab("--corrupt-checks", "on") as root:
        lab(root, "incident", "13766")
        asyncio.run(shoot(root / "kubeconfig", out, "incident-13766", diverged, 120, select=victim))


if __name__ == "__main__":
    raise SystemExit(main())
