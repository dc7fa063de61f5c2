"""The per-member table of the checks screen: what each member's corruption checks are set to, and proven by logs."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from etcdtui.core.go_duration import format_duration
from etcdtui.core.versions import RiskTier
from etcdtui.engine.checks import MemberChecks
from etcdtui.engine.checks_evidence import INITIAL_FAILED, INITIAL_NONE, INITIAL_PASSED, INITIAL_VACUOUS

COLUMNS = (
    ("member", "MEMBER"),
    ("etcd", "ETCD"),
    ("initial", "INITIAL"),
    ("periodic", "PERIODIC"),
    ("compaction", "COMPACTION"),
    ("spelling", "SPELLING"),
    ("problems", "CONFLICTS / REMOVED"),
    ("logs", "LOG EVIDENCE (current run)"),
)

ON, OFF = "bold green", "bold red"


def initial_cell(m: MemberChecks) -> Text:
    return Text("on", ON) if m.audit.initial else Text("off", OFF)


def periodic_cell(m: MemberChecks) -> Text:
    if not m.audit.periodic:
        return Text("off", OFF)
    return Text(f"on, every {format_duration(m.audit.periodic_interval_s)}", ON)


def compaction_cell(m: MemberChecks) -> Text:
    if not m.compaction_available:
        # etcd < 3.5.5 has no compaction hash check at all: "off" would suggest a flag could turn it on.
        return Text(f"n/a on {m.version}", "dim")
    if not m.audit.compaction:
        return Text("off", "yellow")
    return Text(f"on, every {format_duration(m.audit.compaction_interval_s)}", ON)


def etcd_cell(m: MemberChecks) -> Text:
    version = str(m.version) if m.version else "?"
    if m.risk.tier >= RiskTier.CRITICAL:
        return Text(f"{version} ✗ risk", "bold red")
    if m.risk.tier >= RiskTier.HIGH:
        return Text(f"{version} ⚠ risk", "yellow")
    return Text(version)


def problems_cell(m: MemberChecks) -> Text:
    parts = [f"conflict: {c.flags[0]} + {c.flags[1]}" for c in m.audit.conflicts]
    if m.audit.removed_in_3_7:
        parts.append(f"{len(m.audit.removed_in_3_7)} removed in 3.7")
    if not parts:
        return Text("–", "dim")
    return Text("; ".join(parts), "yellow" if not m.audit.conflicts else "bold red")


def logs_cell(m: MemberChecks, now: float) -> Text:
    ev = m.logs
    if not ev.read:
        return Text(f"log unreadable: {ev.error}", "yellow")
    text = Text()
    if ev.enabled:
        text.append("enabled", "green")
        if ev.enabled_interval:
            text.append(f" ({ev.enabled_interval})", "dim")
    else:
        text.append("not enabled", "dim" if not m.audit.periodic else "yellow")
    text.append(" · initial ")
    style = {INITIAL_PASSED: "green", INITIAL_VACUOUS: "yellow", INITIAL_FAILED: "bold red", INITIAL_NONE: "dim"}
    shown = {INITIAL_VACUOUS: "passed vacuously (0 peers)", INITIAL_NONE: "not run"}.get(ev.initial, ev.initial)
    text.append(shown, style.get(ev.initial, "yellow"))
    if ev.periodic_passes:
        age = ev.periodic_age(now)
        text.append(" · last peer check ")
        text.append(f"{format_duration(round(age))} ago" if age is not None else "?",
                    "yellow" if ev.periodic_vacuous else "green")
        if ev.periodic_last_peers is not None:
            text.append(f" ({ev.periodic_last_peers} peers)", "yellow" if ev.periodic_last_peers == 0 else "dim")
    elif m.is_leader and m.audit.periodic:
        text.append(" · no peer check yet", "dim")
    if ev.truncated:
        text.append(" · (log tail only)", "dim")
    return text


def member_cell(m: MemberChecks) -> Text:
    text = Text(m.pod)
    if m.is_leader:
        text.append(" ★", "bold")
    if not m.ready:
        text.append(f" {m.status}", "yellow")
    return text


class ChecksMembersTable(DataTable[Text]):
    DEFAULT_CSS = """
    ChecksMembersTable { height: auto; max-height: 12; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, members: Sequence[MemberChecks], now: float) -> None:
        self.clear()
        for m in members:
            self.add_row(
                member_cell(m), etcd_cell(m), initial_cell(m), periodic_cell(m), compaction_cell(m),
                Text(m.audit.spelling.value), problems_cell(m), logs_cell(m, now), key=m.pod,
            )
