"""The native drain (`etcdtui.cluster.drain`) against the lab's API server, compared with the real `kubectl drain`.

The lab API server (`_api_lab.ApiLab`: real HTTPS, the lab's object store, eviction with PodDisruptionBudgets and
its workload controllers) runs without etcd here: a drain touches only Kubernetes objects. Its `lab-cache`
Deployment puts 2 replicas with an emptyDir on lab-cp-2 behind a `minAvailable: 1` budget, so the second
eviction really gets 429 until the first replica's replacement is Ready (1.5 s later).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _api_lab import ApiLab

from etcdtui.cluster.drain import WAITING_PREFIX, DrainProgress, drain_node, uncordon_node
from etcdtui.cluster.kube import ClusterConnection

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

NODE = "lab-cp-2"
KUBECTL = shutil.which("kubectl")
PDB_429 = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture
def api_lab(tmp_path: Path) -> Iterator[ApiLab]:
    lab = ApiLab(tmp_path / "a", with_etcd=False, ready_delay=1.5)
    lab.wait_for(lambda: len(lab.store.list("Pod", "default")) == 2)
    yield lab
    lab.close()


@pytest.fixture
async def conn(api_lab: ApiLab) -> AsyncIterator[ClusterConnection]:
    c = await ClusterConnection.open(str(api_lab.kubeconfig))
    yield c
    await c.close()


def _kubectl(lab: ApiLab, *args: str) -> tuple[int, list[str]]:
    """kubectl's stdout then stderr lines (the order inside each stream is kept)."""
    assert KUBECTL is not None
    env = dict(os.environ, KUBECONFIG=str(lab.kubeconfig), HOME=str(lab.root))
    out = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout.splitlines() + out.stderr.splitlines()


def _shape(line: str) -> str:
    """A line with the generated pod names masked, so two labs' outputs compare."""
    line = re.sub(r"lab-cache-[a-z0-9]+-[a-z0-9]+", "lab-cache-*", line)
    return re.sub(r"kube-proxy-[a-z0-9]+", "kube-proxy-*", line)


def _pods_on(lab: ApiLab, node: str) -> list[str]:
    return sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in lab.call(lab.store.list, "Pod")
                  if p["spec"].get("nodeName") == node)


def _bare_pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: the comparison with kubectl needs it")
async def test_native_drain_prints_the_lines_kubectl_prints(tmp_path: Path, api_lab: ApiLab,
                                                           conn: ClusterConnection) -> None:
    other = ApiLab(tmp_path / "b", with_etcd=False, ready_delay=1.5)
    try:
        other.wait_for(lambda: len(other.store.list("Pod", "default")) == 2)
        lines: list[str] = []
        progress: list[DrainProgress] = []
        native, (rc, theirs) = await asyncio.gather(
            drain_node(conn, NODE, on_line=lines.append, on_progress=progress.append, timeout=60),
            asyncio.to_thread(_kubectl, other, "drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data"),
        )
    finally:
        other.close()
    assert rc == 0, theirs
    assert native.ok, native.error
    ours = [line for line in lines if not line.startswith(WAITING_PREFIX)]
    # Same set of line shapes (the number of 429 retries depends on timing), same first and last line.
    assert {_shape(x) for x in ours} == {_shape(x) for x in theirs}
    assert ours[0] == theirs[0] == f"node/{NODE} cordoned"
    assert ours[-1] == f"node/{NODE} drained" and f"node/{NODE} drained" in theirs
    # The budget's 429 really happened, was retried, and both replicas ended evicted.
    retried = [x for x in ours if "(will retry after 5s): " + PDB_429 in x]
    assert retried and re.fullmatch(r'error when evicting pods/"lab-cache-[a-z0-9-]+" -n "default" '
                                    r"\(will retry after 5s\): .*", retried[0])
    assert native.elapsed >= 5.0
    assert len(native.evicted) == 2 and all(ref.startswith("default/lab-cache-") for ref in native.evicted)
    assert native.ignored == [p for p in _pods_on(api_lab, NODE) if p.startswith("kube-system/kube-proxy-")]
    assert native.skipped == [f"kube-system/etcd-{NODE}"]
    assert not native.already_cordoned
    assert api_lab.call(api_lab.store.get, "Node", "", NODE)["spec"]["unschedulable"] is True
    assert progress and progress[-1].phase == "done" and progress[-1].waiting_for == ()
    assert any(p.waiting_for for p in progress)  # it said what it waited for while the budget held


