"""Ring evaluation on real etcdctl outputs (3.5.1 runs and the 13766 reproduction) joined with kubeadm-style pods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from fixture_transcripts import ETCD_13766, ETCD_LOGS, find, read_transcript

from etcdtui.core.etcdctl import (
    Alarm,
    AlarmType,
    MemberList,
    parse_alarm_list,
    parse_endpoint_hashkv,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
)
from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.core.hashes import choose_common_revision
from etcdtui.core.ring import (
    MemberObservation,
    NodeObservation,
    PodObservation,
    RingObservation,
    Verdict,
    assess,
    live_cross_check_clean,
    members_from_etcdctl,
    previous_status_of,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HEALTHY = ETCD_LOGS / "3.5.1-healthy-etcdctl.txt"
BBOLT = ETCD_LOGS / "3.5.1-corrupt-bbolt-etcdctl.txt"
D0 = ETCD_13766 / "D0-evidence.txt"
KUBEONE_FLAGS = ("--experimental-corrupt-check-time=240m", "--experimental-compact-hash-check-enabled=true")


def pod_for(
    member_name: str,
    client_url: str,
    peer_url: str,
    *extra: str,
    image: str = "registry.k8s.io/etcd:3.5.1-0",
    **kw: object,
) -> PodObservation:
    """A kubeadm etcd mirror pod (`etcd-<node>`, hostNetwork) whose command advertises the member's URLs."""
    command = (
        "etcd",
        f"--advertise-client-urls={client_url}",
        "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        "--experimental-initial-corrupt-check=true",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--listen-client-urls={client_url}",
        f"--name={member_name}",
        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        *extra,
    )
    fields: dict[str, object] = {
        "node": member_name,
        "phase": "Running",
        "ready": True,
        "command": command,
        "image": image,
        "host_ip": "127.0.0.1",
        "pod_ip": "127.0.0.1",
        "started_at": NOW - timedelta(days=3),
    }
    fields.update(kw)
    return PodObservation(name=f"etcd-{member_name}", **fields)  # type: ignore[arg-type]


def cp_node(name: str, **kw: object) -> NodeObservation:
    fields: dict[str, object] = {
        "ready": True,
        "addresses": (("InternalIP", "127.0.0.1"),),
        "kubelet_version": "v1.29.4",
        "control_plane": True,
    }
    fields.update(kw)
    return NodeObservation(name=name, **fields)  # type: ignore[arg-type]


def recorded(
    path: object, state: str, *, version: str | None = None
) -> tuple[MemberList, tuple[MemberObservation, ...], int | None, tuple[Alarm, ...]]:
    def out(cmd: str) -> str:
        text = find(path, state, cmd).json_line  # type: ignore[arg-type]
        return text.replace('"version":"3.5.1"', f'"version":"{version}"') if version else text

    ml = parse_member_list(out("etcdctl member list"))
    statuses = parse_endpoint_status(out("etcdctl endpoint status"))
    hashes = parse_endpoint_hashkv(out("etcdctl endpoint hashkv"))
    members = members_from_etcdctl(
        ml, statuses, parse_endpoint_health(out("etcdctl endpoint health")), hashes
    )
    revision = choose_common_revision(
        {s.member_id: s.revision for s in statuses}, {h.member_id: h.compact_revision for h in hashes}
    ).revision
    alarm_step = find(path, state, "etcdctl alarm list -w json")  # type: ignore[arg-type]
    alarms = (
        parse_alarm_list(out("etcdctl alarm list -w json")) if alarm_step.has_json else ()
    )  # rc=1: timed out
    return ml, members, revision, alarms


