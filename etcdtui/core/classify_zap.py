"""zap messages: the exact-text table (one dict lookup per line) and the few messages with variable text."""

from __future__ import annotations

import re
from collections.abc import Callable

from etcdtui.core import ids
from etcdtui.core.classify_rules import clip, field_of, finding, leading_id, member_field
from etcdtui.core.classify_text import DATA_INCONSISTENCY, anywhere
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import LogRecord

# --- zap messages with a fixed text ---------------------------------------------------------------


def _initial_mismatch(r: LogRecord) -> Finding:
    eps = field_of(r, "remote-peer-endpoints")
    peer = ", ".join(eps) if isinstance(eps, list) else member_field(r, "remote-peer-id") or "a peer"
    return finding(
        "corruption.initial_hash_mismatch",
        f"Initial check: local hash {field_of(r, 'local-member-hash')} != hash {field_of(r, 'remote-peer-hash')} "
        f"of peer {peer} at revision {field_of(r, 'local-member-revision')} "
        f"(compact revision {field_of(r, 'local-member-compact-revision')} on both).",
        record=r, member=member_field(r, "local-member-id"))


def _initial_failed(r: LogRecord) -> Finding:
    error = str(field_of(r, "error") or "")
    if DATA_INCONSISTENCY in error:
        return finding("corruption.initial_check_failed",
                       f"Initial corruption check failed: {error}; etcd refused to start.",
                       record=r, member=leading_id(error))
    return finding("check.initial_error", f"Initial corruption check could not run: {clip(error)}", record=r)


def _startup_failed(r: LogRecord) -> Finding:
    error = str(field_of(r, "error") or "")
    if DATA_INCONSISTENCY in error:
        return finding("corruption.data_inconsistency",
                       f"etcd exited at startup: {error}.", record=r, member=leading_id(error))
    damaged = anywhere(r)  # e.g. `database file (…) does not match with snapshot`: a storage kind, not generic
    if damaged is not None:
        return damaged
    return finding("fatal.startup_failed", f"etcd failed to start ({r.msg}): {clip(error)}", record=r)


def _periodic(text: str) -> Callable[[LogRecord], Finding]:
    def build(r: LogRecord) -> Finding:
        follower = member_field(r, "follower-peer-id")
        who = f"follower {follower}" if follower else "a follower (etcd logged member 0)"
        if r.msg == "found hash mismatch":
            detail = (f"the leader's own hash changed at revision {field_of(r, 'revision-1')} "
                      f"({field_of(r, 'hash-1')} then {field_of(r, 'hash-2')})")
        elif r.msg.startswith("same compact revision"):
            detail = (f"{who} has hash {field_of(r, 'follower-hash')}, leader {field_of(r, 'leader-hash')} "
                      f"at compact revision {field_of(r, 'leader-compact-revision')}")
        elif r.msg.startswith("compact revision"):
            detail = (f"{who} is at compact revision {field_of(r, 'follower-compact-revision')}, ahead of the "
                      f"leader's {field_of(r, 'leader-compact-revision')}")
        else:
            detail = (f"{who} is at revision {field_of(r, 'follower-revision')}, ahead of the leader's "
                      f"{field_of(r, 'leader-revision')}")
        return finding("corruption.periodic_hash_mismatch", f"Periodic check: {text}: {detail}.",
                       record=r, member=follower)
    return build


def _compaction_mismatch(r: LogRecord) -> Finding:
    if r.msg == "failed compaction hash check":
        follower = member_field(r, "follower-peer-id")
        text = (f"Compaction hash check: follower {follower or '(id 0)'} hash {field_of(r, 'follower-hash')} != "
                f"leader hash {field_of(r, 'leader-hash')} at revision {field_of(r, 'revision')}.")
        return finding("corruption.compaction_hash_mismatch", text, record=r, member=follower)
    peers = field_of(r, "peer-ids")
    minority = _minority(r)
    text = (f"Compaction hash check: {r.msg} (leader hash {field_of(r, 'leader-hash')}, peer hash "
            f"{field_of(r, 'peer-hash')}, peers {peers}, compact revision {field_of(r, 'leader-compact-revision')}).")
    if minority:
        text += f" The majority agrees with the leader: member{'s' if len(minority) > 1 else ''} " \
                f"{', '.join(minority)} differ{'' if len(minority) > 1 else 's'}."
    return finding("corruption.compaction_hash_mismatch", text, record=r,
                   member=minority[0] if len(minority) == 1 else None,
                   extra={"minority-members": minority} if minority else None)


