"""Text for cells and panels: short, kubectl-like, and free of Textual so it is unit-tested on its own.

Nothing here decides health: severities come from the core (`MemberRow.findings`, `version_risk`); this
module only turns values into the few characters an operator reads at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.assessment import CorruptionChecks
from etcdtui.engine.snapshot import MemberRow

DASH = "-"


def age(since: datetime | None, now: datetime) -> str:
    """kubectl's AGE: the two most significant units, e.g. `45s`, `5m12s`, `3h4m`, `2d5h`."""
    if since is None:
        return DASH
    seconds = max(0, int((now - since) / timedelta(seconds=1)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours and days < 10 else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes and hours < 10 else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs and minutes < 10 else f"{minutes}m"
    return f"{secs}s"


def size(num_bytes: int | None) -> str:
    """Decimal units like etcdctl's table output (`25 MB`)."""
    if num_bytes is None:
        return DASH
    value = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover - the loop always returns


def number(value: int | None) -> str:
    return DASH if value is None else str(value)


def short_interval(value: str) -> str:
    """`4h0m0s` -> `4h`, `30m0s` -> `30m`: Go durations without their zero tails."""
    text = value
    for tail in ("0s", "0m"):
        if text.endswith(tail) and len(text) > len(tail) and not text[: -len(tail)][-1].isdigit():
            text = text[: -len(tail)]
    return text


def checks(value: CorruptionChecks | None) -> str:
    """Initial / periodic / compaction corruption checks as `on/4h/on`, `off/off/off`, `?/?/?`."""
    if value is None:
        return "?/?/?"

    def onoff(flag: bool | None) -> str:
        return "?" if flag is None else ("on" if flag else "off")

    if value.periodic:
        periodic = short_interval(value.periodic)
    else:
        periodic = "?" if value.initial is None else "off"
    return f"{onoff(value.initial)}/{periodic}/{onoff(value.compaction)}"


def checks_severity(value: CorruptionChecks | None) -> Severity:
    """Colour of the CHECKS cell: the audit's problems and 'off' are warnings (the core's findings say why)."""
    if value is None:
        return Severity.INFO
    if value.problems or value.initial is False or not value.periodic:
        return Severity.WARNING
    return Severity.OK


def hash_agreement(row: MemberRow) -> str:
    if row.hash_agrees is True:
        return "✓ equal"
    if row.hash_agrees is False:
        return "✗ DIFFERS"
    if row.hash is None:
        return DASH
    return "? inconclusive"


def hash_severity(row: MemberRow) -> Severity:
    if row.hash_agrees is False:
        return Severity.CRITICAL
    if row.hash_agrees is True:
        return Severity.OK
    return Severity.INFO


def leader(row: MemberRow) -> str:
    if row.is_learner:
        return "learner"
    if row.is_leader:
        return "★"
    return "" if row.is_leader is False else DASH


def ready(row: MemberRow) -> str:
    if row.pod is None:
        return DASH
    total = len(row.pod.containers) or 1
    done = sum(1 for c in row.pod.containers if c.ready)
    return f"{done}/{total}"


def status(row: MemberRow) -> str:
    if row.pod is None:
        return "no pod"
    return row.pod.status_text


def pod_severity(row: MemberRow) -> Severity:
    """Pod STATUS colour (k9s-style): Running+Ready is fine, a missing pod or any other state is not."""
    if row.pod is None:
        return Severity.CRITICAL
    if row.pod.deleting or row.pod.phase == "Pending":
        return Severity.WARNING
    if row.pod.phase == "Running" and row.pod.ready:
        return Severity.OK
    return Severity.CRITICAL


def version(row: MemberRow) -> str:
    text = row.version or (row.pod.image_version if row.pod else None)
    if text is None:
        return DASH
    if row.version_risk is not None and row.version_risk >= Severity.WARNING:
        return f"{text} ⚠"
    return text


def fragmentation(row: MemberRow) -> str:
    """1 − in-use/size, what a defragmentation gives back (`d`)."""
    value = row.fragmentation
    return DASH if value is None else f"{value:.0%}"


def fragmentation_severity(row: MemberRow) -> Severity | None:
    value = row.fragmentation
    return Severity.INFO if value is not None and value >= 0.5 else None  # worth a look, not a fault


def quota(row: MemberRow) -> str:
    """DB size as a share of --quota-backend-bytes (NOSPACE at 100 %)."""
    value = row.quota_use
    return DASH if value is None else f"{value:.0%} of {size(row.quota_backend_bytes)}"


def quota_severity(row: MemberRow) -> Severity | None:
    value = row.quota_use
    if value is None:
        return None
    return Severity.CRITICAL if value >= 0.95 else Severity.WARNING if value >= 0.8 else None


def lag(row: MemberRow) -> str:
    """Revision lag / raft index lag behind the ring's best member."""
    if row.revision_lag is None and row.raft_index_lag is None:
        return DASH
    return f"{number(row.revision_lag)}/{number(row.raft_index_lag)}"


def lag_severity(row: MemberRow) -> Severity:
    worst = max(row.revision_lag or 0, row.raft_index_lag or 0)
    return Severity.WARNING if worst > 100 else Severity.OK


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


def findings_summary(findings: tuple[Finding, ...]) -> str:
    """The most severe finding's kind and how many more there are: `corruption.hash_mismatch +2`."""
    problems = [f for f in findings if f.severity >= Severity.WARNING]
    if not problems:
        return "✓" if findings else ""
    top = max(problems, key=lambda f: f.severity)
    more = len(problems) - 1
    return top.kind + (f" +{more}" if more else "")


def findings_counts(findings: tuple[Finding, ...]) -> str:
    """`✗2 ⚠1`: critical and warning counts (the kinds are in the detail panel); `✓` when only good news."""
    critical = sum(1 for f in findings if f.severity is Severity.CRITICAL)
    warning = sum(1 for f in findings if f.severity is Severity.WARNING)
    parts = [f"✗{critical}" if critical else "", f"⚠{warning}" if warning else ""]
    text = " ".join(p for p in parts if p)
    return text or ("✓" if findings else "-")


def member_id(row: MemberRow) -> str:
    return row.member_id or DASH


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)) and value and not all(isinstance(v, (str, int, float)) for v in value):
        return f"{len(value)} items"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


SEVERITY_MARK = {Severity.OK: "✓", Severity.INFO: "·", Severity.WARNING: "⚠", Severity.CRITICAL: "✗"}


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def evidence(finding: Finding, limit: int = 6, width: int = 72) -> list[str]:
    """The finding's raw fields as `key: value` lines, bounded so one noisy finding cannot flood the panel."""
    lines = [clip(f"{key}: {_value(value)}", width) for key, value in list(finding.fields.items())[:limit]]
    if len(finding.fields) > limit:
        lines.append(f"… {len(finding.fields) - limit} more fields")
    return lines


_CHECK_SEVERITY = {"passed": Severity.OK, "failed": Severity.CRITICAL, "inconclusive": Severity.WARNING}


def last_check(row: MemberRow, now: datetime) -> tuple[str, Severity | None]:
    """The member's latest corruption check seen in its logs (log engine, issue #5): `passed 3m12s ago`."""
    found = next((f for f in reversed(row.findings) if f.fields.get("log-last-check")), None)
    if found is None:
        return DASH, None
    outcome = str(found.fields["log-last-check"])
    ts = found.fields.get("log-ts")
    when = age(datetime.fromtimestamp(ts, UTC), now) + " ago" if isinstance(ts, int | float) else ""
    return f"{outcome} {when}".strip(), _CHECK_SEVERITY.get(outcome)
