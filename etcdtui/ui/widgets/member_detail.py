"""The selected member in depth: node facts, etcd flags, findings with evidence, and trends since start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, Sparkline, Static

from etcdtui.core.findings import Severity
from etcdtui.engine.snapshot import MemberHistory, MemberRow, RingSnapshot
from etcdtui.ui import format as fmt
from etcdtui.ui.palette import Palette
from etcdtui.ui.widgets.flag_list import FlagList

# A detail column's padding (1 + 1) and its right border.
_COLUMN_GUTTER = 3
# Flags worth reading first when etcd misbehaves; the rest follow in command-line order.
_FLAG_ORDER = ("corrupt", "compact-hash", "initial-cluster", "data-dir", "snapshot-count", "quota")


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def node_text(row: MemberRow, now: datetime, palette: Palette) -> Text:
    text = Text()
    node = row.node
    text.append("NODE ", style="bold")
    text.append(row.node_name or "-", style="bold")
    if node is None:
        text.append("\n  no Node object seen", style=palette.style(Severity.WARNING))
    else:
        for kind, address in node.addresses:
            text.append(f"\n  {kind}: {address}")
        text.append(f"\n  kubelet: {node.kubelet_version or '-'}")
        text.append("\n  Ready: ")
        text.append(_yes_no(node.ready), style=palette.style(Severity.OK if node.ready else Severity.CRITICAL))
        text.append("   unschedulable: ")
        text.append(_yes_no(node.unschedulable), style=palette.style(Severity.WARNING if node.unschedulable else None))
        text.append(f"\n  control-plane: {_yes_no(node.control_plane)}")
    text.append("\nPOD ", style="bold")
    pod = row.pod
    if pod is None:
        text.append("none: member without a pod", style=palette.style(Severity.CRITICAL))
    else:
        text.append(f"{pod.status_text}, restarts {pod.restarts}, up {fmt.age(pod.started_at, now)}")
        for container in pod.containers:
            if container.last_reason or container.last_exit_code is not None:
                text.append(
                    f"\n  last exit: {container.last_reason or '-'} code {fmt.number(container.last_exit_code)}"
                    f" {fmt.age(container.last_finished_at, now)} ago",
                    style=palette.style(Severity.WARNING),
                )
    text.append("\nMEMBER ", style="bold")
    text.append(f"{fmt.member_id(row)} {row.member_name or ''}")
    for url in row.peer_urls:
        text.append(f"\n  peer: {url}")
    text.append(f"\n  term {fmt.number(row.raft_term)}  index {fmt.number(row.raft_index)}")
    text.append(f"  applied {fmt.number(row.raft_applied_index)}")
    text.append(f"\n  db {fmt.size(row.db_size)} (in use {fmt.size(row.db_size_in_use)}, "
                f"{fmt.fragmentation(row)} fragmented; quota {fmt.quota(row)})")
    if row.alarms:
        text.append("\n  alarms: ")
        text.append(", ".join(row.alarms), style=palette.style(Severity.CRITICAL))
    text.append(f"\n  hash {fmt.number(row.hash)} @rev {fmt.number(row.hash_revision)}")
    text.append(f" compact {fmt.number(row.compact_revision)}")
    if row.hash_note:
        text.append(f"\n  {row.hash_note}", style=palette.muted)
    return text


def _flags(command: Sequence[str]) -> list[str]:
    flags = [arg for arg in command if arg.startswith("--")]

    def rank(flag: str) -> int:
        return next((i for i, word in enumerate(_FLAG_ORDER) if word in flag), len(_FLAG_ORDER))

    return sorted(flags, key=rank)  # stable: command-line order within a rank


def _is_key_flag(flag: str) -> bool:
    return "corrupt" in flag or "compact-hash" in flag


def checks_text(row: MemberRow, palette: Palette) -> Text:
    """The corruption-check summary and the heading of the flag list below it."""
    text = Text()
    text.append("CORRUPTION CHECKS ", style="bold")
    text.append(fmt.checks(row.checks), style=palette.style(fmt.checks_severity(row.checks), bold=True))
    text.append("  (initial/periodic/compaction)", style=palette.muted)
    if row.checks:
        for problem in row.checks.problems:
            text.append(f"\n  ⚠ {problem}", style=palette.style(Severity.WARNING))
    text.append("\nFLAGS", style="bold")
    command = row.pod.command if row.pod else ()
    if not command:
        text.append("\n  unknown (no pod command line)", style=palette.muted)
    return text


def full_flag_text(flag: str | None, palette: Palette) -> Text:
    """The highlighted flag in full, its value on its own line (it is shown because the list elides it)."""
    if flag is None:
        return Text()
    name, _, value = flag.partition("=")
    text = Text("selected in full:", style=palette.muted)
    text.append(f"\n{name}=", style="bold")
    text.append(f"\n{value}", style="")
    return text


def findings_text(row: MemberRow, palette: Palette) -> Text:
    text = Text()
    text.append("FINDINGS", style="bold")
    if not row.findings:
        text.append("\n  none", style=palette.muted)
    for finding in sorted(row.findings, key=lambda f: -f.severity):
        text.append("\n")
        text.append(f"{fmt.SEVERITY_MARK[finding.severity]} {finding.severity.label.upper():8}",
                    style=palette.style(finding.severity, bold=True))
        text.append(f" {finding.kind}", style="bold")
        text.append(f"\n  {finding.message}")
        for line in fmt.evidence(finding):
            text.append(f"\n    {line}", style=palette.muted)
    return text


class Trend(Vertical):
    """One labelled sparkline: the label carries the latest value, the line the history since start."""

    DEFAULT_CSS = """
    Trend { height: 2; }
    Trend > Label { width: 1fr; }
    Trend > Sparkline { height: 1; }
    """

    def __init__(self, title: str, *, id: str) -> None:  # noqa: A002 - Textual's parameter name
        super().__init__(id=id)
        self._title = title

    def compose(self) -> ComposeResult:
        yield Label(self._title, classes="trend-label")
        yield Sparkline([], summary_function=max)

    def set_series(self, values: Sequence[float], latest: str) -> None:
        self.query_one(Label).update(f"{self._title}: {latest}")
        # One sample draws a full-height bar that means nothing: wait for a second one.
        self.query_one(Sparkline).data = list(values) if len(values) >= 2 else []


class MemberDetail(Vertical):
    """Everything about one member; `show(snapshot, key)` re-renders it, `show(None, None)` clears it."""

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title")
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-node", classes="detail-column"):
                yield Static("", id="detail-node-text")
            with VerticalScroll(id="detail-flags", classes="detail-column"):
                yield Static("", id="detail-flags-text")
                yield FlagList(id="detail-flag-list")
                yield Static("", id="detail-flag-full")
            with VerticalScroll(id="detail-findings", classes="detail-column"):
                yield Static("", id="detail-findings-text")
            with Vertical(id="detail-trends", classes="detail-column"):
                yield Label("TRENDS since start", classes="trend-title")
                yield Trend("revision rate /s", id="trend-revision-rate")
                yield Trend("DB size", id="trend-db-size")
                yield Trend("raft index lag", id="trend-raft-lag")
                yield Trend("leader changes (ring)", id="trend-leader-changes")

    _palette: Palette | None = None  # the last `show`'s, for the flag shown in full
    _flags_min_width: int | None = None

    def on_flag_list_shown(self, message: FlagList.Shown) -> None:
        full = self.query_one("#detail-flag-full", Static)
        full.display = message.elided
        if message.elided and self._palette is not None:
            full.update(full_flag_text(message.flag, self._palette))

    def show(self, snap: RingSnapshot | None, row: MemberRow | None, now: datetime, palette: Palette) -> None:
        title = self.query_one("#detail-title", Static)
        if snap is None or row is None:
            title.update(Text("No member selected", style=palette.muted))
            for widget_id in ("#detail-node-text", "#detail-flags-text", "#detail-findings-text"):
                self.query_one(widget_id, Static).update("")
            self.query_one(FlagList).set_flags(())
            return
        heading = Text()
        heading.append(f" {row.key} ", style="bold reverse")
        if row.is_leader:
            heading.append("  ★ leader", style=palette.style(Severity.OK, bold=True))
        worst = fmt.worst(row.findings)
        if worst is not None and worst >= Severity.WARNING:
            heading.append(f"  {fmt.SEVERITY_MARK[worst]} {fmt.findings_summary(row.findings)}",
                           style=palette.style(worst, bold=True))
        title.update(heading)
        self.query_one("#detail-node-text", Static).update(node_text(row, now, palette))
        self.query_one("#detail-flags-text", Static).update(checks_text(row, palette))
        self._palette = palette
        flags = _flags(row.pod.command if row.pod else ())
        key_flags = [flag for flag in flags if _is_key_flag(flag)]
        self.query_one(FlagList).set_flags(flags, bold=key_flags)
        # The column never gets narrower than the longest key flag's `--name=`: those are read whole.
        longest = max((cell_len(flag.split("=", 1)[0]) + 1 for flag in key_flags), default=0)
        min_width = longest + _COLUMN_GUTTER if longest else None
        if min_width != self._flags_min_width:  # a new value re-lays the panel out: only when it changes
            self._flags_min_width = min_width
            self.query_one("#detail-flags").styles.min_width = min_width
        self.query_one("#detail-findings-text", Static).update(findings_text(row, palette))
        self._show_trends(snap, snap.history.get(row.key) or MemberHistory())

    def _show_trends(self, snap: RingSnapshot, history: MemberHistory) -> None:
        def last(values: Sequence[float], render: str) -> str:
            return render if values else "no samples yet"

        rate = history.revision_rate
        self.query_one("#trend-revision-rate", Trend).set_series(rate, last(rate, f"{rate[-1]:.1f}" if rate else ""))
        db = history.db_size
        self.query_one("#trend-db-size", Trend).set_series(db, last(db, fmt.size(db[-1]) if db else ""))
        lag = history.raft_index_lag
        self.query_one("#trend-raft-lag", Trend).set_series(lag, last(lag, str(lag[-1]) if lag else ""))
        changes = [float(count) for _, count in snap.leader_changes]
        self.query_one("#trend-leader-changes", Trend).set_series(
            changes, last(changes, str(int(changes[-1])) if changes else "")
        )
