"""What a member's current log says about its corruption checks (etcd-facts §1.2, §1.3, §1.6). Pure.

The lines go through the core's `LogScanner` (which matches on `msg`, and knows whether an initial check
"passed" without comparing any peer); this module only keeps the facts the checks screen shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from etcdtui.core.findings import Severity
from etcdtui.core.scan import LogScanner

INITIAL_PASSED = "passed"
INITIAL_VACUOUS = "vacuous"  # "passed" without comparing any peer
INITIAL_UNVERIFIED = "passed?"  # passed, but the start of the run is not in the log we read
INITIAL_FAILED = "FAILED"
INITIAL_ERROR = "error"
INITIAL_NONE = "none"


@dataclass(frozen=True)
class LogEvidence:
    read: bool  # False: the log could not be read (`error` says why)
    error: str | None = None
    lines: int = 0
    truncated: bool = False  # only the tail of the log was read (the start of the run may be missing)
    enabled: bool = False  # `enabled corruption checking`
    enabled_interval: str | None = None
    initial: str = INITIAL_NONE
    initial_detail: str = ""
    periodic_last_ts: float | None = None  # last `finished peer corruption check`
    periodic_last_peers: int | None = None
    periodic_passes: int = 0
    periodic_vacuous: int = 0  # passes that compared 0 peers

    def periodic_age(self, now: float) -> float | None:
        return None if self.periodic_last_ts is None else max(0.0, now - self.periodic_last_ts)


def unread(reason: str) -> LogEvidence:
    return LogEvidence(read=False, error=reason)


def evidence_from_lines(member: str, lines: Sequence[bytes], *, truncated: bool = False) -> LogEvidence:
    scanner = LogScanner(f"{member} (current container)", member)
    hits = scanner.feed(lines)
    scanner.finish()
    enabled, interval = False, None
    initial, detail = INITIAL_NONE, ""
    last_ts: float | None = None
    last_peers: int | None = None
    passes = vacuous = 0
    for hit in hits:
        kind, f = hit.finding.kind, hit.finding
        if kind == "check.enabled":
            enabled = True
            value = f.fields.get("interval")
            interval = str(value) if value is not None else interval
        elif kind == "check.initial_passed":
            # Without the start of the run the scanner leaves it unverified (INFO), else OK.
            initial = INITIAL_PASSED if f.severity is Severity.OK else INITIAL_UNVERIFIED
            detail = f.message
        elif kind == "check.initial_vacuous":
            initial, detail = INITIAL_VACUOUS, f.message
        elif kind == "corruption.initial_check_failed":
            initial, detail = INITIAL_FAILED, f.message
        elif kind == "check.initial_error":
            initial, detail = INITIAL_ERROR, f.message
        elif kind in ("check.periodic_passed", "check.periodic_vacuous"):
            passes += 1
            last_ts = hit.ts if hit.ts is not None else last_ts
            count = f.fields.get("number-of-peers-checked")
            last_peers = count if isinstance(count, int) else (0 if kind == "check.periodic_vacuous" else None)
            if kind == "check.periodic_vacuous":
                vacuous += 1
    return LogEvidence(
        read=True,
        lines=scanner.summary.lines,
        truncated=truncated,
        enabled=enabled,
        enabled_interval=interval,
        initial=initial,
        initial_detail=detail,
        periodic_last_ts=last_ts,
        periodic_last_peers=last_peers,
        periodic_passes=passes,
        periodic_vacuous=vacuous,
    )