def _minority(r: LogRecord) -> list[str]:
    """With `quorum-exist: true` etcd logs one line per hash other than the majority's; `peer-ids` are the
    members holding it (comma-separated hex, types.IDSlice.String; server/etcdserver/corrupt.go @ v3.6.14)."""
    if r.msg != "Detected compaction hash mismatch" or field_of(r, "quorum-exist") is not True:
        return []
    found = [ids.try_normalize(part.strip()) for part in str(field_of(r, "peer-ids") or "").strip("[]").split(",")]
    return [m for m in found if m and not ids.is_unknown(m)]


# wal.Open errors that are not damage: another etcd holds the directory (fileutil.ErrLocked, client/pkg/fileutil/
# lock.go @ v3.6.14) or the files are not readable by this user.
_WAL_NOT_DAMAGED = ("fileutil: file already locked", "permission denied", "resource temporarily unavailable")


def _wal_open_failed(r: LogRecord) -> Finding:
    error = str(field_of(r, "error") or "")
    if any(text in error for text in _WAL_NOT_DAMAGED):
        return finding("fatal.startup_failed", f"etcd could not open its WAL: {clip(error)}", record=r)
    return finding("storage.wal_corrupt", f"Could not open the WAL ({clip(error)}).", record=r)


def _alarm_raised(r: LogRecord) -> Finding:
    alarm = str(field_of(r, "alarm") or "")
    source = member_field(r, "from")
    by = f"for member {source}" if source else "(member 0: etcd does not say which member)"
    if "NOSPACE" in alarm:
        return finding("quota.nospace", f"NOSPACE alarm raised {by}.", record=r, member=source)
    if "CORRUPT" in alarm:
        return finding("corruption.alarm_raised", f"CORRUPT alarm raised {by}: writes are refused.",
                       record=r, member=source)
    return finding("alarm.other", f"Alarm {alarm} raised {by}.", record=r, member=source)


def _alarm_disarmed(r: LogRecord) -> Finding:
    return finding("alarm.disarmed", f"Alarm {field_of(r, 'alarm')} disarmed.", record=r, member=member_field(r, "from"))


def _health_alarm(r: LogRecord) -> Finding | None:
    text = f"{field_of(r, 'alarm') or ''} {field_of(r, 'output') or ''} {field_of(r, 'reason') or ''}"
    if "CORRUPT" in text:
        return finding("corruption.alarm_active", f"Health check refused: {' '.join(text.split())}.", record=r)
    if "NOSPACE" in text:
        return finding("quota.nospace", "Health check refused: NOSPACE alarm active.", record=r)
    return None


def _periodic_finished(r: LogRecord) -> Finding:
    count = field_of(r, "number-of-peers-checked")
    if isinstance(count, int) and count == 0:
        return finding("check.periodic_vacuous", "Periodic check finished but compared 0 peers.", record=r)
    return finding("check.periodic_passed", f"Periodic check passed ({count} peer(s) compared).", record=r)


def _compaction_passed(r: LogRecord) -> Finding:
    count = field_of(r, "number-of-peers-checked")
    return finding("check.compaction_passed",
                   f"Compaction hash check passed at revision {field_of(r, 'revision')} ({count} peer(s)).",
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


ZAP_EXACT: dict[str, Callable[[LogRecord], Finding | None]] = {
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
        record=r, severity=Severity.INFO),
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


def zap_variable(record: LogRecord, msg: str) -> Finding | None:
    if _DEPRECATED.match(msg):
        if msg.startswith("--snapshot-count "):  # 3.6.0–3.6.7 said so; 3.7 kept the flag (CHANGELOG-3.7 PR #21162)
            return finding("config.deprecated_flag", f"{msg} (etcd 3.7 kept --snapshot-count: nothing to change)",
                           record=record, extra={"kept-in-3.7": True})
        return finding("config.deprecated_flag", msg, record=record)
    if msg.startswith(_BBOLT_ERRORS) and (msg.startswith("both") or ") failed: " in msg):
        return finding("storage.backend_damaged", f"bbolt: {clip(msg)}", record=record)
    return None
