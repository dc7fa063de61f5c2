"""Benchmark: the lab API server serving pod logs (history and follow) over HTTPS.

1. History: GET .../log of a CRI file with N lines (default 200k, ~30 MB), with and without timestamps.
2. Follow: a writer appends RATE lines/s (default 15k, the log-flood target) for S seconds while a client
   follows; prints lines received per second and the lag of the last line (writer done -> client has it).
The server runs in this process (its own event loop thread); the client is aiohttp in the main loop.
Run: python benchmarks/api_logs.py [--lines N] [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from etcdtui.lab.apiserver import start_api_server
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.objects import ContainerRun, ObjectStore, PodRuntime
from etcdtui.lab.pki import write_lab_pki

POD = "etcd-lab-cp-1"
LINE = '{"level":"info","ts":"2026-11-24T10:00:00.000Z","caller":"etcdserver/server.go:2027","msg":"published local member to cluster through raft","local-member-id":"8e9e05c52164694d"}'


def cri(text: str) -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + f"000Z stderr F {text}\n"


class Server:
    def __init__(self, root: Path, log_path: Path) -> None:
        pki = write_lab_pki(LabLayout(root), {})
        self.ca = pki.ca_cert
        self.token = "bench-token"
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.run = ContainerRun("c1", log_path, "2026-11-24T10:00:00Z")

        async def start():  # type: ignore[no-untyped-def]
            store = ObjectStore()
            store.create({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": POD, "namespace": "kube-system"},
                          "spec": {"containers": [{"name": "etcd"}]}, "status": {"phase": "Running"}})
            store.runtimes[("kube-system", POD)] = PodRuntime(current=self.run)
            return await start_api_server(store, host="127.0.0.1", port=0, token=self.token,
                                          cert_file=pki.apiserver.cert, key_file=pki.apiserver.key, workloads=False)

        self.api = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        self.url = f"https://127.0.0.1:{self.api.port}/api/v1/namespaces/kube-system/pods/{POD}/log"

    def end_run(self) -> None:
        self.loop.call_soon_threadsafe(self.run.done.set)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.api.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)


async def history(server: Server, session: aiohttp.ClientSession, params: dict[str, str]) -> tuple[float, int, int]:
    start = time.perf_counter()
    lines = size = 0
    async with session.get(server.url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        async for chunk in resp.content.iter_chunked(1 << 20):
            lines += chunk.count(b"\n")
            size += len(chunk)
    return time.perf_counter() - start, lines, size


async def follow(server: Server, session: aiohttp.ClientSession, log_path: Path, rate: int, seconds: float) -> None:
    got = 0
    target = -1
    last_at = 0.0
    caught_up = asyncio.Event()

    async def reader() -> None:
        nonlocal got, last_at
        async with session.get(server.url, params={"follow": "true", "tailLines": "0"}) as resp:
            async for chunk in resp.content.iter_chunked(1 << 16):
                got += chunk.count(b"\n")
                last_at = time.perf_counter()
                if got == target:
                    caught_up.set()

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.3)
    sent = 0
    start = time.perf_counter()
    batch = max(rate // 100, 1)  # write every 10 ms, like a busy etcd
    with log_path.open("a") as fh:
        while time.perf_counter() - start < seconds:
            fh.write("".join(cri(LINE) for _ in range(batch)))
            fh.flush()
            sent += batch
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    done_writing = time.perf_counter()
    target = sent
    if got < sent:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await caught_up.wait()
    lag = (last_at - done_writing) if got >= sent else float("nan")
    server.end_run()
    await asyncio.wait_for(task, 10)
    elapsed = done_writing - start
    print(f"follow: wrote {sent} lines in {elapsed:.2f} s ({sent / elapsed:,.0f} lines/s); "
          f"client received {got} ({got / elapsed:,.0f} lines/s); last line lag {lag * 1000:.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=15_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="etcdtui-bench-api-") as tmp:
        root = Path(tmp)
        log_path = root / "0.log"
        stamp = cri("")[:31]
        log_path.write_text("".join(f"{stamp} stderr F {LINE}\n" for _ in range(args.lines)))
        server = Server(root, log_path)
        ctx = ssl.create_default_context(cafile=str(server.ca))
        headers = {"Authorization": f"Bearer {server.token}"}
        try:
            async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=ctx)) as session:
                for label, params in (("plain", {}), ("timestamps", {"timestamps": "true"}), ("tail 1000", {"tailLines": "1000"})):
                    secs, lines, size = await history(server, session, params)
                    print(f"history {label}: {lines} lines, {size / 1e6:.1f} MB in {secs:.2f} s "
                          f"({lines / secs:,.0f} lines/s, {size / 1e6 / secs:.0f} MB/s)")
                await follow(server, session, log_path, args.rate, args.seconds)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