async def test_second_drain_is_a_no_op_that_says_so_and_uncordon_undoes_it(api_lab: ApiLab,
                                                                           conn: ClusterConnection) -> None:
    first = await drain_node(conn, NODE, on_line=lambda _l: None, timeout=60, retry_interval=0.5)
    assert first.ok, first.error
    again: list[str] = []
    second = await drain_node(conn, NODE, on_line=again.append, timeout=10)
    assert second.ok and second.already_cordoned and second.evicted == []
    assert [_shape(x) for x in again] == [
        f"node/{NODE} already cordoned",
        "Warning: ignoring DaemonSet-managed Pods: kube-system/kube-proxy-*",
        f"node/{NODE} drained",
    ]
    said: list[str] = []
    assert await uncordon_node(conn, NODE, on_line=said.append) is True
    assert await uncordon_node(conn, NODE, on_line=said.append) is False
    assert said == [f"node/{NODE} uncordoned", f"node/{NODE} already uncordoned"]
    assert not api_lab.call(api_lab.store.get, "Node", "", NODE)["spec"].get("unschedulable")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: the comparison with kubectl needs it")
async def test_an_unmanaged_pod_stops_the_drain_before_any_eviction_like_kubectl(api_lab: ApiLab,
                                                                                  conn: ClusterConnection) -> None:
    api_lab.call(api_lab.store.create, _bare_pod("bare", NODE))
    before = _pods_on(api_lab, NODE)
    lines: list[str] = []
    result = await drain_node(conn, NODE, on_line=lines.append, timeout=10)
    assert not result.ok and result.refused == ["default/bare"]
    assert result.error == "cannot delete Pods that declare no controller (use --force to override): default/bare"
    assert _pods_on(api_lab, NODE) == before  # nothing evicted
    assert not any(x.startswith("evicting pod") for x in lines)
    rc, theirs = await asyncio.to_thread(_kubectl, api_lab, "drain", NODE, "--ignore-daemonsets",
                                         "--delete-emptydir-data")
    assert rc == 1
    # kubectl now finds the node cordoned already; everything after that line is the same.
    assert theirs[0] == f"node/{NODE} already cordoned" and lines[0] == f"node/{NODE} cordoned"
    assert lines[1:] == theirs[1:]


async def test_a_budget_that_never_allows_stops_at_the_timeout_with_a_clear_message(
    api_lab: ApiLab, conn: ClusterConnection
) -> None:
    def block() -> None:
        pdb = api_lab.store.get("PodDisruptionBudget", "default", "lab-cache")
        pdb["spec"]["minAvailable"] = 2
        api_lab.store.replace(pdb)
        api_lab.store.get("Node", "", "lab-cp-1")["spec"]["unschedulable"] = True  # no room for replacements
        api_lab.store.replace(api_lab.store.get("Node", "", "lab-cp-1"))
        api_lab.store.replace({**api_lab.store.get("Node", "", "lab-cp-3"),
                               "spec": {"unschedulable": True}})

    api_lab.call(block)
    lines: list[str] = []
    result = await drain_node(conn, NODE, on_line=lines.append, timeout=2.5, retry_interval=0.5)
    assert not result.ok
    assert result.error is not None and result.error.startswith(f"drain of node {NODE} did not finish within 2.5s")
    assert "still waiting for default/lab-cache-" in result.error
    assert 2.5 <= result.elapsed < 5
    assert sum("(will retry after 0.5s): " + PDB_429 in x for x in lines) >= 2
    assert any(re.fullmatch(r'error when evicting pods/"lab-cache-[a-z0-9-]+" -n "default": '
                            r"global timeout reached: 2.5s", x) for x in lines)
    assert api_lab.call(api_lab.store.get, "Node", "", NODE)["spec"]["unschedulable"] is True