def observe(
    path: object,
    state: str,
    *pod_flags: str,
    version: str | None = None,
    image: str = "registry.k8s.io/etcd:3.5.1-0",
    **kw: object,
) -> RingObservation:
    ml, members, revision, alarms = recorded(path, state, version=version)
    pods = tuple(
        pod_for(m.name, m.client_urls[0], m.peer_urls[0], *pod_flags, image=image) for m in ml.members
    )
    nodes = tuple(cp_node(m.name) for m in ml.members)
    fields: dict[str, object] = {
        "pods": pods,
        "nodes": nodes,
        "members": members,
        "alarms": alarms,
        "hash_revision": revision,
        "observed_at": NOW,
        "context": "lab",
    }
    fields.update(kw)
    return RingObservation(**fields)  # type: ignore[arg-type]


def kinds(findings: tuple[Finding, ...] | list[Finding]) -> set[str]:
    return {f.kind for f in findings}


# --- the main verdicts ---


def test_healthy_lab_with_kubeadm_flags_is_warning_not_critical() -> None:
    """The lab acceptance: healthy ring, checks off except kubeadm's initial check → `check` exits 1, not 2."""
    a = assess(observe(HEALTHY, "healthy"))
    assert a.verdict is Verdict.WARNING and a.status is Status.WARNING
    assert "checks.periodic_off" in kinds(a.findings)
    assert "version.data_loss_13766" in kinds(a.findings)  # a critical finding, but the ring is not corrupted
    assert (a.voting, a.quorum, a.alive_voting, a.fault_tolerance) == (3, 2, 3, 1)
    (leader,) = [r for r in a.members if r.is_leader]
    assert a.leader_name == leader.name and leader.is_leader is True and a.leader_id == leader.member_id
    assert all(r.hash_agrees is True for r in a.members)
    assert all(r.pod_name is not None and r.node_name is not None for r in a.members)


def test_risky_version_alone_is_reported_but_does_not_change_the_verdict() -> None:
    """A repaired 3.5.1 ring with checks on is HEALTHY; the 13766 risk stays a CRITICAL finding for every member."""
    flags_3_5_1 = ("--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m")
    a = assess(observe(HEALTHY, "healthy", *flags_3_5_1))  # what KubeOne sets on etcd < 3.5.5
    risk = [f for f in a.findings if f.kind == "version.data_loss_13766"]
    assert len(risk) == 3 and all(f.severity is Severity.CRITICAL for f in risk)
    blocking = [f.kind for f in a.findings if f.severity >= Severity.WARNING and not f.kind.startswith("version.")]
    assert not blocking, blocking
    assert a.verdict is Verdict.HEALTHY and a.status is Status.OK


def test_fixed_version_with_all_checks_on_is_healthy() -> None:
    a = assess(
        observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    )
    assert a.verdict is Verdict.HEALTHY and a.status is Status.OK, [
        f.message for f in a.findings if f.severity >= Severity.WARNING
    ]
    assert all(
        r.checks is not None
        and (r.checks.initial, r.checks.periodic is not None, r.checks.compaction) == (True, True, True)
        for r in a.members
    )


def test_corrupted_member_is_named_and_alarm_does_not_count_as_down() -> None:
    a = assess(observe(BBOLT, "after corruption"))
    assert a.verdict is Verdict.CORRUPTION and a.status is Status.CRITICAL
    mismatch = [f for f in a.findings if f.kind == "corruption.hash_mismatch"]
    assert [f.member for f in mismatch] == ["m2"]
    assert a.findings[0].is_corruption  # corruption evidence leads the list
    assert "corruption.alarm_corrupt" in kinds(a.findings)
    # etcdctl 3.5 reports every member unhealthy while the alarm is active; they still answer: no quorum loss.
    assert a.alive_voting == 3 and "ring.quorum_lost" not in kinds(a.findings)
    row = next(r for r in a.members if r.name == "m2")
    assert row.hash_agrees is False and row.key == "etcd-m2"


