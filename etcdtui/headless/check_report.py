"""How `etcdtui check` shows a ring snapshot: a text report, the `--json` object, and Prometheus text.

Pure formatting of a `RingSnapshot` (no I/O except `write_textfile`, which writes atomically).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
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
        "fields": {k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in f.fields.items()},
    }


def member_json(row: MemberRow) -> dict[str, Any]:
    return {
        "pod": row.pod_name,
        "node": row.node_name,
        "member_id": row.member_id,
        "version": row.version,
        "leader": row.is_leader,
        "healthy": row.healthy,
        "hash_agrees": row.hash_agrees,
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


# -- Prometheus textfile-collector format --------------------------------------------------------

METRICS_HELP = {
    "etcdtui_ring_status": "Ring status as the check's exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    "etcdtui_ring_verdict": "1 for the current ring verdict (HEALTHY, WARNING, CORRUPTION, QUORUM-LOST, UNKNOWN).",
    "etcdtui_ring_members": "Members in the etcd member list.",
    "etcdtui_ring_fault_tolerance": "Members that can still fail before quorum is lost.",
    "etcdtui_member_healthy": "1 if etcdctl endpoint health passed for the member, 0 if not.",
    "etcdtui_member_leader": "1 for the leader.",
    "etcdtui_member_hash_agrees": "1 hash agrees with peers, 0 differs, -1 inconclusive (not comparable).",
    "etcdtui_member_corruption_checks": "1 if the corruption check (initial, periodic, compaction) is enabled.",
    "etcdtui_member_version_risk": "Known data-consistency risk of the member's etcd version: 0 none, 1 info, 2 warning, 3 critical.",
    "etcdtui_member_revision": "The member's current revision.",
    "etcdtui_member_db_size_bytes": "The member's backend database size.",
    "etcdtui_findings": "Number of findings by severity and kind.",
    "etcdtui_check_timestamp_seconds": "Unix time of this check.",
    "etcdtui_check_success": "1 if the check completed (cluster reachable, etcdctl answered), 0 otherwise.",
}


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: object) -> str:
    inner = ",".join(f'{k}="{_escape("" if v is None else v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def prometheus_text(snap: RingSnapshot, now: float | None = None) -> str:
    samples: dict[str, list[str]] = {name: [] for name in METRICS_HELP}
    ctx = snap.context

    def add(name: str, value: float, **labels: object) -> None:
        samples[name].append(f"{name}{_labels(context=ctx, **labels)} {value:g}")

    add("etcdtui_ring_status", exit_code(snap))
    for verdict in Verdict:
        add("etcdtui_ring_verdict", 1 if verdict_word(snap) == verdict.value else 0, verdict=verdict.value)
    add("etcdtui_ring_members", snap.members_total)
    if snap.fault_tolerance is not None:
        add("etcdtui_ring_fault_tolerance", snap.fault_tolerance)
    for r in snap.rows:
        who = {"pod": r.pod_name or "", "node": r.node_name or "", "member_id": r.member_id or ""}
        if r.healthy is not None:
            add("etcdtui_member_healthy", 1 if r.healthy else 0, **who)
        if r.is_leader is not None:
            add("etcdtui_member_leader", 1 if r.is_leader else 0, **who)
        if r.member_id is not None and snap.common_revision is not None:
            add("etcdtui_member_hash_agrees", -1 if r.hash_agrees is None else int(r.hash_agrees), **who)
        if r.checks is not None:
            for check, on in (("initial", r.checks.initial), ("periodic", r.checks.periodic is not None),
                              ("compaction", r.checks.compaction)):
                add("etcdtui_member_corruption_checks", 1 if on else 0, check=check, **who)
        if r.version_risk is not None:
            add("etcdtui_member_version_risk", int(r.version_risk), version=r.version or "", **who)
        if r.revision is not None:
            add("etcdtui_member_revision", r.revision, **who)
        if r.db_size is not None:
            add("etcdtui_member_db_size_bytes", r.db_size, **who)
    counts = Counter((f.severity.label, f.kind) for f in snap.findings)
    for (severity, kind), n in sorted(counts.items()):
        add("etcdtui_findings", n, severity=severity, kind=kind)
    add("etcdtui_check_timestamp_seconds", round(now if now is not None else time.time(), 3))
    add("etcdtui_check_success", 1 if snap.complete else 0)
    out: list[str] = []
    for name, lines in samples.items():
        if not lines:
            continue
        out.append(f"# HELP {name} {METRICS_HELP[name]}")
        out.append(f"# TYPE {name} gauge")
        out.extend(lines)
    return "\n".join(out) + "\n"


def write_textfile(path: Path, text: str) -> None:
    """Atomically: a temp file in the same directory, fsync, rename (node_exporter never reads half a file)."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # metrics hold no secrets; the collector may run as another user
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
