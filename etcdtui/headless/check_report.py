"""How `etcdtui check` shows a ring snapshot: a text report and the `--json` object.

Pure formatting of a `RingSnapshot`. The Prometheus metrics are `etcdtui.headless.ring_metrics`.
"""

from __future__ import annotations

from typing import Any

from etcdtui import exitcodes
from etcdtui.core.findings import Finding, Severity, Status
from etcdtui.engine.snapshot import MemberRow, RingSnapshot, Verdict


def exit_code(snap: RingSnapshot) -> int:
    """Critical evidence wins even on partial data; otherwise an incomplete check is UNKNOWN."""
    code = int(snap.verdict.status)  # the verdict's Nagios status is the exit code
    if code == exitcodes.CRITICAL:
        return code
    if not snap.complete:
        return exitcodes.UNKNOWN
    return code


def verdict_word(snap: RingSnapshot) -> str:
    """The `verdict` of `--json`: the ring verdict, or UNKNOWN when the check could not complete."""
    if exit_code(snap) == exitcodes.UNKNOWN:
        return Verdict.UNKNOWN.value
    return snap.verdict.value


def status_word(snap: RingSnapshot) -> str:
    """The `status` of `--json`: the Nagios word of the exit code, as `scan-logs --json` prints it."""
    return Status(exit_code(snap)).name


# -- JSON ----------------------------------------------------------------------------------------


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity.label,
        "message": f.message,
        "member": f.member,
        "fields": {k: _json_value(v) for k, v in f.fields.items()},
    }


def _json_value(value: object) -> Any:
    """Scalars as they are, sequences and mappings (a version risk's `issues`) as JSON, anything else as text."""
    if isinstance(value, str | int | float | bool | None):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def member_json(row: MemberRow) -> dict[str, Any]:
    return {
        "pod": row.pod_name,
        "node": row.node_name,
        "member_id": row.member_id,
        "version": row.version,
        "leader": row.is_leader,
        "healthy": row.healthy,
        "hash_agrees": row.hash_agrees,
        "db_size": row.db_size,
        "db_size_in_use": row.db_size_in_use,
        "quota_backend_bytes": row.quota_backend_bytes,
        "alarms": list(row.alarms),
        "checks": row.checks.as_dict() if row.checks else {"initial": None, "periodic": None, "compaction": None},
        "findings": [finding_json(f) for f in row.findings],
    }


def check_json(snap: RingSnapshot) -> dict[str, Any]:
    row_findings = {id(f) for r in snap.rows for f in r.findings}
    ring_findings = [f for f in snap.findings if id(f) not in row_findings]
    if not snap.complete and snap.incomplete_reason and all(f.message != snap.incomplete_reason for f in ring_findings):
        ring_findings.insert(0, Finding("check.incomplete", Severity.WARNING, snap.incomplete_reason))
    return {
        "status": status_word(snap),
        "verdict": verdict_word(snap),
        "context": snap.context,
        "members": [member_json(r) for r in snap.rows],
        "findings": [finding_json(f) for f in ring_findings],
    }


# -- text ----------------------------------------------------------------------------------------


def _yes(value: bool | None, yes: str = "yes", no: str = "NO") -> str:
    return "-" if value is None else (yes if value else no)


def _checks(row: MemberRow) -> str:
    c = row.checks
    if c is None:
        return "-"
    return " ".join(
        f"{k}{'+' if on else '-'}" for k, on in (("I", c.initial), ("P", c.periodic is not None), ("C", c.compaction))
    )


def text_report(snap: RingSnapshot) -> str:
    lines: list[str] = []
    ft = "?" if snap.fault_tolerance is None else str(snap.fault_tolerance)
    lines.append(
        f"etcd ring: {verdict_word(snap)}   context {snap.context} ({snap.server})   "
        f"members {snap.members_total}  quorum {snap.quorum or '?'}  tolerates {ft} failure(s)"
    )
    if not snap.complete and snap.incomplete_reason:
        lines.append(f"incomplete: {snap.incomplete_reason}")
    if snap.rows:
        header = ("POD", "NODE", "MEMBER", "VERSION", "LEADER", "HEALTHY", "REVISION", "HASH", "CHECKS")
        table = [header]
        for r in snap.rows:
            table.append((
                r.pod_name or "-",
                r.node_name or "-",
                r.member_id or "-",
                r.version or "-",
                _yes(r.is_leader, "leader", "-"),
                _yes(r.healthy),
                "-" if r.revision is None else str(r.revision),
                _yes(r.hash_agrees, "agrees", "DIFFERS") if r.hash_agrees is not None else ("?" if r.hash is not None else "-"),
                _checks(r),
            ))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    shown = [f for f in snap.findings if f.severity >= Severity.INFO]
    if shown:
        lines.append("findings (most severe first):")
        for f in shown:
            lines.append(f"  {f.severity.name:<8} {f.member or '(ring)':<14} {f.kind:<26} {f.message}")
    return "\n".join(lines)
