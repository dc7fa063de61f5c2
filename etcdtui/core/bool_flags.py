"""etcd's boolean command-line flags per minor line: Go's `flag` package never lets them take the next word.

Taken from the `fs.BoolVar` calls at the newest tag of each line (3.4: etcdmain/config.go @ v3.4.45;
3.5: server/etcdmain/config.go @ v3.5.33; 3.6 and 3.7: server/embed/config.go `AddFlags` @ v3.6.14 / v3.7.1,
plus `--version` in server/etcdmain/config.go). The `ignored` legacy flags of etcdmain/config.go are registered
as `flags.IgnoredFlag`, whose `IsBoolFlag()` is true (pkg/flags/ignored.go), so they never take a value either.
"""

from __future__ import annotations

# pkg/flags/ignored.go IgnoredFlag (IsBoolFlag) for etcdmain's `ignored` list: identical at all four tags.
IGNORED_FLAGS = frozenset(
    {
        "cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force",
        "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout",
        "retry-interval", "snapshot", "v", "vv", "test.coverprofile", "test.outputdir",
    }
)

_COMMON = frozenset(
    {
        "initial-election-tick-advance", "strict-reconfig-check", "pre-vote", "client-cert-auth", "auto-tls",
        "peer-client-cert-auth", "peer-auto-tls", "version", "enable-pprof", "enable-grpc-gateway",
        "unsafe-no-fsync", "force-new-cluster",
    }
)

BOOL_FLAGS_BY_LINE: dict[tuple[int, int], frozenset[str]] = {
    (3, 4): _COMMON
    | {
        "enable-v2", "next-cluster-version-compatible", "experimental-peer-skip-client-san-verification",
        "debug", "experimental-initial-corrupt-check", "experimental-enable-lease-checkpoint",
        "experimental-enable-lease-checkpoint-persist",
    },
    (3, 5): _COMMON
    | {
        "socket-reuse-port", "socket-reuse-address", "enable-v2",
        "experimental-peer-skip-client-san-verification", "enable-log-rotation",
        "experimental-enable-distributed-tracing", "experimental-initial-corrupt-check",
        "experimental-compact-hash-check-enabled", "experimental-enable-lease-checkpoint",
        "experimental-enable-lease-checkpoint-persist", "experimental-memory-mlock",
        "experimental-txn-mode-write-with-shared-buffer", "experimental-stop-grpc-service-on-defrag",
    },
    (3, 6): _COMMON
    | {
        "socket-reuse-port", "socket-reuse-address", "discovery-insecure-transport",
        "discovery-insecure-skip-tls-verify", "experimental-peer-skip-client-san-verification",
        "peer-skip-client-san-verification", "enable-log-rotation", "experimental-enable-distributed-tracing",
        "enable-distributed-tracing", "experimental-initial-corrupt-check",
        "experimental-compact-hash-check-enabled", "experimental-enable-lease-checkpoint",
        "experimental-enable-lease-checkpoint-persist", "experimental-memory-mlock", "memory-mlock",
        "experimental-txn-mode-write-with-shared-buffer", "experimental-stop-grpc-service-on-defrag",
    },
    (3, 7): _COMMON
    | {
        "socket-reuse-port", "socket-reuse-address", "discovery-insecure-transport",
        "discovery-insecure-skip-tls-verify", "peer-skip-client-san-verification", "enable-log-rotation",
        "enable-distributed-tracing", "memory-mlock",
    },
}

# A flag that is boolean in any line never takes the next word: where a line does not define it at all,
# etcd exits with "flag provided but not defined" anyway, so reading the next word as its value would only
# hide the next flag.
ALL_BOOL_FLAGS: frozenset[str] = IGNORED_FLAGS.union(*BOOL_FLAGS_BY_LINE.values())