async def test_two_budgets_on_one_pod_fail_without_retry(api_lab: ApiLab, conn: ClusterConnection) -> None:
    def second_budget() -> None:
        pdb = api_lab.store.get("PodDisruptionBudget", "default", "lab-cache")
        api_lab.store.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                              "metadata": {"name": "lab-cache-2", "namespace": "default"},
                              "spec": {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}})

    api_lab.call(second_budget)
    lines: list[str] = []
    result = await drain_node(conn, NODE, on_line=lines.append, timeout=20)
    assert not result.ok and result.error is not None
    assert "more than one PodDisruptionBudget" in result.error
    assert not any("will retry" in x for x in lines)
    assert f'There are pending pods in node "{NODE}" when an error occurred: [error when evicting pods/' in lines[-8]
    assert len(result.evicted) == 0 and len(_pods_on(api_lab, NODE)) == 4  # 2 replicas, kube-proxy, etcd
    if KUBECTL is not None:  # nothing was evicted, so kubectl sees the same pods (and a cordoned node)
        rc, theirs = await asyncio.to_thread(_kubectl, api_lab, "drain", NODE, "--ignore-daemonsets",
                                             "--delete-emptydir-data")
        assert rc == 1
        # The aggregate's order follows which eviction answered first: compare the lines without it.
        assert ({x for x in lines[1:] if "[" not in x} == {x for x in theirs[1:] if "[" not in x})


async def test_a_missing_node_is_a_one_line_error(conn: ClusterConnection) -> None:
    lines: list[str] = []
    result = await drain_node(conn, "lab-cp-9", on_line=lines.append, timeout=10)
    assert (result.ok, result.error) == (False, 'node "lab-cp-9" not found')
    assert lines == ['Error from server (NotFound): nodes "lab-cp-9" not found']


async def test_cancelling_a_drain_stops_it_and_leaves_the_node_cordoned(api_lab: ApiLab,
                                                                        conn: ClusterConnection) -> None:
    def block() -> None:
        pdb = api_lab.store.get("PodDisruptionBudget", "default", "lab-cache")
        pdb["spec"]["minAvailable"] = 2
        api_lab.store.replace(pdb)

    api_lab.call(block)
    lines: list[str] = []
    retrying = asyncio.Event()

    def on_line(line: str) -> None:
        lines.append(line)
        if "will retry" in line:
            retrying.set()

    task = asyncio.create_task(drain_node(conn, NODE, on_line=on_line, timeout=60, retry_interval=0.2))
    await asyncio.wait_for(retrying.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(lines)
    await asyncio.sleep(0.6)
    assert len(lines) == count  # no retry goes on behind our back
    assert api_lab.call(api_lab.store.get, "Node", "", NODE)["spec"]["unschedulable"] is True


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: the comparison with kubectl needs it")
@pytest.mark.parametrize(("ignore_daemonsets", "delete_emptydir_data", "flags", "refused"), [
    (False, True, ["--delete-emptydir-data"], "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
    (True, False, ["--ignore-daemonsets"], "Pods with local storage (use --delete-emptydir-data to override)"),
])
async def test_without_kubectl_s_flags_the_same_pods_are_refused(
    api_lab: ApiLab, conn: ClusterConnection, ignore_daemonsets: bool, delete_emptydir_data: bool,
    flags: list[str], refused: str,
) -> None:
    lines: list[str] = []
    result = await drain_node(conn, NODE, on_line=lines.append, timeout=10, ignore_daemonsets=ignore_daemonsets,
                              delete_emptydir_data=delete_emptydir_data)
    assert not result.ok and result.error is not None and result.error.startswith(f"cannot delete {refused}: ")
    rc, theirs = await asyncio.to_thread(_kubectl, api_lab, "drain", NODE, *flags)
    assert rc == 1
    assert lines[1:] == theirs[1:]


async def test_finished_pods_are_evicted_even_without_a_controller(api_lab: ApiLab, conn: ClusterConnection) -> None:
    done = {**_bare_pod("finished-job", NODE), "status": {"phase": "Succeeded"}}
    api_lab.call(api_lab.store.create, done)
    lines: list[str] = []
    result = await drain_node(conn, NODE, on_line=lines.append, timeout=60, retry_interval=0.5)
    assert result.ok, result.error
    assert "default/finished-job" in result.evicted and result.refused == []
    assert "evicting pod default/finished-job" in lines and "pod/finished-job evicted" in lines
    assert api_lab.call(api_lab.store.find, "Pod", "default", "finished-job") is None
