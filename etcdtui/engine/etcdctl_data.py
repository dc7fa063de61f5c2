"""What one etcdctl poll learned, as the core's typed records (`etcdtui.core.etcdctl`).

etcdctl drops failed endpoints from its JSON arrays and exits 1, so every command's stdout is parsed
whatever the exit code; output that does not parse becomes an error line, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from etcdtui.core import etcdctl as ec

T = TypeVar("T")


@dataclass(frozen=True)
class PollResult:
    at: datetime
    pod: str  # the pod etcdctl ran in
    member_list: ec.MemberList | None  # None: member list failed
    statuses: tuple[ec.EndpointStatus, ...]
    health: tuple[ec.EndpointHealth, ...]
    alarms: tuple[ec.Alarm, ...] | None  # None: alarm list failed
    hashes: tuple[ec.EndpointHash, ...]
    common_revision: int | None  # the --rev the hashes were taken at
    common_revision_note: str = ""  # why that revision, or why none
    errors: tuple[str, ...] = field(default_factory=tuple)  # one line per command that failed (partly)
    stderr: dict[str, str] = field(default_factory=dict)  # query -> first stderr line, when it failed
    duration: float = 0.0

    @property
    def members(self) -> tuple[ec.Member, ...] | None:
        return self.member_list.members if self.member_list is not None else None


def parse_or_none(parser: Callable[[str], T], stdout: str, errors: list[str]) -> T | None:
    """Run one of the core's parsers; a parse failure is recorded, not raised."""
    if not stdout.strip():
        return None
    try:
        return parser(stdout)
    except ec.EtcdctlParseError as exc:
        errors.append(str(exc))
        return None
