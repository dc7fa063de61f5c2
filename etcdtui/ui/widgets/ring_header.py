"""The ring at a glance: context, API server, verdict, members, quorum, fault tolerance, and data freshness."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from etcdtui.core.findings import Severity
from etcdtui.engine.snapshot import ExecStatus, LinkState, RingSnapshot
from etcdtui.ui.format import SEVERITY_MARK
from etcdtui.ui.palette import LINK_SEVERITY, VERDICT_SEVERITY, Palette


def _clock(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if moment else "-"


def _seconds_ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    return f" ({max(0, int((now - moment).total_seconds()))}s ago)"


def connection_text(snap: RingSnapshot, now: datetime) -> str:
    conn = snap.connection
    if conn.state is LinkState.STALE:
        return f"STALE since {_clock(conn.since)}{_seconds_ago(conn.since, now)}"
    if conn.state is LinkState.ERROR:
        return "ERROR"
    return conn.state.value


class RingHeader(Static):
    """Three lines: where we are, how the ring is, and what (if anything) keeps us from knowing more."""

    DEFAULT_CSS = """
    RingHeader {
        height: auto;
        padding: 0 1;
        background: $panel;
        border-bottom: tall $context-accent;
    }
    """
    _flavour: str | None = None  # kubeone | kubeadm next to the context (None: fixed data, not shown)

    def show_connecting(self, context: str, palette: Palette) -> None:
        line = Text.assemble(("etcdtui ", "bold"), (f" {context} ", palette.badge(LINK_SEVERITY[LinkState.CONNECTING])))
        line.append("\nconnecting to the cluster…", style=palette.muted)
        self.update(line)

    failure: str | None = None  # the data source itself failed: shown on top of whatever we still have

    def show_failure(self, context: str, message: str, palette: Palette) -> None:
        """The source itself failed (not a snapshot with an error state): say so, keep the app alive."""
        self.failure = message
        last = getattr(self, "_last", None)
        if last is not None:
            snap, context, now, palette = last
            self.show(snap, context=context, now=now, palette=palette, flavour=self._flavour)
            return
        line = Text.assemble(("etcdtui ", "bold"), (f" {context} ", "bold"))
        line.append("\n")
        line.append(" ERROR ", style=palette.badge(LINK_SEVERITY[LinkState.ERROR]))
        line.append(f" {message}", style=palette.style(LINK_SEVERITY[LinkState.ERROR]))
        self.update(line)

    def show(self, snap: RingSnapshot, *, context: str, now: datetime, palette: Palette,
             flavour: str | None = None) -> None:
        self._last = (snap, context, now, palette)
        self._flavour = flavour
        text = self.render_snapshot(snap, context=context, now=now, palette=palette, flavour=flavour)
        # One line per fact, clipped to the width: a long finding must not push the table down.
        width = max(20, self.content_size.width or self.app.size.width - 2)
        lines = list(text.split("\n"))
        if self.failure:
            failure = Text(" ERROR ", style=palette.badge(Severity.CRITICAL))
            failure.append(f" {self.failure}", style=palette.style(Severity.CRITICAL))
            lines.insert(2, failure)
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        self.update(Text("\n").join(lines))

    def on_resize(self) -> None:
        last = getattr(self, "_last", None)
        if last is not None:
            snap, context, now, palette = last
            self.show(snap, context=context, now=now, palette=palette, flavour=self._flavour)

    @staticmethod
    def render_snapshot(snap: RingSnapshot, *, context: str, now: datetime, palette: Palette,
                        flavour: str | None = None) -> Text:
        link_sev = LINK_SEVERITY[snap.connection.state]
        text = Text()
        # Line 1: where.
        text.append("etcdtui ", style="bold")
        text.append(f" {context} ", style="bold reverse")
        if flavour:
            text.append(f" {flavour}", style=palette.muted)
        text.append(f"  {snap.server}", style="bold")
        text.append(f"   {snap.namespace} · {snap.selector}", style=palette.muted)
        text.append("   data: ")
        text.append(connection_text(snap, now), style=palette.style(link_sev, bold=True))
        if snap.last_poll_at:
            text.append(f"   etcdctl polled {_clock(snap.last_poll_at)}", style=palette.muted)
        # Line 2: the ring.
        text.append("\nRING ", style="bold")
        text.append(f" {snap.verdict.value} ", style=palette.badge(VERDICT_SEVERITY[snap.verdict]))
        tolerance = "?" if snap.fault_tolerance is None else str(snap.fault_tolerance)
        text.append(f"   members {snap.members_total or '?'}   quorum {snap.quorum or '?'}   ")
        tol_sev = VERDICT_SEVERITY[snap.verdict] if snap.fault_tolerance == 0 else None
        text.append(f"can lose {tolerance}", style=palette.style(tol_sev, bold=snap.fault_tolerance == 0))
        leader = snap.leader
        text.append("   leader ")
        if leader:
            text.append(leader.key, style="bold")
        else:
            text.append("none", style=palette.style(Severity.CRITICAL if snap.rows else None, bold=True))
        if snap.common_revision is not None:
            text.append(f"   hashes @rev {snap.common_revision}", style=palette.muted)
        # Line 3: why the verdict is what it is (the most severe finding; the rest are per member below).
        top = snap.findings[0] if snap.findings else None
        if top is not None and top.severity >= Severity.WARNING:
            text.append("\n")
            text.append(f"{SEVERITY_MARK[top.severity]} ", style=palette.style(top.severity, bold=True))
            if top.member and top.member not in top.message:
                text.append(f"{top.member}: ", style="bold")
            text.append(top.message, style=palette.style(top.severity))
            more = sum(1 for f in snap.findings[1:] if f.severity >= Severity.WARNING)
            if more:
                text.append(f"  (+{more} more)", style=palette.muted)
        # Then what limits our view, only when something does.
        notes = _notes(snap)
        for severity, note in notes:
            text.append("\n")
            text.append(note, style=palette.style(severity))
        return text


def _notes(snap: RingSnapshot) -> list[tuple[Severity, str]]:
    notes: list[tuple[Severity, str]] = []
    conn = snap.connection
    if conn.state in (LinkState.STALE, LinkState.ERROR) and conn.reason:
        prefix = "showing the last data: " if conn.state is LinkState.STALE else ""
        notes.append((LINK_SEVERITY[conn.state], f"{prefix}{conn.reason}"))
    if snap.exec.status is ExecStatus.UNAVAILABLE:
        notes.append((Severity.WARNING, f"etcdctl unavailable ({snap.exec.reason or 'no reason given'}): pod-level data only"))
    elif snap.exec.status is ExecStatus.OK and snap.exec.reason:
        notes.append((Severity.WARNING, f"etcdctl: {snap.exec.reason}"))
    if not snap.complete and snap.incomplete_reason and snap.incomplete_reason != conn.reason:
        notes.append((Severity.INFO, snap.incomplete_reason))
    return notes[:2]
