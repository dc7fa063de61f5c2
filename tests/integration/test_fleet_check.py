"""`etcdtui check --all-contexts` on a real fleet: three labs started side by side with `lab up --name`, plus a
context whose API refuses, one that hangs (accepts TCP, never answers) and one that rejects the credentials.

The three labs are started once for the module, concurrently (the expensive part); the tests run in order and
the last one corrupts a lab.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from etcdtui.engine.fleet_summary import FleetRow, worst_first
from etcdtui.engine.fleet_watch import FleetWatch
from etcdtui.engine.snapshot import Verdict
from etcdtui.lab.layout import default_lab_dir
from etcdtui.lab.lifecycle import lab_processes, start_lab, stop_lab
from etcdtui.lab.ports import ephemeral_range
from etcdtui.ui.app import make_app
from etcdtui.ui.config import UiConfig
from etcdtui.ui.fleet_session import FleetApp, ring_services
from etcdtui.ui.navigation import BACK_TO_FLEET, FLEET_RING_VIEW
from etcdtui.ui.session import Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _fleet_contexts import HangingServer, refused_port, with_broken_contexts, write_kubeconfig  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NAMES = ("lab", "east", "west")
TIMEOUT = 6.0  # per context: what the hanging one may cost


def etcdtui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etcdtui", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three labs in the default places of a private state dir, started concurrently; a merged kubeconfig
    from `lab kubeconfig --all` with the three broken contexts added."""
    state = tmp_path_factory.mktemp("fleet-state")
    env = {**os.environ, "XDG_STATE_HOME": str(state), "HOME": "/nonexistent-home"}
    env.pop("KUBECONFIG", None)
    old_state = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(state)  # default_lab_dir() below and in start_lab's daemon
    roots = [default_lab_dir(name) for name in NAMES]
    hanging = HangingServer()
    try:
        with ThreadPoolExecutor(len(NAMES)) as pool:
            futures = [pool.submit(start_lab, root, name=name, bastion=False, within=60)
                       for root, name in zip(roots, NAMES, strict=True)]
            states = [f.result() for f in futures]
        merged = etcdtui("lab", "kubeconfig", "--all", env=env)
        assert merged.returncode == 0, merged.stderr
        doc = with_broken_contexts(yaml.safe_load(merged.stdout), refused=refused_port(), hanging=hanging.port,
                                   bad_token=True)
        kubeconfig = write_kubeconfig(state / "fleet.kubeconfig", doc)
        yield {"env": env, "roots": roots, "states": states, "kubeconfig": kubeconfig, "merged": merged.stdout}
    finally:
        hanging.close()
        for root in roots:
            if root.exists():
                stop_lab(root)
            assert not lab_processes(root)
        if old_state is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = old_state


def check_json(fleet: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    result = etcdtui("check", "--all-contexts", "--json", "--timeout", f"{TIMEOUT:g}",
                     "--kubeconfig", str(fleet["kubeconfig"]), *extra, env=fleet["env"])
    took = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout), took


def test_named_labs_have_their_own_context_and_ports_outside_the_ephemeral_range(fleet: dict[str, Any]) -> None:
    contexts = [c["name"] for c in yaml.safe_load(fleet["merged"])["contexts"]]
    assert contexts == ["etcdtui-lab", "etcdtui-east", "etcdtui-west"]  # default name keeps etcdtui-lab
    low, high = ephemeral_range()
    # etcd's ports are picked first and bound later by etcd (the race); the API and ssh listeners bind port 0
    # themselves and keep it, so they may sit in the ephemeral range.
    bound_by_daemon = {s["api"]["port"] for s in fleet["states"]} | {
        a["port"] for s in fleet["states"] for a in s["ssh"].values()}
    ports = [int(p) for s in fleet["states"] for _, p in s["ports"] if int(p) not in bound_by_daemon]
    assert len(ports) == 3 * 3 * 4  # labs x members x (client on 2 addresses, peer, metrics)
    assert not [p for p in ports if low <= p <= high], "lab etcd ports must come from outside the ephemeral range"
    apis = {s["api"]["port"] for s in fleet["states"]}
    assert len(apis) == 3


def test_all_contexts_json_statuses_and_worst_exit_code(fleet: dict[str, Any]) -> None:
    code, report, took = check_json(fleet)
    by_context = {c["context"]: c for c in report["contexts"]}
    assert list(by_context) == ["etcdtui-lab", "etcdtui-east", "etcdtui-west", "refusing", "hanging", "bad-token"]
    for name in ("etcdtui-lab", "etcdtui-east", "etcdtui-west"):
        assert by_context[name]["status"] == "WARNING", by_context[name]  # etcd 3.5.1 and checks off
        assert len(by_context[name]["members"]) == 3
    reasons = {name: by_context[name]["findings"][0]["message"] for name in ("refusing", "hanging", "bad-token")}
    assert all(by_context[n]["status"] == "UNKNOWN" for n in reasons)
    assert "connection refused" in reasons["refusing"]
    assert f"timed out after {TIMEOUT:g}s" in reasons["hanging"] or "no answer" in reasons["hanging"]
    assert "401" in reasons["bad-token"]
    assert report["status"] == "UNKNOWN" and code == 3  # UNKNOWN outranks WARNING
    # The hanging context costs its timeout, not the sum: everything ran at once.
    assert took < TIMEOUT + 15, took