def test_the_member_that_diverged_leads_the_alarms_consequences() -> None:
    """Once the CORRUPT alarm is up, every member's log says its health check was refused: those lines must not
    push the member whose data differs out of the first finding (the header shows only the first)."""
    from etcdtui.core.ring.assessment import sort_findings

    refused = [Finding("corruption.alarm_active", Severity.CRITICAL, "Health check refused: alarm:CORRUPT.", m)
               for m in ("m1", "m3")]
    differs = Finding("corruption.hash_mismatch", Severity.CRITICAL, "hash differs from the majority", "m2")
    ordered = sort_findings([*refused, Finding("version.data_loss_13766", Severity.CRITICAL, "3.5.1"), differs])
    assert ordered[0] is differs
    assert [f.kind for f in ordered] == ["corruption.hash_mismatch", "corruption.alarm_active",
                                         "corruption.alarm_active", "version.data_loss_13766"]


def _d0_members(with_hashes: bool) -> tuple[MemberObservation, ...]:
    statuses = parse_endpoint_status(find(D0, "status", "etcdctl endpoint status -w json").json_line)
    hashes = {
        h.member_id: h
        for h in parse_endpoint_hashkv(find(D0, "hashkv at rev 4534", "etcdctl endpoint hashkv").json_line)
    }
    names = {"http://127.0.0.1:24101": "m1", "http://127.0.0.1:24102": "m2", "http://127.0.0.1:24103": "m3"}
    return tuple(
        MemberObservation(
            member_id=s.member_id,
            name=names[s.endpoint],
            client_urls=(s.endpoint,),
            peer_urls=(s.endpoint.replace("241", "242"),),
            healthy=True,
            status=s,
            hashkv=hashes.get(s.member_id) if with_hashes else None,
        )
        for s in statuses
    )


def _d0_pods(members: tuple[MemberObservation, ...], victim_restarts: int = 1) -> tuple[PodObservation, ...]:
    return tuple(
        pod_for(
            m.name,
            m.client_urls[0],
            m.peer_urls[0],
            restarts=victim_restarts if m.name == "m2" else 0,
            last_terminated_at=NOW - timedelta(minutes=2) if m.name == "m2" else None,
            last_exit_code=137 if m.name == "m2" else None,
            last_termination_reason="Error" if m.name == "m2" else None,
        )
        for m in members
    )


def test_13766_victim_named_with_the_initial_check_explained() -> None:
    members = _d0_members(with_hashes=True)
    passed = Finding("check.initial_passed", Severity.OK, "initial corruption check passed")
    obs = RingObservation(
        pods=_d0_pods(members),
        members=members,
        hash_revision=4534,
        observed_at=NOW,
        log_findings={"etcd-m2": [passed]},
    )
    a = assess(obs)
    assert a.verdict is Verdict.CORRUPTION
    (mismatch,) = [f for f in a.findings if f.kind == "corruption.hash_mismatch"]
    assert mismatch.member == "m2"
    assert "initial check passed on this member" in mismatch.message
    assert mismatch.fields["majority_hash"] == 2259545336
    m2 = next(r for r in a.members if r.name == "m2")
    assert (
        "pod.restarted" in kinds(m2.findings)
        and "#13766" in next(f for f in m2.findings if f.kind == "pod.restarted").message
    )


def test_13766_revision_signal_alone_needs_confirmation() -> None:
    members = _d0_members(with_hashes=False)
    first = RingObservation(pods=_d0_pods(members), members=members, observed_at=NOW)
    a1 = assess(first)
    assert "ring.revision_divergence_suspected" in kinds(a1.findings)
    assert a1.verdict is not Verdict.CORRUPTION
    second = dataclasses.replace(first, previous_status=previous_status_of(first))
    a2 = assess(second)
    assert a2.verdict is Verdict.CORRUPTION
    (div,) = [f for f in a2.findings if f.kind == "corruption.revision_divergence"]
    assert div.member == "m2" and "same applied raft index 4543" in div.message


