"""What each kind of log finding means (RULES: severity, title, why) and how a finding is built from a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etcdtui.core import ids
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import LogRecord


@dataclass(frozen=True, slots=True)
class Rule:
    """What a kind of finding means: default severity, a short title and why an operator should care."""

    kind: str
    severity: Severity
    title: str
    why: str


_C, _W, _I, _O = Severity.CRITICAL, Severity.WARNING, Severity.INFO, Severity.OK
_REPLACE = "Find the member(s) whose data differs and replace them (remove, wipe data dir, re-add)."

RULES: dict[str, Rule] = {
    r.kind: r
    for r in (
        Rule("corruption.initial_hash_mismatch", _C, "initial check: hash differs from a peer",
             "This member's key-value data differs from a peer at the same revision. " + _REPLACE),
        Rule("corruption.initial_check_failed", _C, "initial check failed: data inconsistency",
             "etcd refused to start because its data differs from its peers. " + _REPLACE),
        Rule("corruption.data_inconsistency", _C, "etcd exited: found data inconsistency with peers",
             "The member stops at every start (CrashLoopBackOff) because its data differs. " + _REPLACE),
        Rule("corruption.periodic_hash_mismatch", _C, "periodic check (leader): members disagree",
             "The leader found a member whose data differs; a CORRUPT alarm blocks all writes. " + _REPLACE),
        Rule("corruption.compaction_hash_mismatch", _C, "compaction hash check: members disagree",
             "A member's hash for the same compaction differs from the leader's. " + _REPLACE),
        Rule("corruption.cross_member_hash_mismatch", _C, "members hashed the same compaction differently",
             "Two members logged the same compact revision with different hashes: their data differs. "
             + _REPLACE),
        Rule("corruption.alarm_raised", _C, "CORRUPT alarm raised",
             "The cluster refuses writes (`etcdserver: corrupt cluster`) until the bad member is replaced "
             "and the alarm disarmed."),
        Rule("corruption.alarm_active", _C, "CORRUPT alarm active (health check refused)",
             "A CORRUPT alarm is active: writes fail and kubeadm probes mark etcd unhealthy."),
        Rule("corruption.corrupt_cluster_error", _C, "request refused: etcdserver: corrupt cluster",
             "Clients (kube-apiserver) cannot write: a CORRUPT alarm is active."),
        Rule("check.initial_passed", _O, "initial corruption check passed",
             "The member compared its hash with its peers at start."),
        Rule("check.initial_vacuous", _W, "initial check 'passed' without comparing any peer",
             "etcd says 'passed' but compared no peer (empty member list or every peer skipped): "
             "it is not evidence of health. Compare hashes (`etcdctl endpoint hashkv`)."),
        Rule("check.periodic_passed", _O, "periodic corruption check passed",
             "The leader compared its hash with its followers."),
        Rule("check.periodic_vacuous", _W, "periodic check 'finished' with 0 peers checked",
             "No follower answered, so nothing was compared. Check peer connectivity."),
        Rule("check.compaction_passed", _O, "compaction hash check passed",
             "The leader compared compaction hashes with its followers."),
        Rule("check.inconclusive", _W, "a corruption check skipped a peer",
             "A skipped peer is not compared, so a check can 'pass' without looking at it."),
        Rule("check.initial_error", _W, "initial check could not run",
             "The member could not compute its own hash; no verdict either way."),
        Rule("check.hash_request_refused", _I, "could not answer a peer's hash request",
             "Normal right after compaction or while this member lags; the asking member logs a warning."),
        Rule("check.enabled", _I, "periodic corruption checking enabled", "Configuration."),
        Rule("alarm.other", _W, "alarm raised", "An alarm other than CORRUPT/NOSPACE: read the line."),
        Rule("alarm.disarmed", _I, "alarm disarmed",
             "Someone disarmed an alarm. If the data was not repaired, the check raises it again."),
        Rule("quota.nospace", _W, "NOSPACE: backend quota exceeded",
             "Writes fail until the database is compacted, defragmented and the alarm disarmed."),
        Rule("raft.elected", _I, "became leader", "Leadership moved to this member."),
        Rule("raft.leader_changed", _I, "leader changed", "Normal after restarts; frequent changes mean instability."),
        Rule("raft.leader_lost", _I, "lost the leader", "Normal during a graceful leader restart."),
        Rule("raft.election_started", _I, "election started", "Many elections in a row mean instability."),
        Rule("raft.unstable", _W, "repeated leader loss",
             "The member lost its leader many times in a short window: disk, network or CPU starvation."),
        Rule("raft.no_leader", _W, "no leader", "The cluster had no leader: requests fail."),
        Rule("perf.slow_apply", _I, "slow apply", "Busy or slow member; see disk warnings."),
        Rule("perf.slow_fdatasync", _W, "slow disk (fdatasync)",
             "The WAL disk is too slow; this causes elections and timeouts."),
        Rule("perf.heartbeat_late", _W, "leader heartbeat late",
             "The leader is overloaded (usually slow disk); followers may start elections."),
        Rule("perf.read_index_slow", _W, "slow read index", "Slow consensus or network: reads time out."),
        Rule("peer.unreachable", _I, "peer unreachable", "Expected during restarts; persistent means a peer is down."),
        Rule("peer.clock_drift", _W, "clock drift between members", "Fix NTP on the nodes."),
        Rule("peer.cluster_id_mismatch", _W, "a member of another cluster",
             "A node talks to this cluster with another cluster ID (stale member or wrong --initial-cluster)."),
        Rule("tls.rejected_connection", _I, "TLS connection rejected", "A client or peer has a bad certificate."),
        Rule("storage.wal_corrupt", _W, "WAL damaged",
             "This member's WAL is unreadable and etcd could not repair it: replace the member. Exception: on "
             "3.5.5–3.5.6 after a power loss, start it with 3.5.7+ first, which repairs a torn last record "
             "(CHANGELOG-3.5 v3.5.7, PR #15069)."),
        Rule("storage.wal_repaired", _I, "WAL torn record repaired at start",
             "The member stopped uncleanly (power loss, OOM kill, node crash) and etcd cut the torn last WAL "
             "record. Normal recovery; on a single-member cluster before 3.4.21/3.5.5 acknowledged writes "
             "could be lost (etcd #14370)."),
        Rule("storage.snap_corrupt", _W, "snapshot file damaged", "A .snap file failed its CRC."),
        Rule("storage.raft_log_out_of_range", _W, "raft log lost or truncated",
             "The member's raft log is behind what the cluster committed (data dir restored or wiped): "
             "replace the member."),
        Rule("storage.backend_damaged", _W, "database file damaged or inconsistent",
             "The member's bbolt database cannot be used: replace the member."),
        Rule("storage.key_index_damaged", _W, "key index inconsistent with the database",
             "etcd panicked because its in-memory key index contradicts the stored revisions (e.g. a revision "
             "went backwards after a compaction panic, fixed in 3.4.32/3.5.14): this member's data cannot be "
             "trusted; replace the member."),
        Rule("fatal.startup_failed", _W, "etcd failed to start", "The pod will crash-loop; read the error."),
        Rule("fatal.panic", _W, "etcd panicked or exited fatally", "The pod will crash-loop; read the error."),
        Rule("config.deprecated_flag", _I, "deprecated flag",
             "etcd refuses to start with a flag it no longer defines: rename it before upgrading to the "
             "release the message names (3.7 removed every --experimental-* flag)."),
    )
}


def finding(kind: str, message: str, *, record: LogRecord | None = None, member: str | None = None,
            severity: Severity | None = None, extra: dict[str, Any] | None = None) -> Finding:
    """Build a Finding for `kind` (severity from `RULES` unless given); fields = the line's fields + extra."""
    rule = RULES[kind]
    fields: dict[str, Any] = dict(record.fields) if record is not None else {}
    fields.pop("stacktrace", None)  # long and useless to an operator; the raw line keeps it
    if extra:
        fields.update(extra)
    return Finding(kind=kind, severity=severity if severity is not None else rule.severity,
                   message=message, member=member, fields=fields)


def field_of(record: LogRecord, key: str) -> Any:
    return record.fields.get(key)


def member_field(record: LogRecord, key: str) -> str | None:
    member = ids.try_normalize(field_of(record, key))
    return None if ids.is_unknown(member) else member


def leading_id(text: str) -> str | None:
    """`"699441dbf7f6dc6b found data inconsistency with peers"` → `699441dbf7f6dc6b`."""
    head = text.strip().split(" ", 1)[0] if text else ""
    member = ids.try_normalize(head)
    return None if ids.is_unknown(member) else member


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
