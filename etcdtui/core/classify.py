"""Turn one parsed etcd log line into a `Finding` (or None for routine lines).

Keyed on the `msg` field (zap) or the message text (capnslog), **never on `caller`** (line numbers and
file names change between etcd patch releases). Exact zap messages go through one dict lookup; the
few messages with variable text (raft, capnslog printf forms) go through a short list of prefix/
substring checks, and a handful of error texts are matched anywhere in the line because etcd carries
them in an `error` field of otherwise generic messages (etcd-facts §1.2, §1.5, §2).

Severity table (an experienced SRE's reading of etcd-facts; `why` texts live in `classify_rules.RULES`). The exact zap
messages are in `classify_zap`, raft, capnslog and anywhere-texts in `classify_text`, the lines never looked at in
`routine_lines`:

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

from etcdtui.core.classify_rules import clip, finding
from etcdtui.core.classify_text import anywhere, by_level, capnslog_text, raft_text
from etcdtui.core.classify_zap import ZAP_EXACT, zap_variable
from etcdtui.core.findings import Finding
from etcdtui.core.logline import CAPNSLOG, GO_PANIC, ZAP, LogRecord
from etcdtui.core.routine_lines import CONTEXT_MSGS, QUIET_LEVELS, RAFT_CHATTER_RE, ROUTINE_MSGS

# bbolt's panics on a damaged file (bbolt v1.3/v1.4/v1.5: freelist, cursor, common/verify); Go panic lines only
_BBOLT_PANIC = re.compile(r"^(?:page \d+ already freed|invalid page type: |assertion failed: )")


def classify(record: LogRecord) -> Finding | None:
    """The finding this line is evidence of, or None for routine lines."""
    msg = record.msg
    if record.format == ZAP:
        if record.level in QUIET_LEVELS and (msg in ROUTINE_MSGS or msg in CONTEXT_MSGS
                                             or msg.startswith("newRaft ") or RAFT_CHATTER_RE.match(msg)):
            return None
        handler = ZAP_EXACT.get(msg)
        if handler is not None:
            result = handler(record)
            if result is not None:
                return result
        else:
            result = raft_text(record, msg) or zap_variable(record, msg)
            if result is not None:
                return result
    elif record.format == CAPNSLOG:
        result = raft_text(record, msg) if record.package == "raft" else capnslog_text(record, msg)
        if result is None and record.package == "raft":
            result = capnslog_text(record, msg)
        if result is not None:
            return result
    elif record.format == GO_PANIC and record.level == "panic":
        if _BBOLT_PANIC.match(msg):
            return finding("storage.backend_damaged", f"bbolt panic (damaged database file): {clip(msg)}",
                           record=record)
        return raft_text(record, msg) or finding("fatal.panic", f"Go panic: {clip(msg)}", record=record)
    return anywhere(record) or by_level(record)