def test_quorum_lost_when_two_of_three_do_not_answer() -> None:
    ml, members, _, _ = recorded(HEALTHY, "healthy")
    down = tuple(
        dataclasses.replace(
            m, healthy=False, health_error="context deadline exceeded", status=None, status_error="no answer"
        )
        if m.name != "m1"
        else m
        for m in members
    )
    obs = observe(HEALTHY, "healthy", members=down, hash_revision=None)
    a = assess(obs)
    assert a.verdict is Verdict.QUORUM_LOST and a.status is Status.CRITICAL
    assert (a.alive_voting, a.quorum, a.fault_tolerance) == (1, 2, 0)
    assert kinds(a.findings) >= {"ring.quorum_lost", "member.unhealthy"}


def test_one_member_down_leaves_no_fault_tolerance() -> None:
    _, members, _, _ = recorded(HEALTHY, "healthy")
    one_down = tuple(
        dataclasses.replace(m, healthy=False, health_error="connection refused", status=None)
        if m.name == "m3"
        else m
        for m in members
    )
    a = assess(observe(HEALTHY, "healthy", members=one_down, hash_revision=None))
    assert a.verdict is Verdict.WARNING
    assert "ring.no_fault_tolerance" in kinds(a.findings) and a.fault_tolerance == 0


def test_no_data_is_unknown_and_mentions_managed_clusters() -> None:
    a = assess(RingObservation(nodes=(NodeObservation("worker-1"),), observed_at=NOW))
    assert a.verdict is Verdict.UNKNOWN and a.status is Status.UNKNOWN
    assert "EKS" in next(f for f in a.findings if f.kind == "ring.no_data").message


def test_exec_impossible_keeps_pod_level_verdict() -> None:
    obs = observe(HEALTHY, "healthy", members=None, members_error="pods/exec is forbidden for user 'viewer'")
    a = assess(obs)
    assert a.verdict is Verdict.WARNING
    (f,) = [f for f in a.findings if f.kind == "ring.members_unavailable"]
    assert "forbidden" in f.message
    assert all(r.member_id is None and r.checks is not None for r in a.members)
    assert "member.missing" not in kinds(a.findings)  # unknown, not missing


def test_exec_impossible_and_pods_not_ready_infers_quorum_loss() -> None:
    obs = observe(HEALTHY, "healthy", members=None, members_error="exec timed out")
    pods = tuple(dataclasses.replace(p, ready=False) if p.name != "etcd-m1" else p for p in obs.pods)
    a = assess(dataclasses.replace(obs, pods=pods))
    assert a.verdict is Verdict.QUORUM_LOST
    assert (
        "inferred from pod readiness" in next(f for f in a.findings if f.kind == "ring.quorum_lost").message
    )


def test_no_leader_is_critical() -> None:
    _, members, _, _ = recorded(HEALTHY, "healthy")
    leaderless = tuple(
        dataclasses.replace(m, status=dataclasses.replace(m.status, leader="0")) for m in members if m.status
    )
    a = assess(observe(HEALTHY, "healthy", members=leaderless))
    assert a.leader_id is None
    assert next(f for f in a.findings if f.kind == "ring.no_leader").severity is Severity.CRITICAL


# --- pods, nodes, orphans ---


def test_pod_states() -> None:
    obs = observe(HEALTHY, "healthy")
    p1, p2, p3 = obs.pods
    pods = (
        dataclasses.replace(
            p1,
            phase="Running",
            ready=False,
            waiting_reason="CrashLoopBackOff",
            restarts=7,
            last_exit_code=1,
            last_termination_reason="Error",
        ),
        dataclasses.replace(p2, ready=False),
        dataclasses.replace(
            p3, restarts=2, last_terminated_at=NOW - timedelta(days=2), deletion_timestamp=NOW
        ),
    )
    a = assess(dataclasses.replace(obs, pods=pods))
    by_name = {r.name: kinds(r.findings) for r in a.members}
    assert "pod.crashloop" in by_name["m1"] and "pod.not_ready" not in by_name["m1"]
    assert "pod.not_ready" in by_name["m2"]
    assert "pod.terminating" in by_name["m3"]
    old = next(f for r in a.members if r.name == "m3" for f in r.findings if f.kind == "pod.restarted")
    # an old restart is worth knowing but on etcd 3.5.1 a crash is exactly what loses writes → warning
    assert old.severity is Severity.WARNING and "#13766" in old.message


