"""Corruption-check flags audit on kubeadm/KubeOne etcd command lines (etcd-facts §4, kubeone-procedure §2.6)."""

from __future__ import annotations

import pytest

from etcdtui.core.etcd_command import apply_flags, parse_command
from etcdtui.core.findings import Severity
from etcdtui.core.flags import (
    Spelling,
    audit_flags,
    checks_summary,
    format_flags_for_display,
    kubeone_target_flags,
)
from etcdtui.core.go_duration import format_duration, parse_go_duration
from etcdtui.core.versions import EtcdVersion

pytestmark = pytest.mark.unit

V351 = EtcdVersion(3, 5, 1)
V3526 = EtcdVersion(3, 5, 26)
V364 = EtcdVersion(3, 6, 4)


def kubeadm_command(*extra: str, v36: bool = False) -> list[str]:
    """kubeadm's etcd static pod command (cmd/kubeadm/app/phases/etcd/local.go), sorted like kubeadm emits it."""
    ip, node = "10.0.0.11", "cp-1"
    return [
        "etcd",
        f"--advertise-client-urls=https://{ip}:2379",
        "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--feature-gates=InitialCorruptCheck=true" if v36 else "--experimental-initial-corrupt-check=true",
        f"--initial-advertise-peer-urls=https://{ip}:2380",
        f"--initial-cluster={node}=https://{ip}:2380",
        "--key-file=/etc/kubernetes/pki/etcd/server.key",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        f"--listen-peer-urls=https://{ip}:2380",
        f"--name={node}",
        "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
        "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--snapshot-count=10000",
        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--watch-progress-notify-interval=5s" if v36 else "--experimental-watch-progress-notify-interval=5s",
        *extra,
    ]


KUBEONE_35 = ("--experimental-corrupt-check-time=240m", "--experimental-compact-hash-check-enabled=true")


def kinds(audit_findings: object) -> dict[str, Severity]:
    return {f.kind: f.severity for f in audit_findings}  # type: ignore[attr-defined]


