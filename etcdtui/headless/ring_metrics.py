"""The Prometheus metric families of etcdtui: one custom collector over engine snapshots.

Both faces read this one definition: `etcdtui exporter` serves it on `/metrics`, and `etcdtui check
--prometheus FILE` writes it with prometheus-client's textfile writer. A scrape never calls the cluster:
`collect()` reads the last snapshot of every context it was given. Every series carries a `context`
label, so one collector can hold the snapshots of several contexts (issue #12's fleet).

Counters (`*_total`) count what the collector saw since it started: etcdctl failures by reason,
corruption detections (a corruption finding appearing for a member), and log findings by pod and kind.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from etcdtui import exitcodes
from etcdtui.engine.snapshot import ExecStatus, LinkState, MemberRow, RingSnapshot, Verdict
from etcdtui.headless.check_report import exit_code, verdict_word

MEMBER = ("context", "pod", "node", "member_id")

# name -> (help, extra labels after the context/member labels); the docs table lists the same names.
RING_GAUGES = {
    "etcdtui_ring_status": "Ring status as the check's exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    "etcdtui_ring_members": "Members in the etcd member list.",
    "etcdtui_ring_quorum": "Voting members needed for quorum.",
    "etcdtui_ring_fault_tolerance": "Members that can still fail before quorum is lost.",
    "etcdtui_check_success": "1 if the last check completed with the API live and etcdctl answering, 0 otherwise.",
    "etcdtui_check_timestamp_seconds": "Unix time of the data: the last successful etcdctl poll (else the snapshot).",
    "etcdtui_snapshot_age_seconds": "Seconds since the last successful etcdctl poll (since the snapshot when none).",
    "etcdtui_poll_interval_seconds": "Seconds between etcdctl polls (the exporter's --interval).",
    "etcdtui_poll_duration_seconds": "Seconds the last successful etcdctl poll took.",
    "etcdtui_api_live": "1 while the pod watch on the API server is live, 0 when stale or failing.",
}
MEMBER_GAUGES = {
    "etcdtui_member_healthy": "1 if etcdctl endpoint health passed for the member, 0 if not.",
    "etcdtui_member_leader": "1 for the leader.",
    "etcdtui_member_hash_agrees": "1 hash agrees with peers at the common revision, 0 differs, -1 inconclusive.",
    "etcdtui_member_revision": "The member's current revision.",
    "etcdtui_member_db_size_bytes": "The member's backend database size (what the quota applies to).",
    "etcdtui_member_db_size_in_use_bytes": "Bytes of the backend database in use (the rest is free after compaction).",
    "etcdtui_member_db_quota_bytes": "The member's backend quota (--quota-backend-bytes, etcd's default 2 GiB when unset).",
}


@dataclass
class _ContextState:
    snapshot: RingSnapshot | None = None
    failure: str | None = None  # the check could not even start (ClusterError): one line
    failed_at: float | None = None
    interval: float | None = None
    log_counts: Callable[[], Mapping[tuple[str, str], int]] | None = None  # the log engine's (pod, kind) counts
    etcdctl_errors: Counter[str] = field(default_factory=Counter)
    detections: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # (pod, node, member_id, kind)
    _last_attempt: datetime | None = None
    _evidence: frozenset[tuple[str, str, str, str]] = frozenset()

    def observe(self, snap: RingSnapshot) -> None:
        ex = snap.exec
        if ex.last_attempt_at is not None and ex.last_attempt_at != self._last_attempt:
            self._last_attempt = ex.last_attempt_at
            if ex.status is ExecStatus.UNAVAILABLE:
                self.etcdctl_errors[ex.failure or "other"] += 1
            elif ex.status is ExecStatus.OK and ex.reason:
                self.etcdctl_errors["partial"] += 1  # the poll answered, some etcdctl command did not
        evidence = frozenset(
            (*_who(r), f.kind) for r in snap.rows for f in r.findings if f.is_corruption
        )
        for key in evidence - self._evidence:
            self.detections[key] += 1
        self._evidence = evidence
        self.snapshot, self.failure = snap, None


def _who(row: MemberRow) -> tuple[str, str, str]:
    return row.pod_name or "", row.node_name or "", row.member_id or ""


class RingCollector(Collector):
    """Metric families over the latest snapshot of each context; `update` may run on another thread."""

    def __init__(self, *, clock: Iterable[float] | None = None) -> None:
        self._contexts: dict[str, _ContextState] = {}
        self._lock = threading.Lock()
        self._clock = iter(clock) if clock is not None else None

    def _now(self) -> float:
        return next(self._clock) if self._clock is not None else time.time()

    def update(self, snap: RingSnapshot, interval: float | None = None) -> None:
        with self._lock:
            state = self._contexts.setdefault(snap.context, _ContextState())
            state.observe(snap)
            if interval is not None:
                state.interval = interval

    def watch_logs(self, context: str, counts: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """Log findings by (pod, kind) since start, read at scrape time (the log engine's store keeps them)."""
        with self._lock:
            self._contexts.setdefault(context, _ContextState()).log_counts = counts

    def fail(self, context: str, reason: str) -> None:
        """The check could not reach the cluster at all: ring_status 3, check_success 0."""
        with self._lock:
            state = self._contexts.setdefault(context, _ContextState())
            state.failure, state.failed_at, state.snapshot = reason, self._now(), None

    def describe(self) -> list[Metric]:
        return []  # families depend on the snapshots; an empty describe keeps registration cheap

    def collect(self) -> Iterator[Metric]:
        now = self._now()
        with self._lock:
            states = sorted(self._contexts.items())
        families = _Families()
        for context, state in states:
            families.add_context(context, state, now)
        yield from families.all()


class _Families:
    def __init__(self) -> None:
        self.ring = {n: GaugeMetricFamily(n, h, labels=["context"]) for n, h in RING_GAUGES.items()}
        self.verdict = GaugeMetricFamily(
            "etcdtui_ring_verdict", "1 for the current ring verdict (HEALTHY, WARNING, CORRUPTION, QUORUM-LOST, "
            "UNKNOWN), 0 for the others.", labels=["context", "verdict"])
        self.member = {n: GaugeMetricFamily(n, h, labels=list(MEMBER)) for n, h in MEMBER_GAUGES.items()}
        self.checks = GaugeMetricFamily(
            "etcdtui_member_corruption_checks", "1 if the corruption check (initial, periodic, compaction) is enabled "
            "on the member's command line, 0 if off.", labels=[*MEMBER, "check"])
        self.version_risk = GaugeMetricFamily(
            "etcdtui_member_version_risk", "Known data-consistency risk of the member's etcd version: 0 none, "
            "1 info, 2 warning, 3 critical (3.5.0-3.5.2: etcd #13766).", labels=[*MEMBER, "version"])
        self.evidence = GaugeMetricFamily(
            "etcdtui_member_corruption_evidence", "1 for each kind of corruption evidence etcdtui holds against "
            "the member now (hash mismatch, revision divergence, alarms, log findings).", labels=[*MEMBER, "kind"])
        self.alarm = GaugeMetricFamily(
            "etcdtui_alarm_active", "1 for each active etcd alarm (alarm list): CORRUPT, NOSPACE.",
            labels=[*MEMBER, "alarm"])
        self.findings = GaugeMetricFamily(
            "etcdtui_findings", "Number of current findings by severity and kind.",
            labels=["context", "severity", "kind"])
        self.errors = CounterMetricFamily(
            "etcdtui_etcdctl_errors", "etcdctl polls through exec that failed, by reason, since the exporter "
            "started (partial: the poll answered but a command failed).", labels=["context", "reason"])
        self.polls = CounterMetricFamily(
            "etcdtui_polls", "Successful etcdctl polls since the exporter started.", labels=["context"])
        self.log_findings = CounterMetricFamily(
            "etcdtui_log_findings", "Findings in the etcd pods' logs (warnings, corruption evidence, corruption "
            "check results) by pod and kind, since the exporter started.", labels=["context", "pod", "kind"])
        self.detections = CounterMetricFamily(
            "etcdtui_detections", "Corruption evidence that appeared for a member, by kind, since the exporter "
            "started.", labels=[*MEMBER, "kind"])

    def all(self) -> Iterator[Metric]:
        yield from self.ring.values()
        yield self.verdict
        yield from self.member.values()
        yield from (self.checks, self.version_risk, self.evidence, self.alarm, self.findings)
        yield from (self.errors, self.polls, self.detections, self.log_findings)

    def add_context(self, ctx: str, state: _ContextState, now: float) -> None:
        snap = state.snapshot
        if state.interval is not None:
            self.ring["etcdtui_poll_interval_seconds"].add_metric([ctx], state.interval)
        for reason, n in sorted(state.etcdctl_errors.items()):
            self.errors.add_metric([ctx, reason], n)
        for (pod, node, member_id, kind), n in sorted(state.detections.items()):
            self.detections.add_metric([ctx, pod, node, member_id, kind], n)
        if state.log_counts is not None:
            for (pod, kind), n in sorted(dict(state.log_counts()).items()):
                self.log_findings.add_metric([ctx, pod, kind], n)
        if snap is None:
            self.ring["etcdtui_ring_status"].add_metric([ctx], exitcodes.UNKNOWN)
            for verdict in Verdict:
                self.verdict.add_metric([ctx, verdict.value], 1 if verdict is Verdict.UNKNOWN else 0)
            self.ring["etcdtui_check_success"].add_metric([ctx], 0)
            self.ring["etcdtui_check_timestamp_seconds"].add_metric([ctx], round(state.failed_at or now, 3))
            return
        self._ring(ctx, snap, now)
        for row in snap.rows:
            self._row(ctx, row, hashed=snap.common_revision is not None)
        rows_by_id = {r.member_id: r for r in snap.rows if r.member_id}
        for member_id, alarm in snap.alarms:
            owner = rows_by_id.get(member_id)
            pod, node, _ = _who(owner) if owner else ("", "", "")
            self.alarm.add_metric([ctx, pod, node, member_id, alarm], 1)
        for (severity, kind), n in sorted(Counter((f.severity.label, f.kind) for f in snap.findings).items()):
            self.findings.add_metric([ctx, severity, kind], n)

    def _ring(self, ctx: str, snap: RingSnapshot, now: float) -> None:
        ring = self.ring
        ring["etcdtui_ring_status"].add_metric([ctx], exit_code(snap))
        word = verdict_word(snap)
        for verdict in Verdict:
            self.verdict.add_metric([ctx, verdict.value], 1 if word == verdict.value else 0)
        ring["etcdtui_ring_members"].add_metric([ctx], snap.members_total)
        if snap.quorum:
            ring["etcdtui_ring_quorum"].add_metric([ctx], snap.quorum)
        if snap.fault_tolerance is not None:
            ring["etcdtui_ring_fault_tolerance"].add_metric([ctx], snap.fault_tolerance)
        live = snap.connection.state is LinkState.LIVE
        ring["etcdtui_api_live"].add_metric([ctx], 1 if live else 0)
        ok = snap.complete and live and snap.exec.status is ExecStatus.OK
        ring["etcdtui_check_success"].add_metric([ctx], 1 if ok else 0)
        data_at = (snap.last_poll_at or snap.taken_at).timestamp()
        ring["etcdtui_check_timestamp_seconds"].add_metric([ctx], round(data_at, 3))
        ring["etcdtui_snapshot_age_seconds"].add_metric([ctx], round(max(0.0, now - data_at), 3))
        if snap.poll_duration is not None and snap.last_poll_at is not None:
            ring["etcdtui_poll_duration_seconds"].add_metric([ctx], round(snap.poll_duration, 4))
        self.polls.add_metric([ctx], snap.polls)

    def _row(self, ctx: str, r: MemberRow, *, hashed: bool) -> None:
        who = [ctx, *_who(r)]
        m = self.member
        if r.healthy is not None:
            m["etcdtui_member_healthy"].add_metric(who, 1 if r.healthy else 0)
        if r.is_leader is not None:
            m["etcdtui_member_leader"].add_metric(who, 1 if r.is_leader else 0)
        if r.member_id is not None and hashed:  # -1 also when this member gave no hash at that revision
            m["etcdtui_member_hash_agrees"].add_metric(who, -1 if r.hash_agrees is None else int(r.hash_agrees))
        if r.revision is not None:
            m["etcdtui_member_revision"].add_metric(who, r.revision)
        if r.db_size is not None:
            m["etcdtui_member_db_size_bytes"].add_metric(who, r.db_size)
        if r.db_size_in_use is not None:
            m["etcdtui_member_db_size_in_use_bytes"].add_metric(who, r.db_size_in_use)
        if r.quota_backend_bytes is not None:
            m["etcdtui_member_db_quota_bytes"].add_metric(who, r.quota_backend_bytes)
        if r.checks is not None:
            for check, on in (("initial", r.checks.initial), ("periodic", r.checks.periodic is not None),
                              ("compaction", r.checks.compaction)):
                if on is not None:
                    self.checks.add_metric([*who, check], 1 if on else 0)
        if r.version_risk is not None:
            self.version_risk.add_metric([*who, r.version or ""], int(r.version_risk))
        for kind in sorted({f.kind for f in r.findings if f.is_corruption}):
            self.evidence.add_metric([*who, kind], 1)


def write_textfile(path: Path, collector: RingCollector) -> None:
    """node_exporter's textfile format, written by prometheus-client (a temp file renamed over FILE)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    write_to_textfile(str(path), registry)
