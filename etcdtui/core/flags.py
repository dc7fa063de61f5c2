"""Corruption-check flags audit from an etcd pod's command line (etcd-facts §4, kubeone-procedure §2.6).

etcd parses its flags with Go's `flag` package: `--name=value`, `--name value` and single-dash forms; a
boolean flag never takes the next word (`--experimental-initial-corrupt-check true` makes etcd exit with
"'true' is not a valid flag"), and an unknown flag makes it exit with "flag provided but not defined"
(both observed with etcd 3.5.1): that parsing is `etcd_command`, the flags' names per release `flag_names`,
Go durations `go_duration`; here the audit and how it is shown.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from etcdtui.core.etcd_command import ParsedCommand, parse_bool, parse_command
from etcdtui.core.findings import Finding, Severity
from etcdtui.core.flag_names import (
    COMPACT_FLAG_35,
    COMPACT_GATE,
    COMPACT_TIME_35,
    COMPACT_TIME_36,
    INITIAL_FLAG,
    INITIAL_GATE,
    ONLY_FROM_36,
    ONLY_FROM_355,
    PERIODIC_FLAG_35,
    PERIODIC_FLAG_36,
    removed_in_3_7,
    replacement_36,
)
from etcdtui.core.go_duration import format_duration, parse_go_duration
from etcdtui.core.versions import EtcdVersion

# --- the audit ----------------------------------------------------------------------------------


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
    return any(cmd.has(name) for name in ONLY_FROM_36)


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
        value = parse_bool(raw)
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
        value = parse_bool(raw)
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
        unknown = [f"--{n}" for n in ONLY_FROM_36 if cmd.has(n)]
        if not version.at_least(3, 5, 5):
            unknown += [f"--{n}" for n in ONLY_FROM_355 if cmd.has(n)]
        if unknown:
            findings.append(
                Finding(
                    "checks.unsupported_flag",
                    Severity.CRITICAL,
                    f"{vtext} does not know {', '.join(unknown)}: it exits at startup with 'flag provided but not defined'"
                    + (
                        " (the compaction hash check needs etcd 3.5.5+)"
                        if any(n.lstrip("-") in ONLY_FROM_355 for n in unknown)
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


