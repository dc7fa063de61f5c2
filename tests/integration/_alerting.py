"""Real Prometheus and Alertmanager on loopback for the exporter tests, plus a webhook receiver.

Debian's `prometheus` and `prometheus-alertmanager` run with generated configs in a temp dir, on free
ports; Alertmanager delivers to a small HTTP server in the test (its webhook JSON, recorded with the time
it arrived). The shipped rules are used as they are, except that long `for:` durations are capped so a
test does not wait an hour: the expressions, labels and annotations are the shipped ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "etcdtui.rules.yaml"
PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PROMTOOL = shutil.which("promtool")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", duration))


def rules_with_short_for(cap_s: float) -> dict[str, Any]:
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule and _seconds(rule["for"]) > cap_s:
                rule["for"] = f"{cap_s:g}s"
    return doc


@dataclass
class Notification:
    at: float
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass
class Webhook:
    port: int
    received: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, name: str | None = None, status: str | None = None, **labels: str) -> list[Notification]:
        with self.lock:
            got = list(self.received)
        return [n for n in got if (name is None or n.labels.get("alertname") == name)
                and (status is None or n.status == status)
                and all(n.labels.get(k) == v for k, v in labels.items())]

    def wait(self, within: float, name: str, status: str = "firing", **labels: str) -> list[Notification]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = self.alerts(name, status, **labels)
            if got:
                return got
            time.sleep(0.5)
        raise AssertionError(f"no {status} {name} {labels} within {within:.0f} s; received: "
                             f"{[(n.status, n.labels) for n in self.alerts()]}")


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    hook = Webhook(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            now = time.time()
            with hook.lock:
                for alert in body.get("alerts", []):
                    hook.received.append(Notification(now, alert["status"], alert["labels"], alert["annotations"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def _wait_http(url: str, within: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: process exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready within {within:.0f} s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Stack:
    prometheus_url: str
    alertmanager_url: str
    hook: Webhook

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as resp:
            return list(json.loads(resp.read())["data"]["result"])


@contextmanager
def alerting_stack(tmp: Path, targets: dict[str, str], *, for_cap_s: float = 10.0) -> Iterator[Stack]:
    """Prometheus scraping `targets` (scenario label -> host:port) every second, evaluating the shipped rules
    every second, sending to an Alertmanager that delivers every alert on its own to the test's webhook."""
    assert PROMETHEUS and ALERTMANAGER, "Debian prometheus and prometheus-alertmanager are required"
    tmp.mkdir(parents=True, exist_ok=True)
    with webhook_receiver() as hook:
        am_port, prom_port = free_port(), free_port()
        (tmp / "alertmanager.yml").write_text(yaml.safe_dump({
            "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "1s", "group_interval": "1s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "hook", "webhook_configs": [
                {"url": f"http://127.0.0.1:{hook.port}/", "send_resolved": True}]}],
        }))
        (tmp / "rules.yaml").write_text(yaml.safe_dump(rules_with_short_for(for_cap_s), sort_keys=False))
        (tmp / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yaml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{
                "job_name": "etcdtui", "honor_labels": True,
                "static_configs": [{"targets": [t], "labels": {"scenario": s}} for s, t in targets.items()],
            }],
        }, sort_keys=False))
        if PROMTOOL:
            check = subprocess.run([PROMTOOL, "check", "config", str(tmp / "prometheus.yml")],
                                   capture_output=True, text=True, check=False)
            assert check.returncode == 0, check.stdout + check.stderr
        am_log, prom_log = tmp / "alertmanager.log", tmp / "prometheus.log"
        am = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=am_log.open("wb"), stderr=subprocess.STDOUT)
        prom = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'prom-data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=2s"],
            stdout=prom_log.open("wb"), stderr=subprocess.STDOUT)
        try:
            _wait_http(f"http://127.0.0.1:{am_port}/-/ready", 60, am, am_log)
            _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 60, prom, prom_log)
            yield Stack(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", hook)
        finally:
            _stop(prom)
            _stop(am)


@dataclass
class Exporter:
    proc: subprocess.Popen[str]
    port: int
    stderr_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{self.address}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def start_exporter(kubeconfig: Path | None, log: Path, *, interval: float = 2.0,
                   env: dict[str, str] | None = None, launcher: tuple[str, ...] = ("-m", "etcdtui")) -> Exporter:
    """`etcdtui exporter` as a real subprocess on a free port; returns once it says where it serves."""
    argv = [sys.executable, *launcher, "exporter", "--listen", "127.0.0.1:0", "--interval", f"{interval:g}"]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True,
                            env=env or {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
        if m:
            return Exporter(proc, int(m.group(1)), log)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"exporter did not start: {log.read_text()[-2000:]}")


def stop_exporter(exporter: Exporter) -> int:
    if exporter.proc.poll() is None:
        exporter.proc.send_signal(signal.SIGTERM)
        try:
            return exporter.proc.wait(20)
        except subprocess.TimeoutExpired:
            exporter.proc.kill()
            return exporter.proc.wait(5)
    return exporter.proc.returncode


def wait_until(check: Callable[[], bool], within: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"not within {within:.0f} s: {what}")
