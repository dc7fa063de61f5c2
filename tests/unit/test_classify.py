"""Every classifier rule, driven by a table: real fixture lines where etcd 3.4.23/3.5.1 produced them, lines
written from etcd-facts (exact `msg` strings and fields of 3.5.5+/3.6, capnslog printf forms) otherwise.

Removing or changing a rule makes its row fail; `test_every_exact_message_has_a_row` and
`test_every_kind_is_produced` make sure no rule goes untested.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from etcdtui.core.classify import classify
from etcdtui.core.classify_rules import RULES
from etcdtui.core.classify_zap import ZAP_EXACT
from etcdtui.core.findings import Severity
from etcdtui.core.logline import parse_line

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
C, W, INF, OK = Severity.CRITICAL, Severity.WARNING, Severity.INFO, Severity.OK


@cache
def _fixture_lines() -> tuple[str, ...]:
    lines: list[str] = []
    for directory in ("etcd-logs", "etcd-13766"):
        for path in sorted((FIXTURES / directory).glob("*.log")):
            lines.extend(path.read_text(errors="replace").splitlines())
    return tuple(lines)


def real(*needles: str) -> str:
    """The first fixture line containing every needle (a real line etcd wrote)."""
    for line in _fixture_lines():
        if all(n in line for n in needles):
            return line
    raise AssertionError(f"no fixture line with {needles}")


def zap(msg: str, level: str = "warn", **fields: Any) -> str:
    """A zap line as etcd 3.5.8+/3.4.24+/3.6 writes it (µs timestamp: CHANGELOG-3.5 v3.5.8 PR #15240, CHANGELOG-3.4
    v3.4.24 PR #15241; 3.5.6 only unified the format, PR #14799); field names use '_' for '-'."""
    head = {"level": level, "ts": "2026-11-24T09:30:00.123456Z", "caller": "somewhere/file.go:1", "msg": msg}
    head.update({k.replace("_", "-"): v for k, v in fields.items()})
    return json.dumps(head)


def cap(letter: str, package: str, text: str) -> str:
    return f"2026-11-24 09:28:56.285092 {letter} | {package}: {text}"


DETECTED = "Detected compaction hash mismatch"
DB = "/var/lib/etcd/member/snap/db"
# Rows built from etcd's own source at the tag in the id (message text, zap fields, level), issue 15.
UPSTREAM_CASES: list[tuple[str, str, str, Severity]] = [
    # 3.6+ has no `alarm raised`: a CORRUPT/NOSPACE alarm shows in `failed to apply request` (lg.Warn, fields
    # took/request/response/error) with ErrCorrupt / ErrNoSpace
    ("failed to apply corrupt @ server/etcdserver/txn/util.go v3.6.14",
     zap("failed to apply request", took="12.3µs", request="header:<ID:7> put:<key:\"/a\" >", response="",
         error="etcdserver: corrupt cluster"), "corruption.corrupt_cluster_error", C),
    ("failed to apply no space @ server/etcdserver/txn/util.go v3.7.1 + errors/errors.go ErrNoSpace",
     zap("failed to apply request", took="9µs", request="header:<ID:8> put:<key:\"/b\" >", response="",
         error="etcdserver: no space"), "quota.nospace", W),
    ("failed to apply no space @ etcdserver/util.go v3.4.45 (capnslog form)",
     cap("W", "etcdserver", 'failed to apply request "header:<ID:8> put:<key:\"/b\" >" with response "" took (9µs) '
         "to execute, err is etcdserver: no space"), "quota.nospace", W),
    ("readyz data_corruption @ server/etcdserver/api/etcdhttp/health.go v3.6.14",
     zap("Health check error", "error", path="/readyz", reason="[+]serializable_read ok\n[-]data_corruption failed: "
         "alarm activated: CORRUPT\n", status_code=503), "corruption.alarm_active", C),
    # WAL
    ("walpb crc @ server/storage/wal/walpb/record.go v3.6.14",
     zap("failed to read WAL, cannot be repaired", "fatal", error="walpb: crc mismatch"), "storage.wal_corrupt", W),
    ("walpb crc in another message @ server/wal/walpb/record.go v3.5.33",
     zap("failed to load WAL", "warn", error="walpb: crc mismatch"), "storage.wal_corrupt", W),
    ("repaired WAL @ server/etcdserver/storage.go v3.5.33 (lg.Info)",
     zap("repaired WAL", "info", error="unexpected EOF"), "storage.wal_repaired", INF),
    ("failed to open WAL @ server/etcdserver/bootstrap.go v3.7.1",
     zap("failed to open WAL", "fatal", error="wal: file not found"), "storage.wal_corrupt", W),
    ("failed to open WAL locked @ client/pkg/fileutil/lock.go ErrLocked v3.6.14 (not damage)",
     zap("failed to open WAL", "fatal", error="fileutil: file already locked"), "fatal.startup_failed", W),
    ("read wal error @ etcdserver/storage.go v3.4.45",
     cap("C", "etcdserver", "read wal error (walpb: crc mismatch) and cannot be repaired"), "storage.wal_corrupt", W),
    ("open wal error @ etcdserver/storage.go v3.4.45",
     cap("C", "etcdserver", "open wal error: wal: file not found"), "storage.wal_corrupt", W),
    # backend
    ("recovering backend @ etcdserver/server.go v3.4.45 (capnslog Panicf logs at CRITICAL: C)",
     cap("C", "etcdserver", "recovering backend from snapshot error: database snapshot file path error: x"),
     "storage.backend_damaged", W),
    ("failed to recover from snapshot @ server/etcdserver/bootstrap.go v3.6.14",
     zap("failed to recover from snapshot", "panic", error="x"), "storage.backend_damaged", W),
    ("failed to open snapshot backend @ server/etcdserver/server.go v3.7.1",
     zap("failed to open snapshot backend", "panic", error="x"), "storage.backend_damaged", W),
    ("db does not match snapshot @ server/etcdserver/bootstrap.go v3.7.1 (returned to etcdmain/etcd.go)",
     zap("discovery failed", "fatal", error=f"database file ({DB} index 100) does not match with snapshot (index 200)"),
     "storage.backend_damaged", W),
    ("bbolt meta @ bbolt db.go v1.4.3 via backend.go newBoltLoggerZap v3.6.14",
     zap("both meta pages are invalid, meta0: invalid database, meta1: invalid database", "error", logger="bbolt"),
     "storage.backend_damaged", W),
    ("bbolt open @ bbolt db.go v1.5.0 via backend.go v3.7.1",
     zap(f"Opening bbolt db ({DB}) failed: invalid database", "error", logger="bbolt"), "storage.backend_damaged", W),
    ("bbolt freed @ bbolt internal/freelist/shared.go v1.4.3", "panic: page 42 already freed",
     "storage.backend_damaged", W),
    ("bbolt page type @ bbolt cursor.go v1.5.0", "panic: invalid page type: 7: 10", "storage.backend_damaged", W),
    ("bbolt assertion @ bbolt internal/common/page.go v1.5.0",
     "panic: assertion failed: Page expected to be: 7, but self identifies as 0", "storage.backend_damaged", W),
    # raft (etcd raft/ v3.4.45, etcd-io/raft v3.6.0 and v3.7.0)
    ("state.commit @ raft.go etcd-io/raft v3.7.0",
     zap("8e9e05c52164694d state.commit 120 is out of range [100, 110]", "panic", logger="raft"),
     "storage.raft_log_out_of_range", W),
    ("state.commit capnslog @ raft/raft.go v3.4.45",
     cap("C", "raft", "8e9e05c52164694d state.commit 120 is out of range [100, 110]"), "storage.raft_log_out_of_range", W),
    ("applied out of range @ log.go etcd-io/raft v3.6.0",
     zap("applied(200) is out of range [prevApplied(0), committed(150)]", "panic", logger="raft"),
     "storage.raft_log_out_of_range", W),
    ("missing log entry @ storage.go etcd-io/raft v3.6.0",
     zap("missing log entry [last: 110, append at: 120]", "panic", logger="raft"), "storage.raft_log_out_of_range", W),
    ("missing log entry go panic @ raft/storage.go v3.4.45", "panic: missing log entry [last: 110, append at: 120]",
     "storage.raft_log_out_of_range", W),
    # mvcc key index panics
    ("put smaller revision @ server/storage/mvcc/key_index.go v3.6.14",
     zap("'put' with an unexpected smaller revision", "panic", given_revision_main=5, given_revision_sub=0,
         modified_revision_main=9, modified_revision_sub=0), "storage.key_index_damaged", W),
    ("compact empty keyIndex @ server/mvcc/key_index.go v3.5.33",
     zap("'compact' got an unexpected empty keyIndex", "panic", key="/registry/x"), "storage.key_index_damaged", W),
    ("tombstone empty keyIndex @ server/storage/mvcc/key_index.go v3.7.1",
     zap("'tombstone' got an unexpected empty keyIndex", "panic", key="/a"), "storage.key_index_damaged", W),
    ("get empty keyIndex @ server/storage/mvcc/key_index.go v3.7.1",
     zap("'get' got an unexpected empty keyIndex", "panic", key="/a"), "storage.key_index_damaged", W),
    ("since empty keyIndex @ server/storage/mvcc/key_index.go v3.7.1",
     zap("'since' got an unexpected empty keyIndex", "panic", key="/a"), "storage.key_index_damaged", W),
    ("keyindex capnslog @ mvcc/key_index.go v3.4.45",
     cap("C", "mvcc", "store.keyindex: put with unexpected smaller revision [{5 0} / {9 0}]"),
     "storage.key_index_damaged", W),
    # deprecations (server/etcdmain/config.go deprecatedFlags v3.6.14 / v3.6.0)
    ("deprecated v-spelling @ server/etcdmain/config.go v3.6.14",
     zap("--experimental-corrupt-check-time is deprecated in v3.6 and will be decommissioned in v3.7. Use "
         "'--corrupt-check-time' instead."), "config.deprecated_flag", INF),
    ("deprecated 3.8 @ server/etcdmain/config.go v3.6.14",
     zap("--max-snapshots is deprecated in 3.6 and will be decommissioned in 3.8."), "config.deprecated_flag", INF),
    ("deprecated snapshot-count @ server/etcdmain/config.go v3.6.0",
     zap("--snapshot-count is deprecated in 3.6 and will be decommissioned in 3.7."), "config.deprecated_flag", INF),
]
DETECTED_NO_QUORUM = (
    "Detected compaction hash mismatch but cannot identify the corrupted members, so intentionally set the memberID as 0"
)
HEARTBEAT = "leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk"

CASES: list[tuple[str, str, str, Severity]] = [
    # --- initial check (real 3.4.23/3.5.1 lines) ---
    ("initial mismatch", real('"found different hash values from remote peer"'), "corruption.initial_hash_mismatch", C),
    ("initial failed", real('"checkInitialHashKV failed"'), "corruption.initial_check_failed", C),
    ("discovery failed", real('"discovery failed"', "found data inconsistency"), "corruption.data_inconsistency", C),
    ("slow peer", real('"cannot fetch hash from slow remote peer"'), "check.inconclusive", W),
    ("hash kv request", real('"failed hash kv request"'), "check.inconclusive", W),
    ("initial passed", real('"initial corruption checking passed; no corruption"'), "check.initial_passed", INF),
    ("compact rev differs", zap("found different compact revision values from remote peer"), "check.inconclusive", W),
    ("local behind", zap("cannot fetch hash from remote peer; local member is behind"), "check.inconclusive", W),
    ("cluster id", zap("cluster ID mismatch", remote_peer_endpoints=["https://10.0.0.2:2380"]), "check.inconclusive", W),
    ("initial error", zap("checkInitialHashKV failed", "error", error="eb15 failed to fetch hash (x)"),
     "check.initial_error", W),
    # --- periodic check ---
    ("enabled", real('"enabled corruption checking"'), "check.enabled", INF),
    ("periodic passed", real('"number-of-peers-checked":2'), "check.periodic_passed", OK),
    ("periodic vacuous", real('"number-of-peers-checked":0'), "check.periodic_vacuous", W),
    ("follower ahead", real("revision from follower must be less than or equal"), "corruption.periodic_hash_mismatch", C),
    ("hashes must match", real('"same compact revision then hashes must match"'), "corruption.periodic_hash_mismatch", C),
    ("leader self", zap("found hash mismatch", revision_1=5, hash_1=1, revision_2=5, hash_2=2),
     "corruption.periodic_hash_mismatch", C),
    ("compact ahead", zap("compact revision from follower must be less than or equal to leader's",
                          follower_peer_id="2b994662ff979bd"), "corruption.periodic_hash_mismatch", C),
    ("check aborted", zap("failed to check hash KV", error="context deadline exceeded"), "check.inconclusive", W),
    ("hash refused", real('"failed to get hashKV"'), "check.hash_request_refused", INF),
    # --- compaction hash check (3.5.5+ / 3.6, from source) ---
    ("compaction 3.5", zap("failed compaction hash check", "error", revision=100, leader_hash=1, follower_hash=2,
                           follower_peer_id="5a6fa537216361d"), "corruption.compaction_hash_mismatch", C),
    ("compaction 3.6", zap(DETECTED, "error", leader_hash=1, peer_hash=2, peer_ids="[a,b]", quorum_exist=True),
     "corruption.compaction_hash_mismatch", C),
    ("compaction 3.6 no quorum", zap(DETECTED_NO_QUORUM, "error", leader_hash=1), "corruption.compaction_hash_mismatch", C),
    ("compaction passed", zap("successfully checked hash on whole cluster", "info", number_of_peers_checked=2,
                              revision=100), "check.compaction_passed", OK),
    ("compaction skipped rev", zap("skipped revision in compaction hash check; was not able to check all peers"),
     "check.inconclusive", W),
    ("compaction skipped peer", zap("Skipped peer's hash", reason="no response"), "check.inconclusive", W),
    # --- alarms, health, quota ---
    ("alarm corrupt", real('"alarm raised"', '"CORRUPT"'), "corruption.alarm_raised", C),
    ("alarm nospace", zap("alarm raised", alarm="NOSPACE", **{"from": "5a6fa537216361d"}), "quota.nospace", W),
    ("alarm other", zap("alarm raised", alarm="SOMETHING"), "alarm.other", W),
    ("alarm disarmed", real('"alarm disarmed"'), "alarm.disarmed", INF),
    ("health alarm", real('"serving /health false due to an alarm"'), "corruption.alarm_active", C),
    ("health error 3.4", real('"msg":"/health error"'), "corruption.alarm_active", C),
    ("health nospace", zap("serving /health false due to an alarm", alarm="memberID:1 alarm:NOSPACE "), "quota.nospace", W),
    ("readyz", zap("Health check error", "error", path="/readyz",
                   reason="[-]data_corruption failed: alarm activated: CORRUPT"), "corruption.alarm_active", C),
    ("quota raise", zap("message exceeded backend quota; raising alarm", quota_size="2.1 GB"), "quota.nospace", W),
    ("corrupt cluster", real('"failed to apply request"', "etcdserver: corrupt cluster"),
     "corruption.corrupt_cluster_error", C),
    ("space exceeded", zap("failed to apply request", error="etcdserver: mvcc: database space exceeded"),
     "quota.nospace", W),
    # --- raft ---
    ("became leader", real("became leader at term"), "raft.elected", INF),
    ("elected leader", real("raft.node: ", " elected leader "), "raft.leader_changed", INF),
    ("changed leader", zap("raft.node: 2b99 changed leader from 2b99 to 5a6f at term 4", "info"), "raft.leader_changed", INF),
    ("lost leader", real("raft.node: ", " lost leader "), "raft.leader_lost", INF),
    ("new election", real(" is starting a new election at term "), "raft.election_started", INF),
    ("no leader", zap("serving /health false; no leader"), "raft.no_leader", W),
    ("tocommit", zap("tocommit(30) is out of range [lastIndex(5)]. Was the raft log corrupted, truncated, or lost?",
                     "panic", logger="raft"), "storage.raft_log_out_of_range", W),
    ("tocommit go panic", "panic: tocommit(30) is out of range [lastIndex(5)]. Was the raft log corrupted, truncated, "
     "or lost?", "storage.raft_log_out_of_range", W),
    # --- performance, peers, TLS ---
    ("slow apply", real('"apply request took too long"'), "perf.slow_apply", INF),
    ("fdatasync", zap("slow fdatasync", took="1.5s", expected_duration="1s"), "perf.slow_fdatasync", W),
    ("heartbeat", zap(HEARTBEAT, to="5a6fa537216361d"), "perf.heartbeat_late", W),
    ("read index retry", zap("waiting for ReadIndex response took too long, retrying"), "perf.read_index_slow", W),
    ("read index timeout", zap("timed out waiting for read index response (local node might have slow network)"),
     "perf.read_index_slow", W),
    ("prober", real('"prober detected unhealthy status"'), "peer.unreachable", INF),
    ("inactive", real('"peer became inactive (message send to peer failed)"'), "peer.unreachable", INF),
    ("peer url", real('"failed to reach the peer URL"'), "peer.unreachable", INF),
    ("clock drift", zap("prober found high clock drift", clock_drift="1.5s"), "peer.clock_drift", W),
    ("cluster id peer", zap("request cluster ID mismatch"), "peer.cluster_id_mismatch", W),
    ("tls", zap("rejected connection", error="tls: bad certificate"), "tls.rejected_connection", INF),
    ("tls client", zap("rejected connection on client endpoint"), "tls.rejected_connection", INF),
    ("tls peer", zap("rejected connection on peer endpoint"), "tls.rejected_connection", INF),
    # --- storage ---
    ("wal read", zap("failed to read WAL, cannot be repaired", "fatal", error="wal: crc mismatch"), "storage.wal_corrupt", W),
    ("wal repair", zap("failed to repair WAL", "fatal"), "storage.wal_corrupt", W),
    ("wal crc anywhere", zap("failed to open WAL", "warn", error="wal: crc mismatch"), "storage.wal_corrupt", W),
    ("snap", zap("snap file is corrupt", path="/var/lib/etcd/member/snap/x.snap"), "storage.snap_corrupt", W),
    ("snap crc anywhere", zap("failed to load snapshot", error="snap: crc mismatch"), "storage.snap_corrupt", W),
    ("backend recover", zap("failed to recover v3 backend from snapshot", "panic"), "storage.backend_damaged", W),
    ("open db", zap("failed to open database", "panic"), "storage.backend_damaged", W),
    ("consistent index", zap("consistent index was never saved", snapshot_index=5), "storage.backend_damaged", W),
    ("revision pair", zap("range failed to find revision pair", "fatal"), "storage.backend_damaged", W),
    # --- startup / fatal ---
    ("bootstrapped", zap("discovery failed", "fatal", error="member 5a6f has already been bootstrapped"),
     "fatal.startup_failed", W),
    ("start etcd", zap("failed to start etcd", error="x"), "fatal.startup_failed", W),
    ("start", zap("failed to start", error="x"), "fatal.startup_failed", W),
    ("listener", zap("listener failed", "fatal", error="x"), "fatal.startup_failed", W),
    ("verify flags", zap("failed to verify flags", error="x"), "fatal.startup_failed", W),
    ("fatal unknown", zap("something new went wrong", "fatal"), "fatal.panic", W),
    ("go panic", "panic: runtime error: invalid memory address or nil pointer dereference", "fatal.panic", W),
    ("deprecated", zap("--experimental-compact-hash-check-enabled is deprecated in 3.6 and will be decommissioned in "
                       "3.7. Use '--feature-gates=CompactHashCheck=true' instead."), "config.deprecated_flag", INF),
    *UPSTREAM_CASES,
    # --- etcd 3.4 capnslog texts (printf forms from etcd-facts §1.2/§1.3, two observed on 3.4.23) ---
    ("cap initial", cap("E", "etcdserver", "2b994662ff979bd's hash 2746551911 != 0's hash 3171532503 (revision 21, "
                        "peer revision 21, compact revision 10)"), "corruption.initial_hash_mismatch", C),
    ("cap fatal", cap("C", "etcdmain", "2b994662ff979bd found data inconsistency with peers"),
     "corruption.data_inconsistency", C),
    ("cap hash", cap("W", "etcdserver", "hash 2746551911 at revision 21 from member 2b994662ff979bd, expected hash "
                     "3171532503"), "corruption.periodic_hash_mismatch", C),
    ("cap compact ahead", cap("W", "etcdserver", "compact revision 12 from member 2b994662ff979bd, expected at most 10"),
     "corruption.periodic_hash_mismatch", C),
    ("cap rev ahead", cap("W", "etcdserver", "revision 25 from member 2b994662ff979bd, expected at most 21"),
     "corruption.periodic_hash_mismatch", C),
    ("cap self", cap("W", "etcdserver", "mismatched hashes 1 and 2 for revision 21"), "corruption.periodic_hash_mismatch", C),
    ("cap alarm", cap("W", "etcdserver", "alarm CORRUPT raised by peer 0"), "corruption.alarm_raised", C),
    ("cap alarm nospace", cap("W", "etcdserver", "alarm NOSPACE raised by peer 5a6fa537216361d"), "quota.nospace", W),
    ("cap compact differs", cap("W", "etcdserver", "2b99 cannot check hash of peer(0): peer has a different compact "
                                "revision 5 (revision:21)"), "check.inconclusive", W),
    ("cap lagging", cap("W", "etcdserver", '2b99 cannot check the hash of peer(["http://10.0.0.2:2380"]) at revision 21: '
                        'peer is lagging behind("x")'), "check.inconclusive", W),
    ("cap hash-kv", cap("W", "etcdserver", '2b99 hash-kv error "x" on peer "http://10.0.0.2:2380" with revision 21'),
     "check.inconclusive", W),
    ("cap passed", cap("I", "etcdserver", "2b99 succeeded on initial corruption checking: no corruption"),
     "check.initial_passed", INF),
    ("cap periodic", cap("I", "etcdserver", "finished peer corruption check"), "check.periodic_passed", INF),
    ("cap enabled", cap("I", "etcdserver", "enabled corruption checking with 5s interval"), "check.enabled", INF),
    ("cap disarmed", cap("I", "etcdserver", "alarm disarmed {alarm:CORRUPT}"), "alarm.disarmed", INF),
    ("cap health", real("/health error due to alarm:CORRUPT"), "corruption.alarm_active", C),
    ("cap health nospace", cap("W", "etcdserver/api/etcdhttp", "/health error due to alarm:NOSPACE"), "quota.nospace", W),
    ("cap quota", cap("W", "etcdserver", "applying raft message exceeded backend quota"), "quota.nospace", W),
    ("cap fsync", cap("W", "wal", "sync duration of 1.5s, expected less than 1s"), "perf.slow_fdatasync", W),
    ("cap heartbeat", cap("W", "etcdserver", "failed to send out heartbeat on time (exceeded the 100ms timeout for "
                          "50ms, to 2b99)"), "perf.heartbeat_late", W),
    ("cap slow apply", cap("W", "etcdserver", 'read-only range request "key:\\"/a\\" " with result "range_response_count:1"'
                           " took too long (150ms) to execute"), "perf.slow_apply", INF),
    ("cap peer", cap("W", "rafthttp", "health check for peer 2b99 could not connect: dial tcp: refused"),
     "peer.unreachable", INF),
    ("cap drift", cap("W", "rafthttp", "the clock difference against peer 2b99 is too high [1.5s > 1s]"),
     "peer.clock_drift", W),
    ("cap tls", cap("W", "embed", 'rejected connection from "10.0.0.1:1234" (error "tls: bad certificate", ServerName "")'),
     "tls.rejected_connection", INF),
    ("cap consistent index", cap("W", "etcdserver", "consistent index never saved (snapshot index=5)"),
     "storage.backend_damaged", W),
    ("cap raft leader", "raft2026/11/24 09:28:40 INFO: 2b994662ff979bd became leader at term 2", "raft.elected", INF),
    ("cap raft lost", "raft2026/11/24 09:28:40 INFO: raft.node: 2b99 lost leader 5a6f at term 3", "raft.leader_lost", INF),
]


@pytest.mark.parametrize(("line", "kind", "severity"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(line: str, kind: str, severity: Severity) -> None:
    found = classify(parse_line(line))
    assert found is not None, f"no finding for {line[:120]}"
    assert (found.kind, found.severity) == (kind, severity)
    assert found.message
    assert "stacktrace" not in found.fields


@pytest.mark.parametrize(
    "line",
    [
        real('"lost TCP streaming connection with remote peer"'),
        real('"request stats"'),
        real("switched to configuration voters"),
        real("cast MsgVote for"),
        real('"msg":"Running: "'),
        real('"starting initial corruption check"'),
        "WARNING: 2026/11/24 09:25:09 [core] grpc: addrConn.createTransport failed to connect",
        "",
        "goroutine 1 [running]:",
        # a routine message whose free-text fields mention corruption is still routine (user data)
        zap("request stats", request_content="key:/registry/corrupt cluster etcdserver: corrupt cluster"),
    ],
)
def test_routine_lines_are_not_findings(line: str) -> None:
    assert classify(parse_line(line)) is None


def test_routine_message_at_fatal_level_is_a_finding() -> None:
    found = classify(parse_line(zap("lost TCP streaming connection with remote peer", "fatal")))
    assert found is not None and found.kind == "fatal.panic"


@pytest.mark.parametrize("name_and_line", [c for c in CASES if c[1].startswith("{")], ids=lambda c: c[0])
def test_caller_is_never_the_key(name_and_line: tuple[str, str, str, Severity]) -> None:
    _, line, kind, _ = name_and_line
    moved = json.loads(line)
    moved["caller"] = "v3.9/renamed/elsewhere.go:999"
    found = classify(parse_line(json.dumps(moved)))
    assert found is not None and found.kind == kind
    dropped = json.loads(line)
    dropped.pop("caller", None)
    found = classify(parse_line(json.dumps(dropped)))
    assert found is not None and found.kind == kind


def test_a_corrupt_caller_alone_is_not_evidence() -> None:
    line = zap("kvstore restored", "info")
    assert classify(parse_line(line.replace("somewhere/file.go:1", "etcdserver/corrupt.go:75"))) is None


def test_member_ids_are_normalised() -> None:
    found = classify(parse_line(real('"checkInitialHashKV failed"')))
    assert found is not None and found.member == "a9aab02626d71373"
    zero = classify(parse_line(real('"same compact revision then hashes must match"', '"follower-peer-id":"0"')))
    assert zero is not None and zero.member is None and "member 0" in zero.message
    named = classify(parse_line(zap("failed compaction hash check", "error", follower_peer_id="05A6FA537216361D")))
    assert named is not None and named.member == "5a6fa537216361d"


def test_every_exact_message_has_a_row() -> None:
    exact = set(ZAP_EXACT)  # the rule table is what we cover
    covered = {parse_line(line).msg for _, line, _, _ in CASES}
    assert exact - covered == set()


def test_every_kind_is_produced() -> None:
    produced = {kind for _, _, kind, _ in CASES}
    elsewhere = {  # produced by the scanner's context or the cross-member check; tested there
        "check.initial_vacuous": "test_scan.py",
        "raft.unstable": "test_scan.py",
        "corruption.cross_member_hash_mismatch": "test_compaction.py",
    }
    assert set(RULES) - produced == set(elsewhere)


def test_rules_carry_text_for_operators() -> None:
    for rule in RULES.values():
        assert rule.title and rule.why
        if rule.kind.startswith("corruption."):
            assert rule.severity is Severity.CRITICAL


def test_compaction_mismatch_with_quorum_names_the_minority() -> None:
    """server/etcdserver/corrupt.go @ v3.6.14: with `quorum-exist: true` the line's `peer-ids` (types.IDSlice
    String: comma-separated hex) are the members outside the majority; they are the ones to replace."""
    one = classify(parse_line(zap(DETECTED, "error", leader_id="8e9e05c52164694d", leader_revision=120,
                                  leader_compact_revision=100, leader_hash=111, peer_hash=222,
                                  peer_ids="5a6fa537216361d", quorum_exist=True)))
    assert one is not None and one.member == "5a6fa537216361d"
    assert "member 5a6fa537216361d differs" in one.message
    two = classify(parse_line(zap(DETECTED, "error", leader_hash=111, peer_hash=222,
                                  peer_ids="5a6fa537216361d,2b994662ff979bd", quorum_exist=True)))
    assert two is not None and two.member is None
    assert two.fields["minority-members"] == ["5a6fa537216361d", "2b994662ff979bd"]
    # without a quorum etcd cannot tell (and logs the line per hash group): nobody is named
    none = classify(parse_line(zap(DETECTED, "error", leader_hash=111, peer_hash=222,
                                   peer_ids="5a6fa537216361d", quorum_exist=False)))
    assert none is not None and none.member is None and "minority-members" not in none.fields


def test_snapshot_count_deprecation_says_37_kept_it() -> None:
    """3.6.0–3.6.7 log '--snapshot-count is deprecated … decommissioned in 3.7' (server/etcdmain/config.go
    @ v3.6.0), gone from v3.6.8; 3.7 keeps the flag (CHANGELOG-3.7.md PR #21162, server/embed/config.go v3.7.1)."""
    found = classify(parse_line(zap("--snapshot-count is deprecated in 3.6 and will be decommissioned in 3.7.")))
    assert found is not None and found.fields["kept-in-3.7"] is True and "kept" in found.message


def test_generic_startup_failure_stays_generic() -> None:
    found = classify(parse_line(zap("discovery failed", "fatal", error="listen tcp :2380: bind: address in use")))
    assert found is not None and found.kind == "fatal.startup_failed"
