"""zap lines that are never evidence at a quiet level: routine messages, startup context, raft election chatter (the scanner's fast path skips them)."""

from __future__ import annotations

import re

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
RAFT_CHATTER_RE = re.compile(RAFT_CHATTER)