def test_old_restart_on_a_fixed_version_is_info_recent_is_warning() -> None:
    obs = observe(HEALTHY, "healthy", version="3.5.26")
    p1, p2, p3 = obs.pods
    pods = (
        dataclasses.replace(p1, restarts=1, last_terminated_at=NOW - timedelta(days=2)),
        dataclasses.replace(p2, restarts=1, last_terminated_at=NOW - timedelta(minutes=5)),
        p3,
    )
    a = assess(dataclasses.replace(obs, pods=pods))
    sev = {
        r.name: next(f.severity for f in r.findings if f.kind == "pod.restarted")
        for r in a.members
        if r.name in ("m1", "m2")
    }
    assert sev == {"m1": Severity.INFO, "m2": Severity.WARNING}


def test_orphans_pod_without_member_member_without_pod_node_without_pod() -> None:
    obs = observe(HEALTHY, "healthy")
    # same host IP as the others (loopback), but it advertises its own URLs: it must not be joined by IP
    extra_pod = pod_for("m9", "http://127.0.0.9:2379", "http://127.0.0.9:2380")
    pods = (obs.pods[0], obs.pods[1], extra_pod)  # m3's pod is gone, m9 runs but is no member
    nodes = (*obs.nodes, cp_node("cp-empty", addresses=(("InternalIP", "10.9.9.9"),)))
    a = assess(dataclasses.replace(obs, pods=pods, nodes=nodes))
    found = {(f.kind, f.member) for f in a.findings}
    assert ("member.no_pod", "m3") in found
    assert ("member.missing", "m9") in found
    assert ("node.no_etcd_pod", "cp-empty") in found
    assert {r.key for r in a.members} == {
        "etcd-m1",
        "etcd-m2",
        "etcd-m9",
        f"member:{next(m.member_id for m in obs.members or () if m.name == 'm3')}",
    }


def test_join_by_advertised_url_when_names_differ() -> None:
    obs = observe(HEALTHY, "healthy")
    renamed = tuple(
        dataclasses.replace(p, name=f"etcd-node-{i}", node=f"node-{i}") for i, p in enumerate(obs.pods)
    )
    a = assess(dataclasses.replace(obs, pods=renamed, nodes=()))
    assert all(r.pod_name is not None and r.member_id is not None for r in a.members)
    assert "member.no_pod" not in kinds(a.findings)


def test_join_by_unique_ip_when_nothing_else_matches() -> None:
    member = MemberObservation(
        "abc",
        name="other-name",
        client_urls=("https://10.0.0.7:2379",),
        peer_urls=("https://10.0.0.7:2380",),
        healthy=True,
    )
    pod = PodObservation(
        "etcd-cp-7", node="cp-7", phase="Running", ready=True, host_ip="10.0.0.7", pod_ip="10.0.0.7"
    )
    a = assess(
        RingObservation(
            pods=(pod,),
            members=(member,),
            nodes=(cp_node("cp-7", addresses=(("InternalIP", "10.0.0.7"),)),),
            observed_at=NOW,
        )
    )
    (row,) = a.members
    assert row.pod_name == pod.name and row.member_id == member.member_id and row.node_name == "cp-7"


def test_node_not_ready_and_cordoned() -> None:
    obs = observe(HEALTHY, "healthy")
    nodes = (cp_node("m1", ready=False), cp_node("m2", unschedulable=True), cp_node("m3"))
    a = assess(dataclasses.replace(obs, nodes=nodes))
    found = {(f.kind, f.severity) for f in a.findings}
    assert ("node.not_ready", Severity.WARNING) in found and ("node.cordoned", Severity.INFO) in found


