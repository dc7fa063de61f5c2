"""Findings: the one currency of evidence in etcdtui (log lines, flags, versions, ring evaluation)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered so that `max()` gives the worst; the names are what `--json` prints."""

    OK = 0  # positive evidence (a check that really compared peers and passed)
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Status(enum.IntEnum):
    """Overall status of a headless check; the value is the Nagios exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def status_for(severities: list[Severity]) -> Status:
    worst = max(severities, default=Severity.OK)
    if worst is Severity.CRITICAL:
        return Status.CRITICAL
    if worst is Severity.WARNING:
        return Status.WARNING
    return Status.OK


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: what (`kind`), how bad (`severity`), a human sentence and the raw fields.

    `kind` is a stable dotted identifier (e.g. `corruption.initial_hash_mismatch`) that tests, the UI and
    `--json` consumers key on; `message` is for people.
    """

    kind: str
    severity: Severity
    message: str
    member: str | None = None  # pod/member name or hex member ID the finding is about, when known
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def is_corruption(self) -> bool:
        return self.kind.startswith("corruption.")
