"""The helpers that used to exist twice: one kubeone error parser, one argv check, one verdict → status."""

from __future__ import annotations

import pytest

from etcdtui.cluster.argv import checked_argv
from etcdtui.core.findings import Status
from etcdtui.core.kubeone_output import kubeone_error
from etcdtui.core.ring import Verdict
from etcdtui.engine import snapshot

pytestmark = pytest.mark.unit


def test_kubeone_error_reads_kubeones_own_reason() -> None:
    v15 = ["INFO[...] Running preflight checks", "Error: preflight checks failed", "cause: node lab-cp-2 NotReady",
           "", "Usage: ..."]
    assert kubeone_error(v15) == "preflight checks failed · cause: node lab-cp-2 NotReady"
    logrus = ["time=x level=info msg=start", "time=y level=error msg=\"ssh: handshake failed\"", "done"]
    assert kubeone_error(logrus) == 'time=y level=error msg="ssh: handshake failed"'
    assert kubeone_error(["ERRO[0003] unable to connect", "bye"]) == "ERRO[0003] unable to connect"
    assert kubeone_error(["first", "last line ", ""]) == "last line"
    assert kubeone_error([]) == ""
    assert len(kubeone_error(["Error: " + "x" * 1000])) == 300


@pytest.mark.parametrize("bad", ["kubeadm reset", [], ["ok", "nul\x00"], ["ok", 3]])
def test_one_argv_check_for_local_and_remote_commands(bad: object) -> None:
    with pytest.raises(ValueError, match="shell string|invalid argument"):
        checked_argv(bad, ValueError)  # type: ignore[arg-type]
    assert checked_argv(["sudo", "kubeadm", "reset", "--force"], ValueError) == ("sudo", "kubeadm", "reset", "--force")


def test_one_verdict_with_one_status_mapping() -> None:
    assert snapshot.Verdict is Verdict
    assert Verdict.QUORUM_LOST.value == "QUORUM-LOST"  # the documented word (docs/check.md)
    assert {v: v.status for v in Verdict} == {
        Verdict.HEALTHY: Status.OK, Verdict.WARNING: Status.WARNING, Verdict.CORRUPTION: Status.CRITICAL,
        Verdict.QUORUM_LOST: Status.CRITICAL, Verdict.UNKNOWN: Status.UNKNOWN,
    }
