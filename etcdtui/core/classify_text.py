"""Texts that are not one fixed zap message: raft lines, etcd 3.4 capnslog printf forms, error texts found anywhere in a line, and fatal levels."""

from __future__ import annotations

import re

from etcdtui.core import ids
from etcdtui.core.classify_rules import clip, finding, leading_id
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.logline import CAPNSLOG, ZAP, LogRecord

# Texts matched anywhere in a line (etcd puts them in `error` fields of generic messages).
DATA_INCONSISTENCY = "found data inconsistency with peers"
CORRUPT_CLUSTER = "etcdserver: corrupt cluster"
SPACE_EXCEEDED = "database space exceeded"
WAL_CRC = "wal: crc mismatch"
SNAP_CRC = "snap: crc mismatch"
WALPB_CRC = "walpb: crc mismatch"  # the CRC error wal.ReadAll returns (server/storage/wal/walpb/record.go @ v3.6.14)
NO_SPACE = "etcdserver: no space"  # ErrNoSpace, in `failed to apply request` errors (all versions)
DB_SNAPSHOT_MISMATCH = ") does not match with snapshot (index "  # `database file (%v index %d) does not match …`

# --- raft text (zap msg with logger raft, or capnslog raft lines) -----------------------------------


def raft_text(record: LogRecord, msg: str) -> Finding | None:
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


def capnslog_text(record: LogRecord, msg: str) -> Finding | None:
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
                       record=record, severity=Severity.INFO)
    if msg.startswith("finished peer corruption check"):
        return finding("check.periodic_passed", "Periodic check finished (capnslog does not log the peer count).",
                       record=record, severity=Severity.INFO)
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
        return finding("perf.slow_apply", clip(msg), record=record)
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


def anywhere(record: LogRecord) -> Finding | None:
    raw = record.raw
    if DATA_INCONSISTENCY in raw:
        return finding("corruption.data_inconsistency", f"etcd: {clip(record.msg or raw)}", record=record,
                       member=leading_id(record.msg))
    if CORRUPT_CLUSTER in raw:
        return finding("corruption.corrupt_cluster_error",
                       f"Request refused with 'etcdserver: corrupt cluster' ({clip(record.msg or raw, 80)}).",
                       record=record)
    if SPACE_EXCEEDED in raw:
        return finding("quota.nospace", f"'database space exceeded' ({clip(record.msg or raw, 80)}).", record=record)
    if NO_SPACE in raw:
        return finding("quota.nospace", f"Request refused with 'etcdserver: no space' ({clip(record.msg or raw, 80)}).",
                       record=record)
    if WALPB_CRC in raw:
        return finding("storage.wal_corrupt", f"WAL CRC mismatch: {clip(record.msg or raw)}", record=record)
    if DB_SNAPSHOT_MISMATCH in raw:
        return finding("storage.backend_damaged", f"Database older than the snapshot: {clip(record.msg or raw)}",
                       record=record)
    if WAL_CRC in raw:
        return finding("storage.wal_corrupt", f"WAL CRC mismatch: {clip(record.msg or raw)}", record=record)
    if SNAP_CRC in raw:
        return finding("storage.snap_corrupt", f"Snapshot CRC mismatch: {clip(record.msg or raw)}", record=record)
    return None


def by_level(record: LogRecord) -> Finding | None:
    if record.level in ("panic", "fatal") and record.format in (ZAP, CAPNSLOG):
        error = record.fields.get("error")
        detail = f": {clip(str(error))}" if error else ""
        return finding("fatal.panic", f"etcd {record.level}: {clip(record.msg)}{detail}", record=record)
    return None