# --- durations and parsing ---


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("240m", 14400),
        ("4h", 14400),
        ("1m30s", 90),
        ("0s", 0),
        ("0", 0),
        ("1.5h", 5400),
        ("300ms", 0.3),
        ("2h45m", 9900),
        ("10µs", 1e-5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "4", "4 h", "h", "1d", "--1s"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_format_duration() -> None:
    assert format_duration(14400) == "4h"
    assert format_duration(90) == "1m30s"
    assert format_duration(0) == "0s"


def test_parse_both_flag_forms_and_last_wins() -> None:
    cmd = parse_command(
        ["etcd", "--name", "cp-1", "-data-dir=/x", "--corrupt-check-time", "5m", "--name=cp-2"]
    )
    assert cmd.program == "etcd"
    assert cmd.get("name") == "cp-2" and cmd.repeated == ("name",)
    assert cmd.get("data-dir") == "/x"
    assert cmd.get("corrupt-check-time") == "5m"


def test_bool_flag_never_takes_the_next_word() -> None:
    cmd = parse_command(["etcd", "--experimental-initial-corrupt-check", "--name", "cp-1"])
    assert cmd.get("experimental-initial-corrupt-check") == "true"
    assert cmd.get("name") == "cp-1"


def test_feature_gates_merge() -> None:
    cmd = parse_command(["--feature-gates=InitialCorruptCheck=true", "--feature-gates=CompactHashCheck=true"])
    assert dict(cmd.feature_gates) == {"InitialCorruptCheck": "true", "CompactHashCheck": "true"}


# --- the audit ---


def test_kubeadm_default_35_has_only_initial_check() -> None:
    audit = audit_flags(kubeadm_command(), V3526)
    assert (audit.initial, audit.periodic, audit.compaction) == (True, False, False)
    assert audit.spelling is Spelling.EXPERIMENTAL
    found = kinds(audit.findings)
    assert found["checks.periodic_off"] is Severity.WARNING
    assert found["checks.compaction_off"] is Severity.INFO
    assert "checks.initial_off" not in found
    assert found["checks.removed_in_3_7"] is Severity.INFO  # 3.5: advisory only


def test_kubeone_35_enables_all_three() -> None:
    audit = audit_flags(kubeadm_command(*KUBEONE_35), V3526)
    assert (audit.initial, audit.periodic, audit.compaction) == (True, True, True)
    assert audit.periodic_interval_s == 14400
    assert audit.compaction_interval_s == 60
    assert (
        not {"checks.initial_off", "checks.periodic_off", "checks.compaction_off"}
        & kinds(audit.findings).keys()
    )
    assert audit.sources["periodic"] == "--experimental-corrupt-check-time=240m"


def test_kubeadm_36_feature_gate_spelling() -> None:
    audit = audit_flags(
        kubeadm_command("--corrupt-check-time=4h", "--feature-gates=CompactHashCheck=true", v36=True), V364
    )
    assert (audit.initial, audit.periodic, audit.compaction) == (True, True, True)
    assert audit.spelling is Spelling.FEATURE_GATE
    assert audit.conflicts == ()
    assert "checks.removed_in_3_7" not in kinds(audit.findings)


def test_kubeone_on_36_is_mixed_and_warns_about_37() -> None:
    audit = audit_flags(kubeadm_command(*KUBEONE_35, v36=True), V364)
    assert audit.spelling is Spelling.MIXED
    assert audit.conflicts == ()
    found = kinds(audit.findings)
    assert found["checks.removed_in_3_7"] is Severity.WARNING
    (removed,) = [f for f in audit.findings if f.kind == "checks.removed_in_3_7"]
    assert "--experimental-corrupt-check-time → --corrupt-check-time" in removed.message


def test_removed_flags_on_37_stop_etcd() -> None:
    audit = audit_flags(kubeadm_command(*KUBEONE_35, v36=True), EtcdVersion(3, 7, 1))
    assert kinds(audit.findings)["checks.removed_in_3_7"] is Severity.CRITICAL


def test_removed_flags_with_unknown_version_but_36_spelling_warn() -> None:
    audit = audit_flags(kubeadm_command(*KUBEONE_35, v36=True), None)
    assert kinds(audit.findings)["checks.removed_in_3_7"] is Severity.WARNING


@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        (("--experimental-initial-corrupt-check=true",), "initial"),
        (
            (
                "--experimental-compact-hash-check-enabled=true",
                "--feature-gates=InitialCorruptCheck=true,CompactHashCheck=true",
            ),
            "compaction",
        ),
        (("--experimental-corrupt-check-time=240m", "--corrupt-check-time=4h"), "periodic"),
        (
            ("--experimental-compact-hash-check-time=1m", "--compact-hash-check-time=2m"),
            "compaction-interval",
        ),
    ],
)
def test_both_spellings_conflict_critical_on_36(extra: tuple[str, ...], setting: str) -> None:
    audit = audit_flags(kubeadm_command(*extra, v36=True), V364)
    assert [c.setting for c in audit.conflicts] == [setting]
    (conflict,) = [f for f in audit.findings if f.kind == "checks.conflict"]
    assert conflict.severity is Severity.CRITICAL
    assert "refuses to start" in conflict.message


def test_conflict_is_only_a_warning_when_version_is_35() -> None:
    # 3.5 fails earlier, on the unknown --feature-gates flag; the conflict itself matters for the 3.6 upgrade.
    audit = audit_flags(kubeadm_command("--feature-gates=InitialCorruptCheck=true"), V3526)
    found = kinds(audit.findings)
    assert found["checks.conflict"] is Severity.WARNING
    assert found["checks.unsupported_flag"] is Severity.CRITICAL


def test_compaction_flag_before_355_stops_etcd() -> None:
    # Observed with the real etcd 3.5.1: "flag provided but not defined: -experimental-compact-hash-check-enabled", exit 2.
    audit = audit_flags(kubeadm_command(*KUBEONE_35), V351)
    (f,) = [f for f in audit.findings if f.kind == "checks.unsupported_flag"]
    assert f.severity is Severity.CRITICAL
    assert "flag provided but not defined" in f.message and "3.5.5" in f.message
    assert audit.compaction is False  # etcd cannot run it
    assert "checks.compaction_off" not in kinds(audit.findings)  # not available before 3.5.5: no nagging


def test_invalid_values_stop_etcd() -> None:
    audit = audit_flags(
        kubeadm_command(
            "--experimental-corrupt-check-time=4 hours", "--experimental-compact-hash-check-time=0s"
        ),
        V3526,
    )
    (f,) = [f for f in audit.findings if f.kind == "checks.invalid_value"]
    assert f.severity is Severity.CRITICAL
    assert "4 hours" in f.message and "must be > 0" in f.message


