"""Turn one parsed etcd log line into a `Finding` (or None for routine lines).

Keyed on the `msg` field (zap) or the message text (capnslog), **never on `caller`** (line numbers and
file names change between etcd patch releases). Exact zap messages go through one dict lookup; the
few messages with variable text (raft, capnslog printf forms) go through a short list of prefix/
substring checks, and a handful of error texts are matched anywhere in the line because etcd carries
them in an `error` field of otherwise generic messages (etcd-facts §1.2, §1.5, §2).

Severity table (an experienced SRE's reading of etcd-facts; `why` texts live in `RULES`):

| kind | severity | triggered by |
|---|---|---|
| corruption.initial_hash_mismatch | CRITICAL | `found different hash values from remote peer`; capnslog `X's hash H != Y's hash H2 (…)` |
| corruption.initial_check_failed | CRITICAL | `checkInitialHashKV failed` with `found data inconsistency with peers` |
| corruption.data_inconsistency | CRITICAL | `discovery failed` / any line carrying `found data inconsistency with peers` (capnslog `C`) |
| corruption.periodic_hash_mismatch | CRITICAL | `found hash mismatch`, `same compact revision then hashes must match`, follower (compact) revision ahead; capnslog forms |
| corruption.compaction_hash_mismatch | CRITICAL | `failed compaction hash check` (3.5.5+), `Detected compaction hash mismatch…` (3.6) |
| corruption.alarm_raised | CRITICAL | `alarm raised` with CORRUPT (3.4/3.5 only); capnslog `alarm CORRUPT raised by peer …` |
| corruption.alarm_active | CRITICAL | `/health` refused because of a CORRUPT alarm |
| corruption.corrupt_cluster_error | CRITICAL | `etcdserver: corrupt cluster` anywhere (request refused under a CORRUPT alarm) |
| check.initial_passed | INFO here | `initial corruption checking passed; no corruption` — it does not say how many peers were compared (§1.6), so alone it is not OK evidence; `scan.py` upgrades it to OK when the startup showed peers, or turns it into `check.initial_vacuous` (WARNING) |
| check.periodic_passed | OK | `finished peer corruption check` with `number-of-peers-checked` ≥ 1 (capnslog: INFO, count not logged) |
| check.periodic_vacuous | WARNING | the same with 0 peers checked |
| check.compaction_passed | OK | `successfully checked hash on whole cluster`: etcd logs it only when every peer was compared, and it skips a revision with no peer at all (server/etcdserver/corrupt.go @ v3.5.33, v3.6.14), so it never reports 0 peers |
| check.inconclusive | WARNING | a peer was skipped: different compact revision, slow peer, local behind, failed hash kv request, cluster ID mismatch, `Skipped peer's hash`, skipped revision, `failed to check hash KV` |
| check.initial_error | WARNING | `checkInitialHashKV failed` for another reason (local hash failed): no verdict |
| check.hash_request_refused | INFO | `failed to get hashKV`: this member could not answer a peer's hash request (the asker logs the WARNING) |
| check.enabled | INFO | `enabled corruption checking` (interval) |
| alarm.disarmed | INFO | `alarm disarmed` — an operator action; if the data was not repaired the check raises it again |
| quota.nospace | WARNING | NOSPACE alarm raised/active, `message exceeded backend quota`, `database space exceeded`, `etcdserver: no space` (the `failed to apply request` error; on 3.6+ the only apply-side trace, `alarm raised` is gone) |
| raft.elected / raft.leader_changed / raft.leader_lost / raft.election_started | INFO | raft text. A lost leader alone is INFO: every graceful restart of the leader transfers leadership and followers log "lost leader" (the healthy fixtures do); `scan.py` raises `raft.unstable` (WARNING) when it repeats |
| raft.no_leader | WARNING | `serving /health false; no leader` |
| perf.slow_fdatasync / perf.heartbeat_late / perf.read_index_slow | WARNING | slow disk or network: the usual cause of elections and timeouts |
| perf.slow_apply | INFO | `apply request took too long`: the 100 ms default threshold fires on any busy cluster; the disk warnings above are the signal |
| peer.unreachable | INFO | a peer stopped answering: logged by every rolling restart |
| peer.clock_drift / peer.cluster_id_mismatch | WARNING | misconfiguration that breaks leases / a member of another cluster talks to us |
| tls.rejected_connection | INFO | TLS handshake refused (bad client certificate) |
| storage.wal_corrupt / storage.snap_corrupt / storage.raft_log_out_of_range / storage.backend_damaged / storage.key_index_damaged | WARNING | one member's files are damaged: that member must be replaced, the others are not affected (WAL: `walpb:`/`wal: crc mismatch`, `failed to open WAL`, 3.4 `read wal error (…) and cannot be repaired`, `open wal error`; raft `tocommit`/`state.commit … out of range`, `missing log entry`; backend: `failed to recover from snapshot`, `failed to open snapshot backend`, `database file (…) does not match with snapshot`, bbolt panics and 3.6+ bbolt errors; mvcc key-index panics) |
| storage.wal_repaired | INFO | `repaired WAL` (zap, 3.5+: the torn last record of an unclean stop was cut; server/etcdserver/storage.go @ v3.5.33, bootstrap.go @ v3.6.14) |
| fatal.startup_failed / fatal.panic | WARNING | etcd exited; the pod will crash-loop |
| config.deprecated_flag | INFO | etcd 3.6 deprecation warnings `--X is deprecated in (v)3.6 and will be decommissioned in (v)3.7/3.8` (3.7 removed every `--experimental-*` flag) |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from etcdtui.core import ids
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import CAPNSLOG, GO_PANIC, ZAP, LogRecord


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

# zap messages that are never evidence, whatever their fields say (`request stats` carries user keys and
# values, the TCP stream messages network errors), unless logged at error/panic/fatal. `scan.py` skips
# such lines without parsing them, so nothing the scanner's context needs may be listed here.
ROUTINE_MSGS: frozenset[str] = frozenset(
    (
        "added member", "added new remote peer", "closed etcd server", "closing etcd server",
        "cluster version is updated", "cmux::serve", "compacted Raft logs", "configuring client listeners",
        "configuring peer listeners", "enabled backend quota with default value", "enabled capabilities for version",
        "established TCP streaming connection with remote peer", "forcing restart member",
        "initialized peer connections; fast-forwarding election ticks", "kvstore restored",
        "leadership transfer finished", "leadership transfer starting", "No snapshot found. Recovering WAL from scratch!",
        "notifying init daemon", "now serving peer/client/metrics", "opened backend db", "peer became active",
        "published local member to cluster through raft", "ready to serve client requests",
        "received signal; shutting down", "recovered v2 store from snapshot", "recovered v3 backend from snapshot",
        "recovered/added member from store", "removed member", "removed remote peer", "restarting local member",
        "saved snapshot", "server has been already initialized",
        "serving client traffic insecurely; this is strongly discouraged!", "serving peer traffic",
        "set cluster version from store", "set initial cluster version", "set message encoder",
        "setting up initial cluster version using v2 API", "setting up initial cluster version",
        "skipped leadership transfer for single voting member cluster",
        "skipped leadership transfer; local server is not leader", "started HTTP pipelining with remote peer",
        "started remote peer", "started stream reader with remote peer", "started stream writer with remote peer",
        "started to purge file", "starting etcd server", "starting local member", "starting remote peer",
        "stopped HTTP pipelining with remote peer", "stopped TCP streaming connection with remote peer",
        "stopped remote peer", "stopped serving peer traffic", "stopped stream reader with remote peer",
        "stopped stream writer with remote peer", "stopping remote peer", "stopping serving peer traffic",
        "successfully notified init daemon", "triggering snapshot", "closed TCP streaming connection with remote peer",
        "lost TCP streaming connection with remote peer", "failed to find remote peer in cluster",
        "simple token is not cryptographically signed", "request stats",
        "starting compact hash check", "finished compaction hash check",
        "successfully checked hash on follower", "storing new hash", "purged", "compacted raft logs",
        "starting initial election tick advance",
    )
)
QUIET_LEVELS = frozenset({"debug", "info", "warn"})
# Startup messages the scanner reads for context (`scan.py`); never evidence themselves (the `Running: `
# args and the config dump mention "corrupt" flags).
CONTEXT_MSGS = frozenset({"Running: ", "starting an etcd server", "added remote peer",
                          "starting initial corruption check"})
# raft's election chatter (votes, configuration, term bumps); the telling raft lines (became leader, lost
# leader, new election, tocommit out of range) do not match. No quote or backslash: same text in JSON.
RAFT_CHATTER = (
    r"[0-9a-f]{1,16} (?:switched to configuration |became (?:follower|candidate|pre-candidate) at term "
    r"|\[logterm: \d+, index: \d+(?:, vote: [0-9a-f]+)?\] (?:cast|sent|rejected|ignored) "
    r"|\[term:? ?\d+\] (?:received|starts to transfer|ignored) |received Msg\w+ from "
    r"|has received \d+ Msg\w+ votes and |sends MsgTimeoutNow to )[^\"\\\n]*\Z"
)
_RAFT_CHATTER = re.compile(RAFT_CHATTER)

# Texts matched anywhere in a line (etcd puts them in `error` fields of generic messages).
DATA_INCONSISTENCY = "found data inconsistency with peers"
CORRUPT_CLUSTER = "etcdserver: corrupt cluster"
SPACE_EXCEEDED = "database space exceeded"
WAL_CRC = "wal: crc mismatch"
SNAP_CRC = "snap: crc mismatch"
WALPB_CRC = "walpb: crc mismatch"  # the CRC error wal.ReadAll returns (server/storage/wal/walpb/record.go @ v3.6.14)
NO_SPACE = "etcdserver: no space"  # ErrNoSpace, in `failed to apply request` errors (all versions)
DB_SNAPSHOT_MISMATCH = ") does not match with snapshot (index "  # `database file (%v index %d) does not match …`
# bbolt's panics on a damaged file (bbolt v1.3/v1.4/v1.5: freelist, cursor, common/verify); Go panic lines only
_BBOLT_PANIC = re.compile(r"^(?:page \d+ already freed|invalid page type: |assertion failed: )")


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


def classify(record: LogRecord) -> Finding | None:
    """The finding this line is evidence of, or None for routine lines."""
    msg = record.msg
    if record.format == ZAP:
        if record.level in QUIET_LEVELS and (msg in ROUTINE_MSGS or msg in CONTEXT_MSGS
                                             or msg.startswith("newRaft ") or _RAFT_CHATTER.match(msg)):
            return None
        handler = _ZAP_EXACT.get(msg)
        if handler is not None:
            result = handler(record)
            if result is not None:
                return result
        else:
            result = _raft_text(record, msg) or _zap_variable(record, msg)
            if result is not None:
                return result
    elif record.format == CAPNSLOG:
        result = _raft_text(record, msg) if record.package == "raft" else _capnslog_text(record, msg)
        if result is None and record.package == "raft":
            result = _capnslog_text(record, msg)
        if result is not None:
            return result
    elif record.format == GO_PANIC and record.level == "panic":
        if _BBOLT_PANIC.match(msg):
            return finding("storage.backend_damaged", f"bbolt panic (damaged database file): {_clip(msg)}",
                           record=record)
        return _raft_text(record, msg) or finding("fatal.panic", f"Go panic: {_clip(msg)}", record=record)
    return _anywhere(record) or _by_level(record)


# --- zap messages with a fixed text ---------------------------------------------------------------

def _field(record: LogRecord, key: str) -> Any:
    return record.fields.get(key)


def _member(record: LogRecord, key: str) -> str | None:
    member = ids.try_normalize(_field(record, key))
    return None if ids.is_unknown(member) else member


def _initial_mismatch(r: LogRecord) -> Finding:
    eps = _field(r, "remote-peer-endpoints")
    peer = ", ".join(eps) if isinstance(eps, list) else _member(r, "remote-peer-id") or "a peer"
    return finding(
        "corruption.initial_hash_mismatch",
        f"Initial check: local hash {_field(r, 'local-member-hash')} != hash {_field(r, 'remote-peer-hash')} "
        f"of peer {peer} at revision {_field(r, 'local-member-revision')} "
        f"(compact revision {_field(r, 'local-member-compact-revision')} on both).",
        record=r, member=_member(r, "local-member-id"))


def _initial_failed(r: LogRecord) -> Finding:
    error = str(_field(r, "error") or "")
    if DATA_INCONSISTENCY in error:
        return finding("corruption.initial_check_failed",
                       f"Initial corruption check failed: {error}; etcd refused to start.",
                       record=r, member=_leading_id(error))
    return finding("check.initial_error", f"Initial corruption check could not run: {_clip(error)}", record=r)


def _startup_failed(r: LogRecord) -> Finding:
    error = str(_field(r, "error") or "")
    if DATA_INCONSISTENCY in error:
        return finding("corruption.data_inconsistency",
                       f"etcd exited at startup: {error}.", record=r, member=_leading_id(error))
    damaged = _anywhere(r)  # e.g. `database file (…) does not match with snapshot`: a storage kind, not generic
    if damaged is not None:
        return damaged
    return finding("fatal.startup_failed", f"etcd failed to start ({r.msg}): {_clip(error)}", record=r)


def _periodic(text: str) -> Callable[[LogRecord], Finding]:
    def build(r: LogRecord) -> Finding:
        follower = _member(r, "follower-peer-id")
        who = f"follower {follower}" if follower else "a follower (etcd logged member 0)"
        if r.msg == "found hash mismatch":
            detail = (f"the leader's own hash changed at revision {_field(r, 'revision-1')} "
                      f"({_field(r, 'hash-1')} then {_field(r, 'hash-2')})")
        elif r.msg.startswith("same compact revision"):
            detail = (f"{who} has hash {_field(r, 'follower-hash')}, leader {_field(r, 'leader-hash')} "
                      f"at compact revision {_field(r, 'leader-compact-revision')}")
        elif r.msg.startswith("compact revision"):
            detail = (f"{who} is at compact revision {_field(r, 'follower-compact-revision')}, ahead of the "
                      f"leader's {_field(r, 'leader-compact-revision')}")
        else:
            detail = (f"{who} is at revision {_field(r, 'follower-revision')}, ahead of the leader's "
                      f"{_field(r, 'leader-revision')}")
        return finding("corruption.periodic_hash_mismatch", f"Periodic check: {text}: {detail}.",
                       record=r, member=follower)
    return build


def _compaction_mismatch(r: LogRecord) -> Finding:
    if r.msg == "failed compaction hash check":
        follower = _member(r, "follower-peer-id")
        text = (f"Compaction hash check: follower {follower or '(id 0)'} hash {_field(r, 'follower-hash')} != "
                f"leader hash {_field(r, 'leader-hash')} at revision {_field(r, 'revision')}.")
        return finding("corruption.compaction_hash_mismatch", text, record=r, member=follower)
    peers = _field(r, "peer-ids")
    minority = _minority(r)
    text = (f"Compaction hash check: {r.msg} (leader hash {_field(r, 'leader-hash')}, peer hash "
            f"{_field(r, 'peer-hash')}, peers {peers}, compact revision {_field(r, 'leader-compact-revision')}).")
    if minority:
        text += f" The majority agrees with the leader: member{'s' if len(minority) > 1 else ''} " \
                f"{', '.join(minority)} differ{'' if len(minority) > 1 else 's'}."
    return finding("corruption.compaction_hash_mismatch", text, record=r,
                   member=minority[0] if len(minority) == 1 else None,
                   extra={"minority-members": minority} if minority else None)


def _minority(r: LogRecord) -> list[str]:
    """With `quorum-exist: true` etcd logs one line per hash other than the majority's; `peer-ids` are the
    members holding it (comma-separated hex, types.IDSlice.String; server/etcdserver/corrupt.go @ v3.6.14)."""
    if r.msg != "Detected compaction hash mismatch" or _field(r, "quorum-exist") is not True:
        return []
    found = [ids.try_normalize(part.strip()) for part in str(_field(r, "peer-ids") or "").strip("[]").split(",")]
    return [m for m in found if m and not ids.is_unknown(m)]


# wal.Open errors that are not damage: another etcd holds the directory (fileutil.ErrLocked, client/pkg/fileutil/
# lock.go @ v3.6.14) or the files are not readable by this user.
_WAL_NOT_DAMAGED = ("fileutil: file already locked", "permission denied", "resource temporarily unavailable")


def _wal_open_failed(r: LogRecord) -> Finding:
    error = str(_field(r, "error") or "")
    if any(text in error for text in _WAL_NOT_DAMAGED):
        return finding("fatal.startup_failed", f"etcd could not open its WAL: {_clip(error)}", record=r)
    return finding("storage.wal_corrupt", f"Could not open the WAL ({_clip(error)}).", record=r)


def _alarm_raised(r: LogRecord) -> Finding:
    alarm = str(_field(r, "alarm") or "")
    source = _member(r, "from")
    by = f"for member {source}" if source else "(member 0: etcd does not say which member)"
    if "NOSPACE" in alarm:
        return finding("quota.nospace", f"NOSPACE alarm raised {by}.", record=r, member=source)
    if "CORRUPT" in alarm:
        return finding("corruption.alarm_raised", f"CORRUPT alarm raised {by}: writes are refused.",
                       record=r, member=source)
    return finding("alarm.other", f"Alarm {alarm} raised {by}.", record=r, member=source)


def _alarm_disarmed(r: LogRecord) -> Finding:
    return finding("alarm.disarmed", f"Alarm {_field(r, 'alarm')} disarmed.", record=r, member=_member(r, "from"))


def _health_alarm(r: LogRecord) -> Finding | None:
    text = f"{_field(r, 'alarm') or ''} {_field(r, 'output') or ''} {_field(r, 'reason') or ''}"
    if "CORRUPT" in text:
        return finding("corruption.alarm_active", f"Health check refused: {' '.join(text.split())}.", record=r)
    if "NOSPACE" in text:
        return finding("quota.nospace", "Health check refused: NOSPACE alarm active.", record=r)
    return None


def _periodic_finished(r: LogRecord) -> Finding:
    count = _field(r, "number-of-peers-checked")
    if isinstance(count, int) and count == 0:
        return finding("check.periodic_vacuous", "Periodic check finished but compared 0 peers.", record=r)
    return finding("check.periodic_passed", f"Periodic check passed ({count} peer(s) compared).", record=r)


def _compaction_passed(r: LogRecord) -> Finding:
    count = _field(r, "number-of-peers-checked")
    return finding("check.compaction_passed",
                   f"Compaction hash check passed at revision {_field(r, 'revision')} ({count} peer(s)).",
                   record=r)


def _simple(kind: str, text: str, *keys: str) -> Callable[[LogRecord], Finding]:
    """A finding whose message is `text` followed by the given fields, when present."""
    def build(r: LogRecord) -> Finding:
        shown = [f"{k}={r.fields[k]}" for k in keys if k in r.fields]
        suffix = f" ({', '.join(shown)})" if shown else ""
        return finding(kind, f"{text}{suffix}.", record=r)
    return build


def _inconclusive(text: str) -> Callable[[LogRecord], Finding]:
    return _simple("check.inconclusive", text, "remote-peer-endpoint", "remote-peer-endpoints", "peer-id",
                   "reason", "error", "number-of-peers-checked", "number-of-peers")


_ZAP_EXACT: dict[str, Callable[[LogRecord], Finding | None]] = {
    # initial check (§1.2)
    "found different hash values from remote peer": _initial_mismatch,
    "checkInitialHashKV failed": _initial_failed,
    "discovery failed": _startup_failed,
    "found different compact revision values from remote peer":
        _inconclusive("Initial check skipped a peer: different compact revision"),
    "cannot fetch hash from slow remote peer": _inconclusive("Initial check skipped a peer that is behind"),
    "cannot fetch hash from remote peer; local member is behind":
        _inconclusive("Initial check skipped a peer: this member is behind (compacted)"),
    "cluster ID mismatch": _inconclusive("Corruption check skipped a peer of another cluster"),
    "failed hash kv request": _inconclusive("Corruption check could not get a peer's hash"),
    "initial corruption checking passed; no corruption": lambda r: finding(
        "check.initial_passed", "Initial corruption check passed (etcd does not log how many peers it compared).",
        record=r, severity=_I),
    # periodic check (§1.3)
    "enabled corruption checking": _simple("check.enabled", "Periodic corruption checking enabled", "interval"),
    "finished peer corruption check": _periodic_finished,
    "found hash mismatch": _periodic("the leader's hash changed at the same revision"),
    "revision from follower must be less than or equal to leader's": _periodic("follower ahead of leader"),
    "compact revision from follower must be less than or equal to leader's":
        _periodic("follower compacted beyond the leader"),
    "same compact revision then hashes must match": _periodic("hashes differ"),
    "failed to check hash KV": _inconclusive("Periodic check aborted"),
    "failed to get hashKV": _simple("check.hash_request_refused", "Could not answer a peer's hash request",
                                    "requested-revision", "error"),
    # compaction hash check (§1.4)
    "failed compaction hash check": _compaction_mismatch,
    "Detected compaction hash mismatch": _compaction_mismatch,
    "Detected compaction hash mismatch but cannot identify the corrupted members, so intentionally set the "
    "memberID as 0": _compaction_mismatch,
    "successfully checked hash on whole cluster": _compaction_passed,
    "skipped revision in compaction hash check; was not able to check all peers":
        _inconclusive("Compaction hash check skipped a revision"),
    "Skipped peer's hash": _inconclusive("Compaction hash check skipped a peer"),
    # alarms and quota (§1.5). `alarm raised`/`alarm disarmed` exist up to 3.5 only (etcdserver/apply.go @ v3.4.45,
    # server/etcdserver/apply.go @ v3.5.33; absent from server/ @ v3.6.0): on 3.6+ an alarm shows as the leader's
    # detection line, `failed to apply request` with ErrCorrupt/ErrNoSpace and /health, /readyz failures.
    "alarm raised": _alarm_raised,
    "alarm disarmed": _alarm_disarmed,
    "serving /health false due to an alarm": _health_alarm,
    "/health error": _health_alarm,
    "Health check error": _health_alarm,
    "message exceeded backend quota; raising alarm": _simple(
        "quota.nospace", "Backend quota exceeded; NOSPACE alarm raised", "quota-size"),
    # performance, peers, TLS (§2)
    "apply request took too long": _simple("perf.slow_apply", "Slow apply", "took", "expected-duration"),
    "slow fdatasync": _simple("perf.slow_fdatasync", "Slow WAL fdatasync", "took", "expected-duration"),
    "leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk":
        _simple("perf.heartbeat_late", "Leader sent a heartbeat late", "to", "exceeded-duration"),
    "waiting for ReadIndex response took too long, retrying":
        _simple("perf.read_index_slow", "ReadIndex response slow, retrying", "retry-timeout"),
    "timed out waiting for read index response (local node might have slow network)":
        _simple("perf.read_index_slow", "Timed out waiting for a read index response", "timeout"),
    "prober detected unhealthy status": _simple("peer.unreachable", "Peer probe failed", "remote-peer-id", "error"),
    "peer became inactive (message send to peer failed)":
        _simple("peer.unreachable", "Peer became inactive", "peer-id", "error"),
    "failed to reach the peer URL": _simple("peer.unreachable", "Could not reach a peer", "address"),
    "prober found high clock drift": _simple("peer.clock_drift", "High clock drift to a peer",
                                             "remote-peer-id", "clock-drift"),
    "request cluster ID mismatch": _simple("peer.cluster_id_mismatch", "A peer of another cluster contacted us",
                                           "remote-peer-server-name", "remote-peer-cluster-id"),
    "rejected connection": _simple("tls.rejected_connection", "TLS connection rejected", "remote-addr", "error"),
    "rejected connection on client endpoint": _simple("tls.rejected_connection", "Client TLS connection rejected",
                                                      "remote-addr", "error"),
    "rejected connection on peer endpoint": _simple("tls.rejected_connection", "Peer TLS connection rejected",
                                                    "remote-addr", "error"),
    "serving /health false; no leader": _simple("raft.no_leader", "Health check: no leader"),
    # storage (§2)
    "failed to read WAL, cannot be repaired": _simple("storage.wal_corrupt", "WAL cannot be read", "error"),
    "failed to repair WAL": _simple("storage.wal_corrupt", "WAL repair failed", "error"),
    "snap file is corrupt": _simple("storage.snap_corrupt", "Snapshot file failed its CRC", "path"),
    "failed to recover v3 backend from snapshot": _simple("storage.backend_damaged",
                                                          "Could not recover the database from the snapshot", "error"),
    "failed to open database": _simple("storage.backend_damaged", "Could not open the database", "path", "error"),
    "repaired WAL": _simple("storage.wal_repaired", "Repaired a torn WAL record after an unclean stop", "error"),
    "failed to open WAL": _wal_open_failed,
    "failed to recover from snapshot": _simple("storage.backend_damaged",
                                               "Could not recover from the snapshot", "error"),
    "failed to open snapshot backend": _simple("storage.backend_damaged",
                                               "Could not open the database received in a snapshot", "error"),
    "'put' with an unexpected smaller revision": _simple(
        "storage.key_index_damaged", "Key index: a put with a smaller revision than the key's last",
        "given-revision-main", "modified-revision-main"),
    "'tombstone' got an unexpected empty keyIndex": _simple("storage.key_index_damaged",
                                                            "Key index: tombstone on an empty key index"),
    "'get' got an unexpected empty keyIndex": _simple("storage.key_index_damaged",
                                                      "Key index: get on an empty key index"),
    "'since' got an unexpected empty keyIndex": _simple("storage.key_index_damaged",
                                                        "Key index: since on an empty key index"),
    "'compact' got an unexpected empty keyIndex": _simple("storage.key_index_damaged",
                                                          "Key index: compaction of an empty key index"),
    "consistent index was never saved": _simple("storage.backend_damaged", "Consistent index was never saved",
                                                "snapshot-index"),
    "range failed to find revision pair": _simple("storage.backend_damaged",
                                                  "Index and database disagree (revision pair missing)",
                                                  "revision-main", "revision-sub"),
    # startup (§2)
    "failed to start etcd": _startup_failed,
    "failed to start": _startup_failed,
    "listener failed": _startup_failed,
    "failed to verify flags": _startup_failed,
}


# `--X is deprecated in 3.6 and will be decommissioned in 3.7.` and the `v3.6`/`v3.7` and 3.8 spellings of
# server/etcdmain/config.go `deprecatedFlags` @ v3.6.14 (logged with lg.Warn(msg)).
_DEPRECATED = re.compile(r"^--[\w.-]+ is deprecated\b")
# bbolt's own error lines, logged through etcd's zap logger named "bbolt" from 3.6 (server/storage/backend/
# backend.go newBoltLoggerZap @ v3.6.14; bbolt db.go @ v1.4.3 / v1.5.0).
_BBOLT_ERRORS = ("both meta pages are invalid", "Opening bbolt db (")


def _zap_variable(record: LogRecord, msg: str) -> Finding | None:
    if _DEPRECATED.match(msg):
        if msg.startswith("--snapshot-count "):  # 3.6.0–3.6.7 said so; 3.7 kept the flag (CHANGELOG-3.7 PR #21162)
            return finding("config.deprecated_flag", f"{msg} (etcd 3.7 kept --snapshot-count: nothing to change)",
                           record=record, extra={"kept-in-3.7": True})
        return finding("config.deprecated_flag", msg, record=record)
    if msg.startswith(_BBOLT_ERRORS) and (msg.startswith("both") or ") failed: " in msg):
        return finding("storage.backend_damaged", f"bbolt: {_clip(msg)}", record=record)
    return None


# --- raft text (zap msg with logger raft, or capnslog raft lines) -----------------------------------

def _raft_text(record: LogRecord, msg: str) -> Finding | None:
    if " became leader at term " in msg:
        return finding("raft.elected", msg, record=record)
    if msg.startswith("raft.node: "):
        if " lost leader " in msg:
            return finding("raft.leader_lost", msg, record=record)
        if " elected leader " in msg or " changed leader from " in msg:
            return finding("raft.leader_changed", msg, record=record)
        return None
    if " is starting a new election at term " in msg:
        return finding("raft.election_started", msg, record=record)
    if msg.startswith("tocommit(") and " is out of range " in msg:
        return finding("storage.raft_log_out_of_range", msg, record=record)
    # raft.go `%x state.commit %d is out of range [%d, %d]` (loading a HardState beyond the log) and
    # storage.go `missing log entry [last: %d, append at: %d]` (etcd raft/ @ v3.4.45, etcd-io/raft @ v3.6.0, v3.7.0)
    # log.go `applied(%d) is out of range [prevApplied(%d), committed(%d)]`: the database was applied beyond
    # what the WAL committed (same tags)
    if (" state.commit " in msg and " is out of range [" in msg) or msg.startswith("missing log entry [last: ") \
            or (msg.startswith("applied(") and " is out of range [prevApplied(" in msg):
        return finding("storage.raft_log_out_of_range", msg, record=record)
    return None


# --- etcd 3.4 capnslog printf texts (etcd-facts §1.2–§2) ------------------------------------------

_CAP_INITIAL = re.compile(
    r"^(?P<local>\w+)'s hash (?P<lhash>\d+) != (?P<peer>\w+)'s hash (?P<phash>\d+) "
    r"\(revision (?P<rev>\d+), peer revision (?P<prev>\d+), compact revision (?P<crev>-?\d+)\)")
_CAP_HASH = re.compile(r"^hash (?P<fhash>\d+) at revision (?P<rev>\d+) from member (?P<id>\w+), expected hash (?P<lhash>\d+)")
_CAP_COMPACT_AHEAD = re.compile(r"^compact revision (?P<frev>-?\d+) from member (?P<id>\w+), expected at most (?P<lrev>-?\d+)")
_CAP_REV_AHEAD = re.compile(r"^revision (?P<frev>\d+) from member (?P<id>\w+), expected at most (?P<lrev>\d+)")
_CAP_SELF = re.compile(r"^mismatched hashes (?P<h1>\d+) and (?P<h2>\d+) for revision (?P<rev>\d+)")
_CAP_ALARM = re.compile(r"^alarm (?P<alarm>\w+) raised by peer (?P<id>\w+)")


def _capnslog_text(record: LogRecord, msg: str) -> Finding | None:
    m = _CAP_INITIAL.match(msg)
    if m:
        return finding("corruption.initial_hash_mismatch",
                       f"Initial check: local hash {m['lhash']} != peer hash {m['phash']} at revision {m['rev']} "
                       f"(compact revision {m['crev']}).", record=record, member=ids.try_normalize(m["local"]),
                       extra={"local-member-hash": int(m["lhash"]), "remote-peer-hash": int(m["phash"])})
    for pattern, what in ((_CAP_HASH, "hashes differ"), (_CAP_COMPACT_AHEAD, "follower compacted beyond the leader"),
                          (_CAP_REV_AHEAD, "follower ahead of leader"),
                          (_CAP_SELF, "the leader's hash changed at the same revision")):
        m = pattern.match(msg)
        if m:
            member = ids.try_normalize(m.groupdict().get("id"))
            return finding("corruption.periodic_hash_mismatch", f"Periodic check: {what}: {msg}.",
                           record=record, member=None if ids.is_unknown(member) else member)
    m = _CAP_ALARM.match(msg)
    if m:
        kind = "quota.nospace" if m["alarm"] == "NOSPACE" else "corruption.alarm_raised"
        return finding(kind, f"{m['alarm']} alarm raised (peer {m['id']}).", record=record, extra={"alarm": m["alarm"]})
    if "cannot check hash of peer(" in msg or "cannot check the hash of peer(" in msg or " hash-kv error " in msg:
        return finding("check.inconclusive", f"Corruption check skipped a peer: {msg}", record=record)
    if msg.endswith("succeeded on initial corruption checking: no corruption"):
        return finding("check.initial_passed", "Initial corruption check passed (peer count not logged).",
                       record=record, severity=_I)
    if msg.startswith("finished peer corruption check"):
        return finding("check.periodic_passed", "Periodic check finished (capnslog does not log the peer count).",
                       record=record, severity=_I)
    if msg.startswith("enabled corruption checking"):
        return finding("check.enabled", msg, record=record)
    if msg.startswith("alarm disarmed"):
        return finding("alarm.disarmed", msg, record=record)
    if msg.startswith("/health error due to "):
        if "CORRUPT" in msg:
            return finding("corruption.alarm_active", f"Health check refused: {msg}", record=record)
        if "NOSPACE" in msg:
            return finding("quota.nospace", f"Health check refused: {msg}", record=record)
    if msg.startswith("applying raft message exceeded backend quota"):
        return finding("quota.nospace", msg, record=record)
    if msg.startswith("sync duration of "):
        return finding("perf.slow_fdatasync", msg, record=record)
    if msg.startswith("failed to send out heartbeat on time"):
        return finding("perf.heartbeat_late", msg, record=record)
    if " took too long (" in msg and msg.endswith(" to execute"):
        return finding("perf.slow_apply", _clip(msg), record=record)
    if msg.startswith("health check for peer ") and " could not connect" in msg:
        return finding("peer.unreachable", msg, record=record)
    if msg.startswith("the clock difference against peer "):
        return finding("peer.clock_drift", msg, record=record)
    if msg.startswith("rejected connection from "):
        return finding("tls.rejected_connection", msg, record=record)
    if msg.startswith("consistent index never saved"):
        return finding("storage.backend_damaged", msg, record=record)
    # etcd 3.4 capnslog fatal/panic texts (etcdserver/storage.go, server.go @ v3.4.45)
    if (msg.startswith("read wal error (") and msg.endswith(") and cannot be repaired")) \
            or msg.startswith("open wal error: "):
        return finding("storage.wal_corrupt", msg, record=record)
    if msg.startswith("recovering backend from snapshot error: "):
        return finding("storage.backend_damaged", msg, record=record)
    if msg.startswith("store.keyindex: ") and ("unexpected" in msg or "cannot restore" in msg):
        return finding("storage.key_index_damaged", msg, record=record)  # mvcc/key_index.go @ v3.4.45
    return None


# --- texts found anywhere, then the level as a last resort ----------------------------------------

def _anywhere(record: LogRecord) -> Finding | None:
    raw = record.raw
    if DATA_INCONSISTENCY in raw:
        return finding("corruption.data_inconsistency", f"etcd: {_clip(record.msg or raw)}", record=record,
                       member=_leading_id(record.msg))
    if CORRUPT_CLUSTER in raw:
        return finding("corruption.corrupt_cluster_error",
                       f"Request refused with 'etcdserver: corrupt cluster' ({_clip(record.msg or raw, 80)}).",
                       record=record)
    if SPACE_EXCEEDED in raw:
        return finding("quota.nospace", f"'database space exceeded' ({_clip(record.msg or raw, 80)}).", record=record)
    if NO_SPACE in raw:
        return finding("quota.nospace", f"Request refused with 'etcdserver: no space' ({_clip(record.msg or raw, 80)}).",
                       record=record)
    if WALPB_CRC in raw:
        return finding("storage.wal_corrupt", f"WAL CRC mismatch: {_clip(record.msg or raw)}", record=record)
    if DB_SNAPSHOT_MISMATCH in raw:
        return finding("storage.backend_damaged", f"Database older than the snapshot: {_clip(record.msg or raw)}",
                       record=record)
    if WAL_CRC in raw:
        return finding("storage.wal_corrupt", f"WAL CRC mismatch: {_clip(record.msg or raw)}", record=record)
    if SNAP_CRC in raw:
        return finding("storage.snap_corrupt", f"Snapshot CRC mismatch: {_clip(record.msg or raw)}", record=record)
    return None


def _by_level(record: LogRecord) -> Finding | None:
    if record.level in ("panic", "fatal") and record.format in (ZAP, CAPNSLOG):
        error = record.fields.get("error")
        detail = f": {_clip(str(error))}" if error else ""
        return finding("fatal.panic", f"etcd {record.level}: {_clip(record.msg)}{detail}", record=record)
    return None


def _leading_id(text: str) -> str | None:
    """`"699441dbf7f6dc6b found data inconsistency with peers"` → `699441dbf7f6dc6b`."""
    head = text.strip().split(" ", 1)[0] if text else ""
    member = ids.try_normalize(head)
    return None if ids.is_unknown(member) else member


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