# --- members ---


def test_unstarted_member_and_stuck_learner() -> None:
    obs = observe(HEALTHY, "healthy")
    members = obs.members or ()
    learner = dataclasses.replace(
        members[0],
        is_learner=True,
        status=dataclasses.replace(members[0].status, raft_applied_index=1) if members[0].status else None,
    )
    unstarted = MemberObservation("5a6fa537216361d", name="", peer_urls=("http://127.0.0.1:23999",))
    a = assess(
        dataclasses.replace(obs, members=(learner, members[1], members[2], unstarted), hash_revision=None)
    )
    found = kinds(a.findings)
    assert "member.learner_stuck" in found and "member.unstarted" in found
    assert a.voting == 3  # the learner does not vote; the unstarted member does


def test_fresh_learner_is_info() -> None:
    obs = observe(HEALTHY, "healthy")
    members = obs.members or ()
    learner = dataclasses.replace(members[0], is_learner=True)
    pods = (dataclasses.replace(obs.pods[0], started_at=NOW - timedelta(seconds=30)), *obs.pods[1:])
    a = assess(dataclasses.replace(obs, pods=pods, members=(learner, *members[1:])))
    assert "member.learner" in kinds(a.findings) and "member.learner_stuck" not in kinds(a.findings)


def test_nospace_alarm_is_critical_finding_but_not_corruption() -> None:
    obs = observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    members = obs.members or ()
    a = assess(dataclasses.replace(obs, alarms=(Alarm(members[0].member_id, AlarmType.NOSPACE),)))
    (f,) = [f for f in a.findings if f.kind == "alarm.nospace"]
    assert f.severity is Severity.CRITICAL and f.member == "m1"
    assert a.verdict is Verdict.WARNING


def test_hash_disagreement_without_majority_is_ring_level_corruption() -> None:
    obs = observe(HEALTHY, "healthy")
    members = obs.members or ()
    two = tuple(
        dataclasses.replace(m, hashkv=dataclasses.replace(m.hashkv, hash=m.hashkv.hash + i))
        if m.hashkv
        else m
        for i, m in enumerate(members[:2])
    )
    a = assess(dataclasses.replace(obs, members=two, pods=obs.pods[:2], nodes=obs.nodes[:2]))
    (f,) = [f for f in a.findings if f.kind == "corruption.hash_mismatch"]
    assert f.member is None and "no majority" in f.message
    assert a.verdict is Verdict.CORRUPTION


def test_inconclusive_hash_is_never_corruption() -> None:
    obs = observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    members = obs.members or ()
    odd = tuple(
        dataclasses.replace(m, hashkv=dataclasses.replace(m.hashkv, hash=1, compact_revision=5))
        if m.hashkv and m.name == "m3"
        else m
        for m in members
    )
    a = assess(dataclasses.replace(obs, members=odd))
    assert a.verdict is Verdict.HEALTHY
    assert next(r for r in a.members if r.name == "m3").hash_agrees is None
    assert "hash.inconclusive" in kinds(a.findings)


# --- logs, staleness, versions, JSON ---


def test_log_corruption_evidence_joins_its_member_and_decides_the_verdict() -> None:
    obs = observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    evidence = Finding("corruption.initial_check_failed", Severity.CRITICAL, "checkInitialHashKV failed")
    stray = Finding("perf.slow_fdatasync", Severity.WARNING, "slow fdatasync", "old-node")
    a = assess(dataclasses.replace(obs, log_findings={"etcd-m3": [evidence], "old-node": [stray]}))
    assert a.verdict is Verdict.CORRUPTION
    m3 = next(r for r in a.members if r.name == "m3")
    assert any(f.kind == "corruption.initial_check_failed" and f.member == "m3" for f in m3.findings)
    assert any(f.kind == "perf.slow_fdatasync" for f in a.findings)  # unmatched key: kept at ring level


