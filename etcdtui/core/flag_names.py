"""The corruption-check flags' names per etcd release (3.5 `--experimental-*`, 3.6 names and feature gates) and what 3.7 removed."""

from __future__ import annotations

INITIAL_FLAG = "experimental-initial-corrupt-check"
PERIODIC_FLAG_35 = "experimental-corrupt-check-time"
PERIODIC_FLAG_36 = "corrupt-check-time"
COMPACT_FLAG_35 = "experimental-compact-hash-check-enabled"
COMPACT_TIME_35 = "experimental-compact-hash-check-time"
COMPACT_TIME_36 = "compact-hash-check-time"
INITIAL_GATE = "InitialCorruptCheck"
COMPACT_GATE = "CompactHashCheck"

# etcd 3.7 registers no `--experimental-*` flag and no `--discovery`/`--discovery-proxy` (v2 discovery) any more
# (CHANGELOG-3.7.md: PRs #19959, #20109; server/embed/config.go @ v3.7.1). Their 3.6 names: server/embed/config.go
# experimentalFlagMigrationMap and server/features/etcd_features.go ExperimentalFlagToFeatureMap @ v3.6.14.
# `--snapshot-count` is kept in 3.7 (PR #21162), although 3.6.0–3.6.7 logged it as "decommissioned in 3.7".
REMOVED_IN_3_7_EXTRA = ("discovery", "discovery-proxy")
FEATURE_OF_36 = {
    INITIAL_FLAG: INITIAL_GATE,
    COMPACT_FLAG_35: COMPACT_GATE,
    "experimental-stop-grpc-service-on-defrag": "StopGRPCServiceOnDefrag",
    "experimental-txn-mode-write-with-shared-buffer": "TxnModeWriteWithSharedBuffer",
    "experimental-enable-lease-checkpoint": "LeaseCheckpoint",
    "experimental-enable-lease-checkpoint-persist": "LeaseCheckpointPersist",
}
RENAMED_36 = frozenset(
    {
        "experimental-compact-hash-check-time", "experimental-corrupt-check-time",
        "experimental-compaction-batch-limit", "experimental-watch-progress-notify-interval",
        "experimental-warning-apply-duration", "experimental-bootstrap-defrag-threshold-megabytes",
        "experimental-memory-mlock", "experimental-snapshot-catchup-entries",
        "experimental-compaction-sleep-interval", "experimental-downgrade-check-time",
        "experimental-peer-skip-client-san-verification", "experimental-enable-distributed-tracing",
        "experimental-distributed-tracing-address", "experimental-distributed-tracing-service-name",
        "experimental-distributed-tracing-instance-id", "experimental-distributed-tracing-sampling-rate",
    }
)


def removed_in_3_7(name: str) -> bool:
    return name.startswith("experimental-") or name in REMOVED_IN_3_7_EXTRA


def replacement_36(name: str) -> str:
    """What a flag removed in 3.7 is called from 3.6 on (or what to do about it)."""
    if name in FEATURE_OF_36:
        return f"--feature-gates={FEATURE_OF_36[name]}=true"
    if name in RENAMED_36:
        return "--" + name.removeprefix("experimental-")
    if name in REMOVED_IN_3_7_EXTRA:
        return "v3 discovery (--discovery-endpoints/--discovery-token) or a static --initial-cluster"
    return "no 3.6 name: remove it"

ONLY_FROM_36 = (PERIODIC_FLAG_36, COMPACT_TIME_36, "feature-gates", "watch-progress-notify-interval")
ONLY_FROM_355 = (COMPACT_FLAG_35, COMPACT_TIME_35)
