"""KubeOne's plan text before `Do you want to proceed (yes/no): ` (kubeone-procedure §2.1, §2.6), parsed.

Enabling the corruption checks is `kubeone apply --force-upgrade` on a healthy cluster: its plan lists only
`~ force upgrade control plane node "<host>" (<ip>): vX -> vX` lines. Anything else (a join, a repair, a
worker, an upgrade to another version, a task description) means this apply would do more than restart
the members with new flags, so the dialog warns and defaults to "no".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PLAN_HEADER = "The following actions will be taken:"
_ACTION = re.compile(r"^\s*([~+!-])\s+(.*\S)\s*$")
_FORCE_CP = re.compile(r'^force upgrade control plane node "(?P<host>[^"]+)" \((?P<ip>[^)]*)\): (?P<old>\S+) -> (?P<new>\S+)$')


@dataclass(frozen=True)
class PlanAction:
    mark: str  # "~", "+", "!" or "-" as KubeOne prints it
    text: str
    host: str | None = None  # for a force upgrade of a control-plane node
    expected: bool = False  # a same-version force upgrade of a control-plane node
    note: str = ""  # why an action is not expected


@dataclass(frozen=True)
class Plan:
    actions: tuple[PlanAction, ...]
    found_header: bool

    @property
    def unexpected(self) -> tuple[PlanAction, ...]:
        return tuple(a for a in self.actions if not a.expected)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(a.host for a in self.actions if a.host)

    @property
    def safe(self) -> bool:
        """Only same-version force upgrades of control-plane nodes, at least one: "yes" is the default."""
        return self.found_header and bool(self.actions) and not self.unexpected

    def warnings(self) -> list[str]:
        found: list[str] = []
        if not self.found_header:
            found.append("KubeOne printed no plan before its prompt: cannot tell what it would do")
        elif not self.actions:
            found.append("the plan lists no action")
        found.extend(f"not a control-plane force upgrade: {a.mark} {a.text}" + (f" ({a.note})" if a.note else "")
                     for a in self.unexpected)
        return found


def parse_plan(lines: Sequence[str]) -> Plan:
    """The last plan block in `lines` (the output before the prompt); tolerant of \\r, colours already stripped."""
    start = None
    for i, line in enumerate(lines):
        if line.strip().startswith(PLAN_HEADER):
            start = i
    if start is None:
        return Plan((), False)
    actions: list[PlanAction] = []
    for line in lines[start + 1:]:
        text = line.rstrip("\r")
        match = _ACTION.match(text)
        if match is None:
            continue  # "Run with --verbose …", blank lines, log lines in between
        actions.append(_action(match.group(1), match.group(2)))
    return Plan(tuple(actions), True)


def _action(mark: str, text: str) -> PlanAction:
    force = _FORCE_CP.match(text) if mark == "~" else None
    if force is None:
        return PlanAction(mark, text)
    host = force["host"]
    if force["old"].lstrip("v") != force["new"].lstrip("v"):
        return PlanAction(mark, text, host, False, f"changes Kubernetes {force['old']} -> {force['new']}")
    return PlanAction(mark, text, host, True)