def test_stale_data_is_a_warning() -> None:
    obs = observe(
        HEALTHY,
        "healthy",
        *KUBEONE_FLAGS,
        version="3.5.26",
        image="registry.k8s.io/etcd:3.5.26-0",
        stale_since=NOW - timedelta(seconds=20),
    )
    a = assess(obs)
    assert a.verdict is Verdict.WARNING and "ring.stale" in kinds(a.findings)


def test_mixed_versions_noted_and_status_version_beats_image() -> None:
    obs = observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    members = obs.members or ()
    mixed = tuple(
        dataclasses.replace(m, status=dataclasses.replace(m.status, version="3.5.21"))
        if m.status and m.name == "m1"
        else m
        for m in members
    )
    a = assess(dataclasses.replace(obs, members=mixed))
    assert "version.mixed" in kinds(a.findings)
    assert str(next(r for r in a.members if r.name == "m1").version) == "3.5.21"


def test_assessment_of_a_corrupted_ring() -> None:
    """What `check` reports (its JSON is `headless/check_report.py`'s), read off the assessment itself."""
    a = assess(observe(BBOLT, "after corruption"))
    assert a.status is Status.CRITICAL and a.verdict is Verdict.CORRUPTION and a.context == "lab"
    assert [r.pod_name for r in a.members] == ["etcd-m1", "etcd-m2", "etcd-m3"]
    m2 = a.members[1]
    assert m2.hash_agrees is False and str(m2.version) == "3.5.1" and m2.member_id == "a9aab02626d71373"
    assert m2.healthy is True and m2.health_error == "Active Alarm(s): CORRUPT "
    assert m2.checks is not None and m2.checks.initial is True and m2.checks.periodic is None
    assert any(f.kind == "corruption.hash_mismatch" and f.severity is Severity.CRITICAL for f in m2.findings)


def test_previous_status_of() -> None:
    obs = observe(HEALTHY, "healthy")
    prev = previous_status_of(obs)
    assert len(prev) == 3 and all(isinstance(v, tuple) and len(v) == 2 for v in prev.values())


def test_members_from_etcdctl_joins_by_id_and_client_url() -> None:
    ml = parse_member_list(find(BBOLT, "after", "etcdctl member list").json_line)
    statuses = parse_endpoint_status(find(BBOLT, "after", "etcdctl endpoint status").json_line)
    healths = parse_endpoint_health(
        find(BBOLT, "after", "etcdctl endpoint health").json_line
    )  # order differs from members
    members = members_from_etcdctl(
        ml, statuses[:2], iter(healths), (), status_error="Failed to get the status of endpoint x"
    )
    assert [m.status is not None for m in members] == [True, True, False]
    assert members[2].status_error.startswith("Failed to get the status")
    assert all(m.healthy is False and m.health_error.startswith("Active Alarm") and m.alive for m in members)
    unprobed = members_from_etcdctl(ml, statuses)
    assert all(m.healthy is None and m.alive for m in unprobed)


def test_learner_without_status_is_stuck() -> None:
    obs = observe(HEALTHY, "healthy")
    members = obs.members or ()
    pods = (dataclasses.replace(obs.pods[0], started_at=NOW - timedelta(seconds=30)), *obs.pods[1:])
    silent = dataclasses.replace(members[0], is_learner=True, status=None, status_error="no status answer")
    a = assess(dataclasses.replace(obs, pods=pods, members=(silent, *members[1:]), hash_revision=None))
    (f,) = [f for f in a.findings if f.kind == "member.learner_stuck"]
    assert "no status" in f.message


def test_alarm_seen_only_in_endpoint_status_errors() -> None:
    # `alarm list` failed or was not run: the alarm still shows in every member's status `errors`.
    a = assess(observe(BBOLT, "after corruption", alarms=()))
    (f,) = [f for f in a.findings if f.kind == "corruption.alarm_corrupt"]
    assert f.member is None and "names no member" in f.message


