"""The defragment procedure on real labs: fill → defragment (killed and resumed mid-run) with a writer and a
health poller running, leader last and moved first; refusal while CORRUPT; NOSPACE reached and left for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _lab_cli import etcdctl, etcdtui, lab_status, wait_for
from conftest import RunningLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

RULE = "dbSize - dbSizeInUse > 10*1000*1000"  # the lab's 40 MiB leave ~45 MB free per member
SLACK = 2.0  # seconds around a member's pause in which its own requests may fail


def _etcdctl_argv(root: Path, node: str, status: dict[str, Any]) -> list[str]:
    from etcdtui.lab.etcd_binary import resolve_etcd

    member = next(m for m in status["members_status"] if m["node"] == node)
    pki = root / "nodes" / node / "pki-etcd"
    return [str(resolve_etcd(None).etcdctl), f"--endpoints={member['client_url']}", f"--cacert={pki / 'ca.crt'}",
            f"--cert={pki / 'healthcheck-client.crt'}", f"--key={pki / 'healthcheck-client.key'}"]


class Background:
    """A writer (one put per member in turn) and a health poller, each recording (time, node, ok)."""

    def __init__(self, lab: RunningLab) -> None:
        status = lab_status(lab.root)
        self.argv = {n: _etcdctl_argv(lab.root, n, status) for n in lab.nodes}
        self.writes: list[tuple[float, str, bool, str]] = []
        self.health: list[tuple[float, bool, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._poll, daemon=True)]

    def __enter__(self) -> Background:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _write(self) -> None:
        i = 0
        nodes = sorted(self.argv)
        while not self.stop.is_set():
            node = nodes[i % len(nodes)]
            t = time.time()
            r = subprocess.run([*self.argv[node], "--command-timeout=10s", "put", f"/writer/{i % 50}", str(i)],
                               capture_output=True, text=True, timeout=30, check=False)
            self.writes.append((t, node, r.returncode == 0, r.stderr.strip()[-200:]))
            i += 1
            time.sleep(0.1)

    def _poll(self) -> None:
        first = self.argv[sorted(self.argv)[0]]
        endpoints = ",".join(a.split("=", 1)[1] for n in sorted(self.argv) for a in self.argv[n][1:2])
        while not self.stop.is_set():
            t = time.time()
            argv = [first[0], f"--endpoints={endpoints}", *first[2:], "endpoint", "health", "-w", "json"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            try:
                ok = all(e["health"] for e in json.loads(r.stdout)) and len(json.loads(r.stdout)) == 3
            except ValueError:
                ok = False
            self.health.append((t, ok, r.stdout[-300:] + r.stderr[-300:]))
            time.sleep(0.5)


def _journal(state: Path) -> dict[str, Any]:
    done = sorted(state.rglob("defrag-*.done.jsonl"))
    assert done, f"no finished defrag journal in {state}: {list(state.rglob('*'))}"
    facts: dict[str, Any] = {}
    for line in done[-1].read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "fact":
            facts[rec["key"]] = rec["value"]
    return facts


def _defrag(lab: RunningLab, state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "etcdtui", "defrag", "--kubeconfig", str(lab.kubeconfig), "--state-dir",
            str(state), *args]


def test_defrag_fill_resume_leader_last_writer_and_corrupt_refusal(
        fresh_lab: Callable[..., RunningLab], tmp_path: Path) -> None:
    lab = fresh_lab(corrupt_checks="on")
    ctx = "etcdtui-lab"
    state = tmp_path / "state"
    fill = etcdtui("lab", "fill", "--all", "--mb", "40", "--dir", str(lab.root), timeout=300)
    assert fill.returncode == 0, fill.stderr
    assert "fragmentation" in fill.stdout, fill.stdout

    # A wrong --confirm is refused before anything changes (exit 2); the dry run prints the plan.
    wrong = subprocess.run(_defrag(lab, state, "--confirm", "prod", "--rule", RULE), capture_output=True, text=True,
                           timeout=120, check=False)
    assert wrong.returncode == 2 and "does not name the context" in wrong.stderr, wrong.stderr
    assert not list(state.rglob("defrag-*.jsonl")), "a refused confirmation must not start a journal"
    dry = subprocess.run(_defrag(lab, state, "--dry-run", "--rule", RULE), capture_output=True, text=True,
                         timeout=120, check=False)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.count("defragment — rule true") == 3 and "[leader]" in dry.stdout, dry.stdout

    with Background(lab) as bg:
        # First run: killed (SIGKILL) right after the first member is done.
        proc = subprocess.Popen(_defrag(lab, state, "--confirm", ctx, "--rule", RULE), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        seen: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.strip().startswith("→ done: lab-cp-"):
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL, "".join(seen)
        assert list(state.rglob("defrag-*.jsonl")), "the killed run leaves its journal"
        # Second run: resumes from the journal and finishes.
        resumed = subprocess.run(_defrag(lab, state, "--confirm", ctx), capture_output=True, text=True,
                                 timeout=300, check=False)
        # Health polls after the last member's pause (and its slack): the ring is seen healthy once it is over,
        # whatever the machine's load did to the poller's pace during the run.
        finished = time.time() + SLACK
        deadline = time.monotonic() + 60
        while sum(t > finished for t, _, _ in bg.health) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming the interrupted run" in resumed.stdout and "OUTCOME done" in resumed.stdout, resumed.stdout

    facts = _journal(state)
    results = {k.removeprefix("result:"): v for k, v in facts.items() if k.startswith("result:")}
    assert sorted(results) == sorted(lab.nodes), facts
    for node, r in results.items():
        assert r["after"] < r["before"] * 0.5, (node, r)  # every member's database shrank
    order = sorted(results, key=lambda n: results[n]["started"])
    leaders = [n for n in order if results[n]["was_leader"]]
    assert leaders == [order[-1]], f"the leader went last: order {order}, leader {leaders}"
    moved = facts[f"moved_leader:{order[-1]}"]
    assert moved["t"] < results[order[-1]]["started"] and moved["to"] != order[-1], moved
    assert f"leadership moved from {order[-1]} to {moved['to']} before defragmenting {order[-1]}" in resumed.stdout

    windows = [(r["started"] - SLACK, r["ended"] + SLACK, n) for n, r in results.items()]
    # The ring stayed healthy between members (every poll outside a member's pause saw 3 healthy members).
    outside = [(t, ok, why) for t, ok, why in bg.health if not any(a <= t <= b for a, b, _ in windows)]
    assert len(outside) >= 3 and all(ok for _, ok, _ in outside), [h for h in outside if not h[1]][:3]
    # The writer failed no request except, at most, through the one member paused at that moment.
    assert sum(ok for _, _, ok, _ in bg.writes) >= 10, bg.writes[-3:]
    bad = [(t, n, err) for t, n, ok, err in bg.writes
           if not ok and not any(a <= t <= b and n == m for a, b, m in windows)]
    assert not bad, bad[:3]
    status = json.loads(etcdctl(lab.root, "lab-cp-1", "endpoint", "status", "--cluster", "-w", "json").stdout)
    assert all(s["Status"]["dbSize"] < 25_000_000 for s in status), status

    # A CORRUPT alarm: the procedure refuses (exit 2) before touching any member.
    assert etcdtui("lab", "corrupt", "lab-cp-2", "--dir", str(lab.root)).returncode == 0
    wait_for(lambda: "alarm:CORRUPT" in etcdctl(lab.root, "lab-cp-1", "alarm", "list").stdout, within=60,
             what="etcd raises CORRUPT", every=1)
    refused = subprocess.run(_defrag(lab, state, "--confirm", ctx, "--rule", "true"), capture_output=True,
                             text=True, timeout=180, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "CORRUPT alarm is active" in refused.stdout and "OUTCOME refused" in refused.stdout, refused.stdout
    assert "Finished defragmenting" not in refused.stdout


def test_nospace_reached_for_real_and_the_guided_way_out(fresh_lab: Callable[..., RunningLab],
                                                         tmp_path: Path) -> None:
    lab = fresh_lab(quota_backend_bytes=16_000_000)
    fill = etcdtui("lab", "fill", "--all", "--mb", "24", "--dir", str(lab.root), timeout=300)
    assert "NOSPACE" in fill.stdout, fill.stdout + fill.stderr
    assert "alarm:NOSPACE" in etcdctl(lab.root, "lab-cp-1", "alarm", "list").stdout
    refused_put = etcdctl(lab.root, "lab-cp-1", "put", "/after", "x")
    assert refused_put.returncode != 0 and "database space exceeded" in refused_put.stderr

    # The finding names the way out; the dry run plans it (compact, every member, disarm), whatever the rule.
    check = etcdtui("check", "--json", "--kubeconfig", str(lab.kubeconfig), timeout=120)
    report = json.loads(check.stdout)
    nospace = [f for f in report["findings"] if "NOSPACE" in f["message"]]
    assert nospace and all("etcdtui defrag" in f["message"] for f in nospace), nospace
    state = tmp_path / "state"
    dry = subprocess.run(_defrag(lab, state, "--dry-run"), capture_output=True, text=True, timeout=120, check=False)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for step in ("Compact the history to the current revision", "Disarm the NOSPACE alarm"):
        assert step in dry.stdout, dry.stdout
    assert dry.stdout.count("defragment — ") == 3, dry.stdout

    run = subprocess.run(_defrag(lab, state, "--confirm", "etcdtui-lab"), capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0 and "OUTCOME done" in run.stdout, run.stdout + run.stderr
    assert "compacted revision" in run.stdout and "alarm list: empty" in run.stdout, run.stdout
    assert "leadership moved from" in run.stdout, run.stdout
    assert "alarm:" not in etcdctl(lab.root, "lab-cp-1", "alarm", "list").stdout
    put = etcdctl(lab.root, "lab-cp-2", "put", "/after", "x")
    assert put.returncode == 0 and "OK" in put.stdout, put.stderr