def test_stray_bool_value_is_reported() -> None:
    # Observed with etcd 3.5.1: `--experimental-initial-corrupt-check true` → "'true' is not a valid flag".
    audit = audit_flags(["etcd", "--experimental-initial-corrupt-check", "true"], V3526)
    assert kinds(audit.findings)["checks.stray_argument"] is Severity.CRITICAL


def test_all_off_is_worse_on_13766_versions() -> None:
    bare = ["etcd", "--name=cp-1", "--data-dir=/var/lib/etcd"]
    risky, fixed = kinds(audit_flags(bare, V351).findings), kinds(audit_flags(bare, V3526).findings)
    assert (
        risky["checks.initial_off"] is Severity.CRITICAL and fixed["checks.initial_off"] is Severity.WARNING
    )
    assert (
        risky["checks.periodic_off"] is Severity.CRITICAL and fixed["checks.periodic_off"] is Severity.WARNING
    )


def test_periodic_zero_is_off_and_long_interval_is_noted() -> None:
    assert not audit_flags(["etcd", "--experimental-corrupt-check-time=0s"], V3526).periodic
    audit = audit_flags(["etcd", "--experimental-corrupt-check-time=48h"], V3526)
    assert audit.periodic and kinds(audit.findings)["checks.periodic_interval_long"] is Severity.INFO


def test_explicit_false_is_off() -> None:
    audit = audit_flags(["etcd", "--feature-gates=InitialCorruptCheck=false"], V364)
    assert not audit.initial
    assert kinds(audit.findings)["checks.initial_off"] is Severity.WARNING


def test_enable_hint_uses_the_spelling_of_the_version() -> None:
    (f36,) = [f for f in audit_flags(["etcd"], V364).findings if f.kind == "checks.initial_off"]
    (f35,) = [f for f in audit_flags(["etcd"], V3526).findings if f.kind == "checks.initial_off"]
    assert f36.fields["enable_with"] == "--feature-gates=InitialCorruptCheck=true"
    assert f35.fields["enable_with"] == "--experimental-initial-corrupt-check=true"


def test_display_lines() -> None:
    lines = format_flags_for_display(audit_flags(kubeadm_command(*KUBEONE_35), V3526))
    assert lines[0].startswith("initial     on") and "--experimental-initial-corrupt-check=true" in lines[0]
    assert "every 4h" in lines[1]
    assert lines[3] == "spelling    experimental"
    assert any(line.startswith("3.7") for line in lines)
    conflict = format_flags_for_display(
        audit_flags(kubeadm_command("--experimental-initial-corrupt-check=true", v36=True), V364)
    )
    assert any(line.startswith("CONFLICT") for line in conflict)


def test_checks_summary_and_json() -> None:
    audit = audit_flags(kubeadm_command(), V3526)
    assert checks_summary(audit) == "I+ P- C-"
    data = audit.to_json_dict()
    assert data["initial"] is True and data["periodic"] is False and data["spelling"] == "experimental"


# --- KubeOne target flags (before/after) ---


def test_kubeone_target_35() -> None:
    assert kubeone_target_flags(V3526) == [
        "--experimental-initial-corrupt-check=true",
        "--experimental-corrupt-check-time=240m",
        "--experimental-compact-hash-check-enabled=true",
    ]
    assert "--experimental-compact-hash-check-enabled=true" not in kubeone_target_flags(V351)
    assert "--experimental-compact-hash-check-enabled=true" not in kubeone_target_flags(
        V3526, compaction_check=False
    )


def test_kubeone_target_36_uses_the_gate_for_initial() -> None:
    target = kubeone_target_flags(V364)
    assert target[0] == "--feature-gates=InitialCorruptCheck=true"
    after = audit_flags(apply_flags(kubeadm_command(v36=True), target), V364)
    assert after.conflicts == ()
    assert (after.initial, after.periodic, after.compaction) == (True, True, True)


def test_before_and_after_on_kubeadm_35() -> None:
    before = audit_flags(kubeadm_command(), V3526)
    after = audit_flags(apply_flags(kubeadm_command(), kubeone_target_flags(V3526)), V3526)
    assert (before.periodic, after.periodic) == (False, True)
    assert (before.compaction, after.compaction) == (False, True)