def test_members_reporting_different_leaders() -> None:
    obs = observe(HEALTHY, "healthy")
    members = obs.members or ()
    leader = next(m.status.leader for m in members if m.status)
    other = next(m.member_id for m in members if m.member_id != leader)
    split = tuple(
        dataclasses.replace(m, status=dataclasses.replace(m.status, leader=other))
        if m.status and m.name == "m3"
        else m
        for m in members
    )
    a = assess(dataclasses.replace(obs, members=split))
    assert "ring.leader_disagreement" in kinds(a.findings)


SCENARIOS = sorted(p.name.removesuffix("-etcdctl.txt") for p in ETCD_LOGS.glob("*-etcdctl.txt"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_recorded_scenario(scenario: str) -> None:
    """Corrupted rings (after the damage) → CORRUPTION naming the victim from roles.txt; otherwise never CORRUPTION."""
    path = ETCD_LOGS / f"{scenario}-etcdctl.txt"
    roles = dict(part.split("=") for part in (ETCD_LOGS / f"{scenario}-roles.txt").read_text().split())
    sections = {step.section for step in read_transcript(path)}
    for section in sorted(sections):
        a = assess(observe(path, section))
        damaged = "corrupt" in scenario and not section.endswith("before corruption")
        if damaged:
            assert a.verdict is Verdict.CORRUPTION, section
            named = {f.member for f in a.findings if f.kind == "corruption.hash_mismatch"}
            assert named == {roles["victim"]}, section
        else:
            assert a.verdict is Verdict.WARNING, (section, [f.message for f in a.findings if f.is_corruption])


def _fixed_ring_with_log_evidence(logged_at: datetime, clean_since: datetime | None) -> RingObservation:
    obs = observe(HEALTHY, "healthy", *KUBEONE_FLAGS, version="3.5.26", image="registry.k8s.io/etcd:3.5.26-0")
    evidence = Finding("corruption.periodic_hash_mismatch", Severity.CRITICAL, "same compact revision then hashes "
                       "must match", None, {"log-ts": logged_at.timestamp()})
    return dataclasses.replace(obs, log_findings={"etcd-m3": [evidence]}, clean_since=clean_since)


def test_live_cross_check_clean_needs_every_hash_equal_and_no_alarm() -> None:
    obs = observe(HEALTHY, "healthy")
    assert live_cross_check_clean(obs)
    assert not live_cross_check_clean(dataclasses.replace(obs, alarms=(Alarm("0", AlarmType.CORRUPT),)))
    assert not live_cross_check_clean(dataclasses.replace(obs, hash_revision=None))
    assert not live_cross_check_clean(dataclasses.replace(obs, members=None))


def test_log_evidence_from_before_a_clean_cross_check_is_past_evidence() -> None:
    """After a repair the old lines stay in the logs; they must not keep the ring in CORRUPTION forever."""
    repaired = assess(_fixed_ring_with_log_evidence(NOW - timedelta(minutes=10), clean_since=NOW - timedelta(minutes=5)))
    assert repaired.verdict is Verdict.HEALTHY, [f.kind for f in repaired.findings]
    (past,) = [f for f in repaired.findings if f.kind == "history.corruption_evidence"]
    assert past.severity is Severity.INFO and past.member == "m3" and "past evidence" in past.message
    assert past.fields["original_kind"] == "corruption.periodic_hash_mismatch"


def test_log_evidence_still_counts_without_or_after_a_clean_streak() -> None:
    never_clean = assess(_fixed_ring_with_log_evidence(NOW - timedelta(minutes=10), clean_since=None))
    new_evidence = assess(_fixed_ring_with_log_evidence(NOW - timedelta(minutes=1), clean_since=NOW - timedelta(minutes=5)))
    assert never_clean.verdict is Verdict.CORRUPTION and new_evidence.verdict is Verdict.CORRUPTION
