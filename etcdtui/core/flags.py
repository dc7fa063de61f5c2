"""Corruption-check flags audit from an etcd pod's command line (etcd-facts §4, kubeone-procedure §2.6).

etcd parses its flags with Go's `flag` package: `--name=value`, `--name value` and single-dash forms; a
boolean flag never takes the next word (`--experimental-initial-corrupt-check true` makes etcd exit with
"'true' is not a valid flag"), and an unknown flag makes it exit with "flag provided but not defined"
(both observed with etcd 3.5.1).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etcdtui.core.bool_flags import ALL_BOOL_FLAGS
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.versions import EtcdVersion

# --- Go durations -------------------------------------------------------------------------------

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (`240m`, `4h`, `1m30s`, `0s`, `0`, `1.5h`). Raises ValueError like Go."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    pos, total = 0, 0.0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Short human form: 14400 → `4h`, 90 → `1m30s`, 0.5 → `500ms`."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s else ""]
    return "".join(parts) or "0s"


# --- command line parsing -----------------------------------------------------------------------

# Boolean flags of every etcd line (core/bool_flags.py): Go's flag package never lets them consume the next word.
BOOL_FLAGS = ALL_BOOL_FLAGS


@dataclass(frozen=True)
class ParsedCommand:
    """Flags by name (without dashes); the last occurrence wins, as in Go. `feature_gates` merges all occurrences."""

    program: str | None
    flags: Mapping[str, str]
    repeated: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()  # words etcd would reject ("'x' is not a valid flag")
    feature_gates: Mapping[str, str] = field(default_factory=dict)
    missing_value: tuple[str, ...] = ()  # value flags followed by another `-flag` (never read as their value)

    def get(self, name: str) -> str | None:
        return self.flags.get(name)

    def has(self, name: str) -> bool:
        return name in self.flags


def parse_command(argv: Sequence[str]) -> ParsedCommand:
    """Parse `spec.containers[0].command + args` of an etcd container. Never raises."""
    words = list(argv)
    program: str | None = None
    if words and not words[0].startswith("-"):
        program = words.pop(0)
    flags: dict[str, str] = {}
    repeated: list[str] = []
    positional: list[str] = []
    gates: dict[str, str] = {}
    missing: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            positional.extend(words[i:])
            break
        if not word.startswith("-") or word in ("-", "---") or word.startswith("---"):
            positional.append(word)
            continue
        body = word.lstrip("-")
        if "=" in body:
            name, value = body.split("=", 1)
        elif body in BOOL_FLAGS:
            name, value = body, "true"
        elif i < len(words) and not _looks_like_flag(words[i]):
            name, value = body, words[i]
            i += 1
        else:
            # Go would take even `--other=x` as the value; reading it so would hide `--other` from the audit
            name, value = body, ""
            missing.append(name)
        if name in flags:
            repeated.append(name)
        flags[name] = value
        if name == "feature-gates":
            gates.update(parse_feature_gates(value))
    return ParsedCommand(program, flags, tuple(repeated), tuple(positional), gates, tuple(missing))


def _looks_like_flag(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and not word[1:2].isdigit()


def parse_feature_gates(value: str) -> dict[str, str]:
    """`InitialCorruptCheck=true,CompactHashCheck=true` → {"InitialCorruptCheck": "true", ...}."""
    gates: dict[str, str] = {}
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, setting = part.partition("=")
        gates[name.strip()] = setting.strip()
    return gates


def _parse_bool(value: str) -> bool | None:
    # Go's strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


# --- the audit ----------------------------------------------------------------------------------

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
_FEATURE_OF_36 = {
    INITIAL_FLAG: INITIAL_GATE,
    COMPACT_FLAG_35: COMPACT_GATE,
    "experimental-stop-grpc-service-on-defrag": "StopGRPCServiceOnDefrag",
    "experimental-txn-mode-write-with-shared-buffer": "TxnModeWriteWithSharedBuffer",
    "experimental-enable-lease-checkpoint": "LeaseCheckpoint",
    "experimental-enable-lease-checkpoint-persist": "LeaseCheckpointPersist",
}
_RENAMED_36 = frozenset(
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
    if name in _FEATURE_OF_36:
        return f"--feature-gates={_FEATURE_OF_36[name]}=true"
    if name in _RENAMED_36:
        return "--" + name.removeprefix("experimental-")
    if name in REMOVED_IN_3_7_EXTRA:
        return "v3 discovery (--discovery-endpoints/--discovery-token) or a static --initial-cluster"
    return "no 3.6 name: remove it"

_ONLY_FROM_36 = (PERIODIC_FLAG_36, COMPACT_TIME_36, "feature-gates", "watch-progress-notify-interval")
_ONLY_FROM_355 = (COMPACT_FLAG_35, COMPACT_TIME_35)

DEFAULT_COMPACT_INTERVAL_S = 60.0  # etcd default 1m
KUBEONE_PERIODIC_INTERVAL = "240m"
LONG_PERIODIC_INTERVAL_S = 24 * 3600.0


class Spelling(enum.StrEnum):
    NONE = "none"
    EXPERIMENTAL = "experimental"  # etcd 3.5 names (deprecated in 3.6, removed in 3.7)
    FEATURE_GATE = (
        "feature-gate"  # etcd 3.6 names: --feature-gates, --corrupt-check-time, --compact-hash-check-time
    )
    MIXED = "mixed"


@dataclass(frozen=True)
class Conflict:
    setting: str  # initial / periodic / compaction / compaction-interval
    flags: tuple[str, str]


@dataclass(frozen=True)
class FlagsAudit:
    """What the corruption checks of one member are set to, and what is wrong with that."""

    initial: bool
    periodic: bool
    periodic_interval_s: float
    compaction: bool
    compaction_interval_s: float
    spelling: Spelling
    conflicts: tuple[Conflict, ...]
    removed_in_3_7: tuple[str, ...]
    sources: Mapping[str, str]  # setting → the flag text that decided it
    findings: tuple[Finding, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "periodic": self.periodic,
            "periodic_interval_s": self.periodic_interval_s,
            "compaction": self.compaction,
            "compaction_interval_s": self.compaction_interval_s,
            "spelling": self.spelling.value,
            "conflicts": [list(c.flags) for c in self.conflicts],
            "removed_in_3_7": list(self.removed_in_3_7),
        }


def _is_36_like(version: EtcdVersion | None, cmd: ParsedCommand) -> bool:
    if version is not None:
        return version.at_least(3, 6, 0)
    return any(cmd.has(name) for name in _ONLY_FROM_36)


def _critical_tier(version: EtcdVersion | None) -> bool:
    return version is not None and version.minor_line == (3, 5) and version.patch <= 2


def audit_flags(
    command: Sequence[str], version: EtcdVersion | None = None, *, member: str | None = None
) -> FlagsAudit:
    """Audit the corruption-check flags of one etcd container command line.

    `version` is the member's etcd version when known (it decides which spellings etcd accepts).
    """
    cmd = parse_command(command)
    gates = cmd.feature_gates
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    invalid: list[str] = []

    def flag_bool(name: str) -> bool | None:
        raw = cmd.get(name)
        if raw is None:
            return None
        value = _parse_bool(raw)
        if value is None:
            invalid.append(f"--{name}={raw}")
        return value

    def flag_duration(name: str) -> float | None:
        raw = cmd.get(name)
        if raw is None:
            return None
        try:
            return parse_go_duration(raw)
        except ValueError:
            invalid.append(f"--{name}={raw}")
            return None

    def gate_bool(name: str) -> bool | None:
        raw = gates.get(name)
        if raw is None:
            return None
        value = _parse_bool(raw)
        if value is None:
            invalid.append(f"--feature-gates={name}={raw}")
        return value

    # initial check
    initial_flag, initial_gate = flag_bool(INITIAL_FLAG), gate_bool(INITIAL_GATE)
    initial = bool(initial_gate if initial_gate is not None else initial_flag)
    if initial_gate is not None:
        sources["initial"] = f"--feature-gates={INITIAL_GATE}={gates[INITIAL_GATE]}"
    elif initial_flag is not None:
        sources["initial"] = f"--{INITIAL_FLAG}={cmd.get(INITIAL_FLAG)}"

    # periodic check: the 3.6 name wins over the experimental one (when etcd starts at all)
    periodic_new, periodic_old = flag_duration(PERIODIC_FLAG_36), flag_duration(PERIODIC_FLAG_35)
    periodic_interval = periodic_new if periodic_new is not None else (periodic_old or 0.0)
    for name in (PERIODIC_FLAG_36, PERIODIC_FLAG_35):
        if cmd.has(name):
            sources["periodic"] = f"--{name}={cmd.get(name)}"
            break
    periodic = periodic_interval > 0

    # compaction hash check (3.5.5+)
    compact_gate, compact_flag = gate_bool(COMPACT_GATE), flag_bool(COMPACT_FLAG_35)
    compaction = bool(compact_gate if compact_gate is not None else compact_flag)
    if compact_gate is not None:
        sources["compaction"] = f"--feature-gates={COMPACT_GATE}={gates[COMPACT_GATE]}"
    elif compact_flag is not None:
        sources["compaction"] = f"--{COMPACT_FLAG_35}={cmd.get(COMPACT_FLAG_35)}"
    compact_new, compact_old = flag_duration(COMPACT_TIME_36), flag_duration(COMPACT_TIME_35)
    compaction_interval = compact_new if compact_new is not None else compact_old
    if compaction_interval is None:
        compaction_interval = DEFAULT_COMPACT_INTERVAL_S
    elif compaction_interval <= 0:
        name = COMPACT_TIME_36 if compact_new is not None else COMPACT_TIME_35
        invalid.append(f"--{name}={cmd.get(name)} (must be > 0)")

    # spelling in use
    old = [n for n in (INITIAL_FLAG, PERIODIC_FLAG_35, COMPACT_FLAG_35, COMPACT_TIME_35) if cmd.has(n)]
    new = [n for n in (PERIODIC_FLAG_36, COMPACT_TIME_36) if cmd.has(n)] + [
        g for g in (INITIAL_GATE, COMPACT_GATE) if g in gates
    ]
    spelling = (
        Spelling.MIXED
        if old and new
        else Spelling.EXPERIMENTAL
        if old
        else Spelling.FEATURE_GATE
        if new
        else Spelling.NONE
    )

    conflicts = tuple(
        Conflict(setting, (a, b))
        for setting, a, b, both in (
            (
                "initial",
                f"--{INITIAL_FLAG}",
                f"--feature-gates={INITIAL_GATE}",
                cmd.has(INITIAL_FLAG) and INITIAL_GATE in gates,
            ),
            (
                "compaction",
                f"--{COMPACT_FLAG_35}",
                f"--feature-gates={COMPACT_GATE}",
                cmd.has(COMPACT_FLAG_35) and COMPACT_GATE in gates,
            ),
            (
                "periodic",
                f"--{PERIODIC_FLAG_35}",
                f"--{PERIODIC_FLAG_36}",
                cmd.has(PERIODIC_FLAG_35) and cmd.has(PERIODIC_FLAG_36),
            ),
            (
                "compaction-interval",
                f"--{COMPACT_TIME_35}",
                f"--{COMPACT_TIME_36}",
                cmd.has(COMPACT_TIME_35) and cmd.has(COMPACT_TIME_36),
            ),
        )
        if both
    )
    removed = tuple(n for n in cmd.flags if removed_in_3_7(n))
    is_36 = _is_36_like(version, cmd)
    vtext = f"etcd {version}" if version is not None else "this etcd"

    # --- findings: what would stop etcd from starting first ---
    for conflict in conflicts:
        a, b = conflict.flags
        # server/embed/config.go @ v3.6.14: SetFeatureGatesFromExperimentalFlags (bool flag vs gate) and
        # Validate (experimentalFlagMigrationMap); the gate test there is a substring of --feature-gates.
        said = (f"cannot specify both flags: {a}=… and {b}=… at the same time" if b.startswith("--feature-gates")
                else f"cannot set {a} and {b} at the same time")
        findings.append(
            Finding(
                "checks.conflict",
                Severity.CRITICAL if is_36 else Severity.WARNING,
                f"both {a} and {b} are set: etcd 3.6 refuses to start ('{said}'); keep only {b}",
                member,
                {"setting": conflict.setting, "flags": [a, b]},
            )
        )
    if invalid:
        findings.append(
            Finding(
                "checks.invalid_value",
                Severity.CRITICAL,
                f"invalid value {', '.join(invalid)}: etcd exits at startup ('invalid value … for flag')",
                member,
                {"flags": invalid},
            )
        )
    if cmd.missing_value:
        findings.append(
            Finding(
                "checks.missing_value",
                Severity.CRITICAL,
                f"no value after {', '.join('--' + n for n in cmd.missing_value)}: etcd would take the next flag "
                "as its value (Go's flag package), so that flag is not set",
                member,
                {"flags": [f"--{n}" for n in cmd.missing_value]},
            )
        )
    if cmd.positional:
        findings.append(
            Finding(
                "checks.stray_argument",
                Severity.CRITICAL,
                f"stray argument {cmd.positional[0]!r}: etcd exits at startup (\"'{cmd.positional[0]}' is not a valid flag\")",
                member,
                {"arguments": list(cmd.positional)},
            )
        )
    if version is not None and not version.at_least(3, 6, 0):
        unknown = [f"--{n}" for n in _ONLY_FROM_36 if cmd.has(n)]
        if not version.at_least(3, 5, 5):
            unknown += [f"--{n}" for n in _ONLY_FROM_355 if cmd.has(n)]
        if unknown:
            findings.append(
                Finding(
                    "checks.unsupported_flag",
                    Severity.CRITICAL,
                    f"{vtext} does not know {', '.join(unknown)}: it exits at startup with 'flag provided but not defined'"
                    + (
                        " (the compaction hash check needs etcd 3.5.5+)"
                        if any(n.lstrip("-") in _ONLY_FROM_355 for n in unknown)
                        else ""
                    ),
                    member,
                    {"flags": unknown, "version": str(version)},
                )
            )
    if removed:
        at_37 = version is not None and version.at_least(3, 7, 0)
        severity = Severity.CRITICAL if at_37 else Severity.WARNING if is_36 else Severity.INFO
        replacements = ", ".join(f"--{n} → {replacement_36(n)}" for n in removed)
        what = (
            "etcd 3.7 no longer has them and refuses to start ('flag provided but not defined'); "
            "in a 3.7 --config-file the same keys are silently ignored, so those settings are off without an error"
            if at_37
            else "deprecated in 3.6, removed in 3.7 (a 3.7 config file ignores them silently)"
        )
        findings.append(
            Finding(
                "checks.removed_in_3_7",
                severity,
                f"{len(removed)} flag{'s' if len(removed) > 1 else ''} {what}: {replacements}"
                + ("" if is_36 else " (rename when upgrading to etcd 3.6)"),
                member,
                {"flags": [f"--{n}" for n in removed]},
            )
        )

    # --- checks off ---
    risky = _critical_tier(version)
    risk_note = (
        f"; {vtext} can lose committed writes after a crash (etcd #13766) and nothing would notice"
        if risky
        else ""
    )
    if not initial:
        findings.append(
            Finding(
                "checks.initial_off",
                Severity.CRITICAL if risky else Severity.WARNING,
                f"initial corruption check off: a member with diverged data rejoins without complaint{risk_note}",
                member,
                {"enable_with": _enable_hint("initial", is_36)},
            )
        )
    if not periodic:
        findings.append(
            Finding(
                "checks.periodic_off",
                Severity.CRITICAL if risky else Severity.WARNING,
                f"periodic corruption check off: the leader never compares hashes with its followers{risk_note}",
                member,
                {"enable_with": _enable_hint("periodic", is_36)},
            )
        )
    elif periodic_interval > LONG_PERIODIC_INTERVAL_S:
        findings.append(
            Finding(
                "checks.periodic_interval_long",
                Severity.INFO,
                f"periodic corruption check only every {format_duration(periodic_interval)} (KubeOne uses {KUBEONE_PERIODIC_INTERVAL})",
                member,
                {"interval_s": periodic_interval},
            )
        )
    compaction_available = version is None or version.at_least(3, 5, 5)
    if not compaction and compaction_available:
        findings.append(
            Finding(
                "checks.compaction_off",
                Severity.INFO,
                "compaction hash check off (available since etcd 3.5.5; KubeOne enables it)",
                member,
                {"enable_with": _enable_hint("compaction", is_36)},
            )
        )
    return FlagsAudit(
        initial=initial,
        periodic=periodic,
        periodic_interval_s=periodic_interval,
        compaction=compaction and compaction_available,
        compaction_interval_s=compaction_interval,
        spelling=spelling,
        conflicts=conflicts,
        removed_in_3_7=removed,
        sources=sources,
        findings=tuple(findings),
    )


def _enable_hint(setting: str, is_36: bool) -> str:
    if setting == "initial":
        return f"--feature-gates={INITIAL_GATE}=true" if is_36 else f"--{INITIAL_FLAG}=true"
    if setting == "periodic":
        return f"--{PERIODIC_FLAG_36 if is_36 else PERIODIC_FLAG_35}={KUBEONE_PERIODIC_INTERVAL}"
    return f"--feature-gates={COMPACT_GATE}=true" if is_36 else f"--{COMPACT_FLAG_35}=true"


def format_flags_for_display(audit: FlagsAudit) -> list[str]:
    """Short lines for the detail panel, e.g. `periodic    on, every 4h  (--experimental-corrupt-check-time=240m)`."""

    def line(label: str, on: bool, detail: str, key: str) -> str:
        text = f"{label:<11} {'on' if on else 'off'}{detail}"
        src = audit.sources.get(key)
        return f"{text}  ({src})" if src else text

    lines = [
        line("initial", audit.initial, "", "initial"),
        line(
            "periodic",
            audit.periodic,
            f", every {format_duration(audit.periodic_interval_s)}" if audit.periodic else "",
            "periodic",
        ),
        line(
            "compaction",
            audit.compaction,
            f", every {format_duration(audit.compaction_interval_s)}" if audit.compaction else "",
            "compaction",
        ),
        f"{'spelling':<11} {audit.spelling.value}",
    ]
    for conflict in audit.conflicts:
        lines.append(f"{'CONFLICT':<11} {conflict.flags[0]} and {conflict.flags[1]}")
    if audit.removed_in_3_7:
        lines.append(f"{'3.7':<11} removed: {', '.join('--' + n for n in audit.removed_in_3_7)}")
    return lines


def checks_summary(audit: FlagsAudit) -> str:
    """`I P C` style summary for a table cell: `I+ P+ C-`."""
    return " ".join(
        f"{k}{'+' if on else '-'}"
        for k, on in (("I", audit.initial), ("P", audit.periodic), ("C", audit.compaction))
    )


def kubeone_target_flags(version: EtcdVersion | None, *, compaction_check: bool = True) -> list[str]:
    """The corruption-check flags an etcd pod has after `kubeone apply --force-upgrade` (KubeOne ≥ 1.4.1).

    etcd ≥ 3.6 (k8s ≥ 1.34): kubeadm's `--feature-gates=InitialCorruptCheck=true` plus KubeOne's experimental
    periodic/compaction flags (KubeOne 1.12+ stopped setting the initial flag to avoid the 3.6 conflict).
    etcd 3.5: the three experimental flags. `compaction_check=False` for KubeOne versions that do not set it
    (1.4.1–1.4.11, 1.5.0–1.5.3); it is also left out below etcd 3.5.5, which would refuse the flag.
    """
    is_36 = version is not None and version.at_least(3, 6, 0)
    flags = [f"--feature-gates={INITIAL_GATE}=true" if is_36 else f"--{INITIAL_FLAG}=true"]
    flags.append(f"--{PERIODIC_FLAG_35}={KUBEONE_PERIODIC_INTERVAL}")
    if compaction_check and (version is None or version.at_least(3, 5, 5)):
        flags.append(f"--{COMPACT_FLAG_35}=true")
    return flags


def apply_flags(command: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The command line with `extra` flags set (earlier values of the same flags dropped): the "after" view.

    Feature gates are merged, not replaced, so gates the command already had are kept.
    """
    names = {parse_flag_name(f) for f in extra}
    extra_gates: dict[str, str] = {}
    for flag in extra:
        if parse_flag_name(flag) == "feature-gates":
            extra_gates.update(parse_feature_gates(flag.split("=", 1)[1] if "=" in flag else ""))
    kept: list[str] = []
    gates: dict[str, str] = {}
    words = list(command)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name = parse_flag_name(word) if word.startswith("-") else None
        if name is None or name not in names:
            kept.append(word)
            continue
        value = word.split("=", 1)[1] if "=" in word else None
        if value is None and name not in BOOL_FLAGS and i < len(words) and not _looks_like_flag(words[i]):
            value = words[i]
            i += 1
        if name == "feature-gates" and value is not None:
            gates.update(parse_feature_gates(value))
    result = kept + [f for f in extra if parse_flag_name(f) != "feature-gates"]
    if extra_gates:
        gates.update(extra_gates)
        result.append("--feature-gates=" + ",".join(f"{k}={v}" for k, v in gates.items()))
    return result


def parse_flag_name(word: str) -> str:
    return word.lstrip("-").split("=", 1)[0]