def test_apply_flags_replaces_separate_value_form_and_merges_gates() -> None:
    cmd = [
        "etcd",
        "--experimental-corrupt-check-time",
        "10m",
        "--feature-gates=StopGRPCServiceOnDefrag=true",
        "--name=a",
    ]
    out = apply_flags(
        cmd, ["--experimental-corrupt-check-time=240m", "--feature-gates=InitialCorruptCheck=true"]
    )
    assert "10m" not in out
    assert out.count("--experimental-corrupt-check-time=240m") == 1
    assert "--feature-gates=StopGRPCServiceOnDefrag=true,InitialCorruptCheck=true" in out
    assert "--name=a" in out


def test_compaction_check_is_not_asked_for_before_355() -> None:
    assert "checks.compaction_off" not in kinds(audit_flags(kubeadm_command(), V351).findings)
    assert "checks.compaction_off" in kinds(audit_flags(kubeadm_command(), EtcdVersion(3, 5, 5)).findings)


# --- boolean flags per etcd line (core/bool_flags.py, from the fs.BoolVar calls at each tag) ------------------
from etcdtui.core.bool_flags import BOOL_FLAGS_BY_LINE, IGNORED_FLAGS  # noqa: E402

_LINE_SOURCE = {
    (3, 4): "etcdmain/config.go v3.4.45",
    (3, 5): "server/etcdmain/config.go v3.5.33",
    (3, 6): "server/embed/config.go v3.6.14",
    (3, 7): "server/embed/config.go v3.7.1",
}
_EVERY_BOOL = [
    pytest.param(line, name, id=f"--{name} @ {_LINE_SOURCE[line]}")
    for line, names in sorted(BOOL_FLAGS_BY_LINE.items())
    for name in sorted(names)
] + [pytest.param((3, 7), name, id=f"--{name} @ pkg/flags/ignored.go IsBoolFlag v3.7.1") for name in sorted(IGNORED_FLAGS)]


@pytest.mark.parametrize(("line", "flag"), _EVERY_BOOL)
def test_every_bool_flag_before_a_check_flag_leaves_it_alone(line: tuple[int, int], flag: str) -> None:
    """`etcd --pre-vote --experimental-initial-corrupt-check=true` is initial check ON: a bare boolean flag never
    reads the next word (Go's flag package, `IsBoolFlag`)."""
    version = EtcdVersion(*line, 0)
    cmd = parse_command(["etcd", f"--{flag}", "--experimental-initial-corrupt-check=true",
                         f"--{flag}", "--experimental-corrupt-check-time=240m", f"-{flag}", "--data-dir=/x"])
    assert cmd.get(flag) == "true"
    assert cmd.get("experimental-initial-corrupt-check") == "true"
    assert cmd.get("experimental-corrupt-check-time") == "240m"
    assert cmd.get("data-dir") == "/x"
    assert not cmd.positional and not cmd.missing_value
    audit = audit_flags(["etcd", f"--{flag}", "--experimental-initial-corrupt-check=true",
                         f"--{flag}", "--experimental-corrupt-check-time=240m"], version if line < (3, 7) else None)
    assert audit.initial and audit.periodic


def test_issue_example_pre_vote_before_initial_check() -> None:
    audit = audit_flags(["etcd", "--pre-vote", "--experimental-initial-corrupt-check=true"], EtcdVersion(3, 5, 33))
    assert audit.initial
    assert "checks.initial_off" not in {f.kind for f in audit.findings}


def test_bool_flag_tables_match_upstream_differences() -> None:
    """What changed between lines (same sources): --debug only in 3.4, --enable-v2 gone in 3.6, the experimental
    bools gone in 3.7, --memory-mlock and --peer-skip-client-san-verification new in 3.6."""
    b = BOOL_FLAGS_BY_LINE
    assert "debug" in b[(3, 4)] and "debug" not in b[(3, 5)]
    assert "enable-v2" in b[(3, 5)] and "enable-v2" not in b[(3, 6)]
    assert not any(n.startswith("experimental-") for n in b[(3, 7)])
    assert {"memory-mlock", "peer-skip-client-san-verification", "enable-distributed-tracing"} <= b[(3, 6)]
    assert "next-cluster-version-compatible" in b[(3, 4)] and "enable-log-rotation" not in b[(3, 4)]


