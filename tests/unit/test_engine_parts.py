"""Pure parts of the cluster adapters and the engine: exec Status parsing, etcdctl targets, pod/node views,
sparkline history, error mapping. The same code runs against the real lab in tests/integration."""

from __future__ import annotations

from dataclasses import replace

import pytest

from etcdtui.cluster.etcdctl_exec import EtcdctlExecError, ExecFailure, _Capped, _exit_code, target_from_pod
from etcdtui.cluster.kube import ErrorKind, status_error
from etcdtui.cluster.objects import node_from_dict, pod_from_dict
from etcdtui.engine.history import History
from etcdtui.engine.snapshot import MemberRow

pytestmark = pytest.mark.unit

KUBEADM_COMMAND = [
    "etcd", "--advertise-client-urls=https://10.0.0.1:2379", "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--key-file=/etc/kubernetes/pki/etcd/server.key", "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.1:2379",
    "--name=cp-1", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
]


def test_exit_code_from_channel_3_status() -> None:
    assert _exit_code({"status": "Success"}, "p", "") == 0
    failure = {"status": "Failure", "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}}
    assert _exit_code(failure, "p", "") == 1
    assert _exit_code(None, "p", "") is None
    with pytest.raises(EtcdctlExecError) as missing:
        _exit_code({"status": "Failure", "message": 'exec: "etcdctl": executable file not found in $PATH'}, "p", "")
    assert missing.value.failure is ExecFailure.NO_ETCDCTL


def test_target_from_kubeadm_pod_prefers_loopback_and_healthcheck_cert() -> None:
    target = target_from_pod("etcd-cp-1", "kube-system", KUBEADM_COMMAND)
    assert target.connection.endpoint == "https://127.0.0.1:2379"
    assert target.connection.cert == "/etc/kubernetes/pki/etcd/healthcheck-client.crt"
    assert [c.cert for c in target.fallbacks] == ["/etc/kubernetes/pki/etcd/server.crt"]
    fallback = target.with_connection(target.fallbacks[0])
    assert fallback.connection.cert == "/etc/kubernetes/pki/etcd/server.crt" and fallback.fallbacks == ()


def test_target_without_certs_is_a_reason_not_a_crash() -> None:
    with pytest.raises(EtcdctlExecError) as err:
        target_from_pod("etcd-x", "kube-system", ["etcd", "--listen-client-urls=https://127.0.0.1:2379"])
    assert err.value.failure is ExecFailure.NO_CERTS and "etcd-x" in err.value.reason
    with pytest.raises(EtcdctlExecError):
        target_from_pod("etcd-y", "kube-system", [])


def test_capped_output_counts_what_it_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("etcdtui.cluster.etcdctl_exec.MAX_OUTPUT", 10)
    capped = _Capped()
    capped.add(b"12345678")
    capped.add(b"abcdef")
    capped.add(b"zz")
    assert capped.text() == "12345678ab" and capped.dropped == 6


def test_pod_view_of_a_crashlooping_static_pod() -> None:
    pod = pod_from_dict({
        "metadata": {"name": "etcd-cp-1", "namespace": "kube-system", "creationTimestamp": "2026-01-01T00:00:00Z",
                     "deletionTimestamp": "2026-01-02T00:00:00Z"},
        "spec": {"nodeName": "cp-1", "containers": [
            {"name": "sidecar", "image": "busybox"},
            {"name": "etcd", "image": "registry.k8s.io/etcd:3.5.1-0", "command": ["etcd"], "args": ["--name=cp-1"]},
        ]},
        "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "False"}],
                   "containerStatuses": [{
                       "name": "etcd", "ready": False, "restartCount": 4,
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                       "lastState": {"terminated": {"exitCode": 2, "reason": "Error",
                                                    "finishedAt": "2026-01-01T01:00:00Z"}}}]},
    })
    assert pod.command == ("etcd", "--name=cp-1") and pod.image_version == "3.5.1"
    assert pod.restarts == 4 and not pod.ready and pod.deleting
    assert pod.status_text == "Terminating"
    assert pod.containers[0].last_exit_code == 2 and pod.containers[0].reason == "CrashLoopBackOff"
    assert replace(pod, deleting=False).status_text == "CrashLoopBackOff"


def test_node_view() -> None:
    node = node_from_dict({
        "metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "cp-1"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.1"}, "conditions": [{"type": "Ready", "status": "True"}]},
    })
    assert node.control_plane and node.unschedulable and node.ready
    assert node.address() == "10.0.0.1" and node.kubelet_version == "v1.32.1"


def _row(key: str, rev: int, leader: bool, db: int = 100, lag: int = 0) -> MemberRow:
    return MemberRow(key=key, pod=None, node=None, member_id=key, member_name=key, revision=rev,
                     is_leader=leader, db_size=db, raft_index_lag=lag)


def test_history_rates_leader_changes_and_bounds() -> None:
    history = History(maxlen=3, max_members=2)
    history.record(0.0, [_row("a", 100, True), _row("b", 100, False)])
    history.record(10.0, [_row("a", 150, True), _row("b", 140, False, lag=7)])
    history.record(20.0, [_row("a", 150, False), _row("b", 150, True), _row("c", 1, False)])
    history.record(30.0, [_row("a", 160, False), _row("b", 170, True)])
    series = history.per_member()
    assert set(series) == {"a", "b"} and history.dropped == 1  # "c" beyond max_members is counted
    assert series["a"].times == (10.0, 20.0, 30.0)  # bounded to 3 samples
    assert series["a"].revision_rate == (5.0, 0.0, 1.0)
    assert series["b"].raft_index_lag == (7, 0, 0)
    assert history.leader_changes == 1
    assert history.leader_series()[-1] == (30.0, 1)


@pytest.mark.parametrize(
    ("status", "kind", "needle"),
    [
        (401, ErrorKind.UNAUTHORIZED, "token expired"),
        (403, ErrorKind.FORBIDDEN, "cannot list pods in namespace kube-system (RBAC: needs list/watch pods)"),
        (500, ErrorKind.API_ERROR, "answered 500"),
    ],
)
def test_status_errors_are_one_line(status: int, kind: ErrorKind, needle: str) -> None:
    err = status_error(status, "https://api:6443", "list pods in namespace kube-system", "list/watch pods", "boom")
    assert err.kind is kind and needle in err.message and "\n" not in err.message
