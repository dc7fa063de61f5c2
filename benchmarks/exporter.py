"""Benchmark: `etcdtui exporter` on a 3-member lab: idle CPU, RSS and /metrics latency at 1 scrape/s, side by side
with etcd's own /metrics endpoint on the same lab (the peer every Prometheus already scrapes).

Targets (issue #11): idle CPU <= 1 % of a core, RSS <= 80 MB, scrape p99 <= 10 ms.
The exporter runs as a real subprocess with the default 15 s poll interval; CPU and RSS come from /proc.
Scrapes reuse one keep-alive connection, as Prometheus does.
Then the same figures for one exporter watching 5 labs (`--all-contexts` over their merged kubeconfig:
15 members, one engine and one log engine per context).
Run: python benchmarks/exporter.py [--seconds S] [--kubeconfig K] [--labs N]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"cpu_pct": 1.0, "rss_mb": 80.0, "p99_ms": 10.0}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return rss / 1024, hwm / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def scrape_series(conn: http.client.HTTPConnection, path: str, seconds: float) -> tuple[list[float], int]:
    """GET path once a second for `seconds`; latencies in ms and the last body size."""
    latencies: list[float] = []
    size = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick = time.monotonic()
        start = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        latencies.append((time.perf_counter() - start) * 1000)
        assert resp.status == 200, resp.status
        size = len(body)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    return latencies, size


def start_exporter(kubeconfig: str, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, "-m", "etcdtui", "exporter", "--kubeconfig", kubeconfig,
                             "--listen", "127.0.0.1:0", *extra], stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"127\.0\.0\.1:(\d+)/metrics", log.read_text())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"exporter did not start: {log.read_text()}")


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.5)
    raise SystemExit("exporter not ready within 60 s")


def etcd_metrics_connection(root: Path) -> tuple[http.client.HTTPSConnection, str] | None:
    """A keep-alive TLS connection to the first lab member's client URL, with the healthcheck-client cert."""
    import json

    status = subprocess.run([sys.executable, "-m", "etcdtui", "lab", "status", "--dir", str(root), "--json"],
                            capture_output=True, text=True, check=False)
    if status.returncode != 0:
        return None
    member = json.loads(status.stdout)["members_status"][0]
    pki = root / "nodes" / member["node"] / "pki-etcd"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "healthcheck-client.crt"), str(pki / "healthcheck-client.key"))
    host, port = member["client_url"].split("://", 1)[1].rsplit(":", 1)
    return http.client.HTTPSConnection(host, int(port), context=ctx, timeout=5), "/metrics"


def measure(kubeconfig: str, log: Path, seconds: float, *extra: str) -> dict[str, float | int]:
    """Idle CPU, CPU at 1 scrape/s, RSS and scrape latency of one exporter process."""
    proc, port = start_exporter(kubeconfig, log, *extra)
    try:
        wait_ready(port)
        time.sleep(5)  # past start-up (imports, first lists, first poll)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        idle = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        latencies, size = scrape_series(conn, "/metrics", seconds)
        scraped = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        rss, hwm = rss_mb(proc.pid)
        return {"idle": idle, "scraped": scraped, "rss": rss, "hwm": hwm, "med": statistics.median(latencies),
                "p99": percentile(latencies, 0.99), "scrapes": len(latencies), "size": size}
    finally:
        proc.terminate()
        proc.wait(20)


def met(m: dict[str, float | int]) -> bool:
    return (m["idle"] <= TARGETS["cpu_pct"] and m["scraped"] <= TARGETS["cpu_pct"] and m["hwm"] <= TARGETS["rss_mb"]
            and m["p99"] <= TARGETS["p99_ms"])


def fleet_of_labs(base: Path, n: int) -> tuple[list[Path], str]:
    """n labs side by side (`lab up --name bench-K`), and one kubeconfig holding every context."""
    from concurrent.futures import ThreadPoolExecutor

    import yaml

    from etcdtui.lab.kubeconfigs import merged_kubeconfig
    from etcdtui.lab.lifecycle import start_lab

    roots = [base / f"lab-{k}" for k in range(n)]
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda kr: start_lab(kr[1], bastion=False, name=f"bench-{kr[0]}"), enumerate(roots)))
    merged = base / "fleet.kubeconfig"
    merged.write_text(yaml.safe_dump(merged_kubeconfig([r / "kubeconfig" for r in roots]), sort_keys=False))
    merged.chmod(0o600)
    return roots, str(merged)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each measurement (default 120)")
    parser.add_argument("--kubeconfig", help="a running lab's kubeconfig (default: start a fresh lab)")
    parser.add_argument("--labs", type=int, default=5, help="labs for the fleet measurement (0: skip; default 5)")
    args = parser.parse_args()

    from etcdtui.lab.lifecycle import start_lab, stop_lab

    tmp = tempfile.TemporaryDirectory(prefix="etcdtui-bench-exporter-")
    base = Path(tmp.name)
    root: Path | None = None
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        root = base / "lab"
        start_lab(root, bastion=False)
        kubeconfig = str(root / "kubeconfig")
    try:
        one = measure(kubeconfig, base / "exporter.log", args.seconds)
        peer = etcd_metrics_connection(root) if root is not None else None
        peer_lat, peer_size = scrape_series(peer[0], peer[1], min(args.seconds, 30.0)) if peer else ([], 0)
    finally:
        if root is not None:
            stop_lab(root)
    fleet: dict[str, float | int] | None = None
    if args.labs > 0:
        roots, merged = fleet_of_labs(base / "fleet", args.labs)
        try:
            fleet = measure(merged, base / "exporter-fleet.log", args.seconds, "--all-contexts")
        finally:
            for r in roots:
                stop_lab(r)
    tmp.cleanup()

    many = f"{args.labs} labs" if fleet else "-"
    print(f"etcdtui exporter, default 15 s poll, {args.seconds:.0f} s per measurement; "
          f"1 lab = 3 members, {many} watched by one exporter (--all-contexts)")
    print(f"{'figure':<32}{'1 lab':>12}{many:>12}{'target':>10}{'etcd /metrics':>16}")

    def row(label: str, key: str, fmt: str, target: str = "", peer_value: str = "-") -> None:
        second = format(fleet[key], fmt) if fleet else "-"
        print(f"{label:<32}{format(one[key], fmt):>12}{second:>12}{target:>10}{peer_value:>16}")

    row("idle CPU, no scrapes (% core)", "idle", ".2f", f"{TARGETS['cpu_pct']:.1f}")
    row("CPU at 1 scrape/s (% core)", "scraped", ".2f", f"{TARGETS['cpu_pct']:.1f}")
    row("RSS (MB)", "rss", ".1f")
    row("peak RSS (MB)", "hwm", ".1f", f"{TARGETS['rss_mb']:.0f}")
    row("scrape latency median (ms)", "med", ".2f", "",
        f"{statistics.median(peer_lat):.2f}" if peer_lat else "-")
    row("scrape latency p99 (ms)", "p99", ".2f", f"{TARGETS['p99_ms']:.1f}",
        f"{percentile(peer_lat, 0.99):.2f}" if peer_lat else "-")
    row("scrapes", "scrapes", "d", "", str(len(peer_lat)))
    row("body size (bytes)", "size", "d", "", str(peer_size))
    verdicts = ["1 lab: " + ("targets met" if met(one) else "TARGETS MISSED")]
    if fleet:
        verdicts.append(f"{args.labs} labs: " + ("targets met" if met(fleet) else "TARGETS MISSED"))
    print("; ".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