def test_a_value_flag_never_swallows_the_next_flag() -> None:
    """Go would read `--data-dir --experimental-initial-corrupt-check=true` as data-dir '--experimental-…';
    the audit never lets a `--flag` become a value: the flag counts, and the missing value is reported."""
    cmd = parse_command(["etcd", "--data-dir", "--experimental-initial-corrupt-check=true", "--name", "cp-1"])
    assert cmd.get("experimental-initial-corrupt-check") == "true"
    assert cmd.get("name") == "cp-1" and cmd.missing_value == ("data-dir",)
    audit = audit_flags(["etcd", "--data-dir", "--experimental-initial-corrupt-check=true"], EtcdVersion(3, 5, 33))
    assert audit.initial
    (missing,) = [f for f in audit.findings if f.kind == "checks.missing_value"]
    assert missing.severity is Severity.CRITICAL and missing.fields["flags"] == ["--data-dir"]
    # an unknown bare flag keeps its next non-flag word (Go treats unknown flags as an error anyway)
    assert parse_command(["etcd", "--log-level", "debug"]).get("log-level") == "debug"


def test_37_removed_every_experimental_flag_and_v2_discovery() -> None:
    """CHANGELOG-3.7.md: PR #19959 (all deprecated experimental flags), PR #20109 (v2discovery); no such
    fs.*Var in server/embed/config.go v3.7.1. A 3.7 config file ignores the keys (sigs.k8s.io/yaml Unmarshal)."""
    command = kubeadm_command("--experimental-warning-apply-duration=200ms", "--experimental-memory-mlock",
                              "--discovery=https://discovery.etcd.io/x", "--snapshot-count=10000")
    audit = audit_flags(command, EtcdVersion(3, 7, 1))
    (removed,) = [f for f in audit.findings if f.kind == "checks.removed_in_3_7"]
    assert removed.severity is Severity.CRITICAL
    assert set(removed.fields["flags"]) == {"--experimental-initial-corrupt-check",
                                            "--experimental-warning-apply-duration", "--experimental-memory-mlock",
                                            "--discovery", "--experimental-watch-progress-notify-interval"}
    assert "--snapshot-count" not in removed.fields["flags"]  # kept in 3.7 (PR #21162)
    assert "--experimental-memory-mlock → --memory-mlock" in removed.message
    assert "--experimental-initial-corrupt-check → --feature-gates=InitialCorruptCheck=true" in removed.message
    assert "config-file" in removed.message and "silently ignored" in removed.message


def test_36_conflict_messages_are_etcds_own() -> None:
    """server/embed/config.go v3.6.14: 'cannot specify both flags: --X=… and --feature-gates=G=… at the same
    time' (bool flag vs gate) and 'cannot set --X and --Y at the same time' (experimentalFlagMigrationMap)."""
    audit = audit_flags(kubeadm_command("--feature-gates=InitialCorruptCheck=false",
                                        "--experimental-corrupt-check-time=1m", "--corrupt-check-time=2m"),
                        EtcdVersion(3, 6, 14))
    messages = [f.message for f in audit.findings if f.kind == "checks.conflict"]
    assert any("cannot specify both flags: --experimental-initial-corrupt-check" in m for m in messages)
    assert any("cannot set --experimental-corrupt-check-time and --corrupt-check-time at the same time" in m
               for m in messages)
    # etcd's test is on the gate's name in the --feature-gates text, whatever its value: =false conflicts too
    assert all(f.severity is Severity.CRITICAL for f in audit.findings if f.kind == "checks.conflict")


def test_37_spelling_is_clean() -> None:
    """server/embed/config.go v3.7.1 keeps --corrupt-check-time/--compact-hash-check-time and the
    InitialCorruptCheck/CompactHashCheck gates (server/features/etcd_features.go v3.7.1)."""
    command = ["etcd", "--data-dir=/var/lib/etcd", "--pre-vote", "--snapshot-count=10000",
               "--feature-gates=InitialCorruptCheck=true,CompactHashCheck=true", "--corrupt-check-time=240m"]
    audit = audit_flags(command, EtcdVersion(3, 7, 1))
    assert audit.initial and audit.periodic and audit.compaction
    assert not audit.removed_in_3_7 and not [f for f in audit.findings if f.severity >= Severity.WARNING]
