"""How `scan-logs` reports what it collected: the overall status, the text for an operator, the JSON object."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from etcdtui.core.classify_rules import RULES
from etcdtui.core.compaction import CompactionHashBook
from etcdtui.core.findings import Severity, Status
from etcdtui.core.scan import ScanHit, ScanSummary
from etcdtui.headless.scan_collect import PER_KIND, Collected
from etcdtui.headless.scan_reading import (
    MAX_LINE,
    Source,
)

SHOWN_PER_KIND = 5  # occurrences printed per kind without --all


# --- reporting -----------------------------------------------------------------------------------


def overall_status(collected: Collected, summaries: list[ScanSummary]) -> Status:
    severities = {hit.finding.severity for hits in collected.hits.values() for hit in hits}
    if Severity.CRITICAL in severities:
        return Status.CRITICAL
    if any(s.etcd_lines == 0 for s in summaries):
        return Status.UNKNOWN
    if Severity.WARNING in severities:
        return Status.WARNING
    return Status.OK


def _sorted_hits(collected: Collected, sources: list[Source]) -> list[ScanHit]:
    # Most severe first; within a severity the strongest evidence first (RULES lists it in that order).
    rank = {source.label: i for i, source in enumerate(sources)}
    strength = {kind: i for i, kind in enumerate(RULES)}
    hits = [hit for kept in collected.hits.values() for hit in kept]
    hits.sort(key=lambda h: (-h.finding.severity, strength.get(h.finding.kind, len(strength)),
                             rank.get(h.source, len(rank)), h.line))
    return hits


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(status: Status, collected: Collected, summaries: list[ScanSummary], book: CompactionHashBook,
            sources: list[Source]) -> dict[str, Any]:
    findings = [
        {
            "file": hit.source,
            "line": hit.line,
            "member": hit.member,
            "ts": _iso(hit.ts),
            "severity": hit.finding.severity.label,
            "kind": hit.finding.kind,
            "msg": hit.etcd_msg,
            "message": hit.finding.message,
            "about_member_id": hit.finding.member,
            "fields": hit.finding.fields,
        }
        for hit in _sorted_hits(collected, sources)
    ]
    by_severity: Counter[str] = Counter()
    for kind, count in collected.counts.items():
        by_severity[_severity_label(collected, kind)] += count
    files = []
    for summary in summaries:
        entry = summary.to_dict()
        entry["first_ts"], entry["last_ts"] = _iso(summary.first_ts), _iso(summary.last_ts)
        files.append(entry)
    return {
        "status": status.name,
        "findings": findings,
        "summary": {
            "files": files,
            "lines": sum(s.lines for s in summaries),
            "bytes": sum(s.bytes for s in summaries),
            "unparsed_lines": sum(s.unparsed for s in summaries),
            "by_kind": dict(collected.counts),
            "by_severity": dict(by_severity),
            "findings_dropped": collected.dropped,
            "suspect_members": suspects(collected),
            "findings_kept_per_kind": PER_KIND,
            "compaction_revisions_compared": len(book),
            "compaction_revisions_dropped": book.dropped_revisions,
        },
    }


def _severity_label(collected: Collected, kind: str) -> str:
    kept = collected.hits.get(kind)
    return kept[0].finding.severity.label if kept else RULES[kind].severity.label


_HEADLINES = {
    Status.OK: "OK: no corruption evidence and no warnings in the etcd logs",
    Status.WARNING: "WARNING: no corruption evidence, but things to look at",
    Status.CRITICAL: "CRITICAL: corruption evidence in the etcd logs",
    Status.UNKNOWN: "UNKNOWN: could not check everything",
}


_SELF_EVIDENCE = ("corruption.initial_hash_mismatch", "corruption.initial_check_failed",
                  "corruption.data_inconsistency")


def suspects(collected: Collected) -> dict[str, str]:
    """Members whose own logs say their data differs (their initial check), or the minority of a passive
    compaction-hash comparison: member name → why."""
    result: dict[str, str] = {}
    for kind in _SELF_EVIDENCE:
        for hit in collected.hits.get(kind, []):
            member_id = f" (member ID {hit.finding.member})" if hit.finding.member else ""
            result.setdefault(hit.member, f"its own initial check found its data differs from its peers{member_id}")
    for hit in collected.hits.get("corruption.cross_member_hash_mismatch", []):
        for member in hit.finding.fields.get("minority", []):
            result.setdefault(member, "its compaction hash differs from the majority")
    return result


def render_text(status: Status, collected: Collected, summaries: list[ScanSummary], sources: list[Source],
                show_all: bool) -> str:
    out = [_HEADLINES[status]]
    named = suspects(collected)
    for member, why in named.items():
        out.append(f"Suspect member: {member}: {why}.")
    if status is Status.CRITICAL and not named:
        out.append("The logs do not say which member differs: compare `etcdctl endpoint hashkv --cluster -w json` "
                   "at one common --rev.")
    groups: dict[tuple[Severity, str], list[ScanHit]] = {}
    for hit in _sorted_hits(collected, sources):
        groups.setdefault((hit.finding.severity, hit.finding.kind), []).append(hit)
    passed: list[str] = []
    minor: list[str] = []
    for (severity, kind), hits in groups.items():
        if severity < Severity.WARNING and not show_all:
            (passed if severity is Severity.OK else minor).append(f"{kind} ×{_count(collected, kind, hits)}")
            continue
        rule = RULES.get(kind)
        title = rule.title if rule else kind
        out.append("")
        out.append(f"{severity.name:<8}  {title}  [{kind}] ×{_count(collected, kind, hits)}")
        if rule is not None and severity >= Severity.WARNING:
            out.append(f"          why: {rule.why}")
        shown = hits if show_all else hits[:SHOWN_PER_KIND]
        for hit in shown:
            stamp = _iso(hit.ts) or "-"
            out.append(f"  {hit.source}:{hit.line}  member {hit.member}  {stamp}")
            out.append(f"      {hit.finding.message}")
        hidden = _count(collected, kind, hits) - len(shown)
        if hidden > 0:
            out.append(f"  … and {hidden} more" + ("" if show_all else " (--all shows them)"))
    if passed or minor:
        out.append("")
    if passed:
        out.append("Checks that compared peers and passed: " + ", ".join(passed))
    if minor:
        out.append("Also seen (info; --all shows them): " + ", ".join(minor))
    out.append("")
    out.append(_totals(summaries))
    for summary in summaries:
        if summary.etcd_lines == 0:
            out.append(f"{summary.source}: no etcd log line found ({summary.lines} lines): not checked.")
    return "\n".join(out)


def _count(collected: Collected, kind: str, hits: list[ScanHit]) -> int:
    return max(collected.counts.get(kind, 0), len(hits))


def _totals(summaries: list[ScanSummary]) -> str:
    lines = sum(s.lines for s in summaries)
    size = sum(s.bytes for s in summaries)
    unparsed = sum(s.unparsed for s in summaries)
    cut = sum(s.truncated_lines for s in summaries)
    text = f"Scanned {len(summaries)} file(s), {lines} lines, {size / 1e6:.1f} MB; {unparsed} unparsed line(s)"
    if cut:
        text += f", {cut} over-long line(s) cut at {MAX_LINE} bytes"
    spans = [(s.first_ts, s.last_ts) for s in summaries if s.first_ts is not None]
    if spans:
        first = min(a for a, _ in spans)
        last = max(b or a for a, b in spans)
        text += f"; from {_iso(first)} to {_iso(last)}"
    return text + "."