def test_text_table_puts_the_worst_first_and_repeated_context_selects(fleet: dict[str, Any]) -> None:
    result = etcdtui("check", "--context", "etcdtui-east", "--context", "refusing", "--kubeconfig",
                     str(fleet["kubeconfig"]), env=fleet["env"])
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["CONTEXT", "VERDICT"]
    assert [line.split()[0] for line in lines[1:]] == ["refusing", "etcdtui-east"]
    assert result.returncode == 3


async def wait_rows(watch: FleetWatch, ready: Callable[[list[FleetRow]], bool], within: float) -> list[FleetRow]:
    deadline = time.monotonic() + within
    while True:
        rows = worst_first(watch.rows.values())
        if ready(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def test_fleet_screen_fills_corrupted_lab_goes_to_the_top_enter_esc_round_trip_and_check_is_critical(
    fleet: dict[str, Any],
) -> None:
    """Last in the module: it breaks the `west` lab. The live fleet (one engine per context) fills; on the fleet
    screen (read-only) west turns CORRUPTION at the top within 60 s; Enter opens its ring view on the same
    engine, Esc comes back with every engine and row kept; CRITICAL outranks UNKNOWN in check's exit code."""
    contexts = ["etcdtui-lab", "etcdtui-east", "etcdtui-west", "refusing", "hanging", "bad-token"]
    watch = FleetWatch(str(fleet["kubeconfig"]), contexts, concurrency=3, timeout=TIMEOUT, poll_interval=3.0)
    async with watch:
        def filled(rows: list[FleetRow]) -> bool:
            labs_done = all(r.verdict is not Verdict.UNKNOWN for r in rows if r.context.startswith("etcdtui-"))
            return labs_done and all(r.worst not in ("connecting", "waiting for the first pod list") for r in rows
                                     if r.context in ("refusing", "bad-token"))

        rows = await wait_rows(watch, filled, 60)
        by_context = {r.context: r for r in rows}
        assert [by_context[c].verdict for c in contexts[:3]] == [Verdict.WARNING] * 3, rows
        assert all(by_context[c].healthy == 3 and by_context[c].hashes == "agree" for c in contexts[:3])
        assert "connection refused" in by_context["refusing"].worst
        assert "401" in by_context["bad-token"].worst
        assert by_context["hanging"].verdict is Verdict.UNKNOWN
        await wait_rows(watch, lambda rows: any(r.worst.startswith("no answer") for r in rows), TIMEOUT + 10)
        assert watch.rows["hanging"].worst.startswith(f"no answer within {TIMEOUT:g}s"), watch.rows["hanging"]
        east_engine = watch.engine("etcdtui-east")
        assert east_engine is not None
        east_polls = east_engine.polls

        # The fleet screen (Pilot), --readonly: the corrupted lab's row goes to the top, Enter opens its ring view.
        where = Connection(str(fleet["kubeconfig"]))
        app = FleetApp(watch, readonly=True)
        async with app.run_test(size=(160, 20)) as pilot:
            await pilot.pause(0.2)
            assert set(app.fleet.table.shown) == set(contexts)  # filled from the start: the engines kept it
            corrupt = await asyncio.to_thread(etcdtui, "lab", "corrupt", "--name", "west", "lab-cp-2",
                                              env=fleet["env"])
            assert corrupt.returncode == 0, corrupt.stderr
            deadline = time.monotonic() + 60
            while app.fleet.table.shown[0] != "etcdtui-west" or \
                    app.fleet.rows["etcdtui-west"].verdict is not Verdict.CORRUPTION:
                assert time.monotonic() < deadline, app.fleet.rows["etcdtui-west"]
                await pilot.pause(0.2)
            app.fleet.table.move_cursor(row=0)  # the cursor stays on its context as rows move; go to the top
            await pilot.pause()
            assert app.fleet.table.selected == "etcdtui-west"
            await pilot.press("enter")
            await pilot.pause()
        assert app.return_value == "etcdtui-west"
        services = ring_services(watch, "etcdtui-west", readonly=True, config=UiConfig(), where=where)
        assert services is not None and services.ring is watch.engine("etcdtui-west")
        ring_app = make_app(services, FLEET_RING_VIEW)
        async with ring_app.run_test(size=(160, 45)) as pilot:
            while ring_app.ring.snapshot is None or ring_app.ring.snapshot.verdict is not Verdict.CORRUPTION:
                await pilot.pause(0.1)
            assert ring_app.readonly and not ring_app.open_replace("lab-cp-2")  # --readonly holds
            await pilot.press("escape")
            await pilot.pause()
        assert ring_app.return_value == BACK_TO_FLEET
        # Back on the fleet: the other engines ran on untouched, the rows are there at once.
        assert watch.engine("etcdtui-east") is east_engine and east_engine.polls > east_polls
        again = FleetApp(watch, readonly=True)
        async with again.run_test(size=(160, 20)) as pilot:
            await pilot.pause(0.2)
            assert again.fleet.table.shown[0] == "etcdtui-west" and len(again.fleet.table.shown) == len(contexts)
            assert again.fleet.rows["etcdtui-east"].verdict is Verdict.WARNING
    code, report, _ = await asyncio.to_thread(check_json, fleet)
    by_context = {c["context"]: c for c in report["contexts"]}
    assert by_context["etcdtui-west"]["status"] == "CRITICAL", by_context["etcdtui-west"]["findings"]
    assert by_context["etcdtui-east"]["status"] == "WARNING"
    assert report["status"] == "CRITICAL" and code == 2
