"""The main screen: header, the live member table, and the selected member's detail panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from etcdtui.engine.snapshot import LinkState, RingSnapshot, Verdict
from etcdtui.ui.actions import ACTIONS
from etcdtui.ui.navigation import navigator
from etcdtui.ui.palette import Palette
from etcdtui.ui.screens.help import HelpScreen
from etcdtui.ui.widgets.backup_line import BackupLine
from etcdtui.ui.widgets.member_detail import MemberDetail
from etcdtui.ui.widgets.member_table import MemberTable
from etcdtui.ui.widgets.ring_header import RingHeader

NO_PODS_HINT = (
    "No etcd pods found in {namespace} matching {selector}. "
    "Managed clusters (EKS, GKE, AKS) hide etcd from the API; on kubeadm/KubeOne check --namespace/--selector."
)


class RingScreen(Screen[None]):
    """Renders snapshots; every decision about health was made by the core before they arrive."""

    BINDINGS = [
        Binding(a.key, a.name, a.title, key_display="?" if a.key == "question_mark" else None,
                show=a.key != "ctrl+r")
        for a in ACTIONS
    ]

    @dataclass
    class SnapshotArrived(Message):
        snapshot: RingSnapshot

        def can_replace(self, message: Message) -> bool:
            # Only the newest snapshot matters: a burst coalesces into one repaint.
            return isinstance(message, RingScreen.SnapshotArrived)

    @dataclass
    class SourceFailed(Message):
        reason: str

    def __init__(self, *, readonly: bool, context: str | None, clock: Callable[[], datetime],
                 flavour: str | None = None, first: RingSnapshot | None = None) -> None:
        super().__init__()
        self._first = first  # already known when the screen opens: painted in the first frame
        self.flavour = flavour  # kubeone | kubeadm, decided once for the context (None: fixed data)
        self.readonly = readonly
        self.context_label = context
        self.clock = clock
        self.snapshot: RingSnapshot | None = None
        self.snapshots_applied = 0

    def compose(self) -> ComposeResult:
        yield RingHeader(id="ring-header")
        yield BackupLine(id="backup-line")
        yield MemberTable(id="members")
        yield Static("", id="empty-state")
        yield MemberDetail(id="detail")
        yield Footer()

    @property
    def context(self) -> str:
        """The explicit label (kubeconfig context) or, for fixed data, the snapshot's own."""
        if self.context_label:
            return self.context_label
        return self.snapshot.context if self.snapshot else "cluster"

    @property
    def palette(self) -> Palette:
        return Palette(self.app.theme_variables)

    @property
    def table(self) -> MemberTable:
        return self.query_one(MemberTable)

    def on_mount(self) -> None:
        self.query_one(RingHeader).show_connecting(self.context, self.palette)
        self._show_empty("Waiting for the first data from the cluster…")
        self.query_one(MemberDetail).display = False
        if self._first is not None:  # one layout and render instead of "waiting…" then the data
            self.on_ring_screen_snapshot_arrived(self.SnapshotArrived(self._first))
        self.set_interval(30, self._tick, name="age-ticker")
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._repaint(force=True))

    # -- data in -----------------------------------------------------------------------------------
    def on_ring_screen_snapshot_arrived(self, message: SnapshotArrived) -> None:
        if message.snapshot is self.snapshot:
            return  # the engine replays its latest snapshot to a new subscriber
        previous, self.snapshot = self.snapshot, message.snapshot
        self._repaint()
        self.snapshots_applied += 1
        if previous is not None:
            self._announce(previous, message.snapshot)

    def on_ring_screen_source_failed(self, message: SourceFailed) -> None:
        self.query_one(RingHeader).show_failure(self.context, message.reason, self.palette)
        if self.snapshot is None:
            self._show_empty(message.reason)
        self.notify(message.reason, title="etcdtui", severity="error", timeout=10, markup=False)

    def _repaint(self, force: bool = False) -> None:
        snap = self.snapshot
        if snap is None:
            return
        now, palette = self.clock(), self.palette
        with self.app.batch_update():
            self.query_one(RingHeader).show(snap, context=self.context, now=now, palette=palette,
                                            flavour=self.flavour)
            self.table.apply(snap.rows, now, palette, force=force)
            if snap.rows:
                self.query_one("#empty-state").display = False
                self.table.display = True
            else:
                self.table.display = False
                self._show_empty(self._empty_reason(snap))
            self._show_detail()

    def _tick(self) -> None:
        if self.snapshot is not None:
            self.table.tick(self.clock(), self.palette)

    def _empty_reason(self, snap: RingSnapshot) -> str:
        if snap.connection.state in (LinkState.ERROR, LinkState.STALE) and snap.connection.reason:
            return snap.connection.reason
        if snap.connection.state is LinkState.CONNECTING:
            return "Connecting to the cluster…"
        return snap.incomplete_reason or NO_PODS_HINT.format(namespace=snap.namespace, selector=snap.selector)

    def _show_empty(self, text: str) -> None:
        empty = self.query_one("#empty-state", Static)
        empty.update(text)
        empty.display = True
        self.query_one(MemberDetail).display = False

    def _show_detail(self) -> None:
        detail = self.query_one(MemberDetail)
        key = self.table.selected_key
        row = self.table.member(key) if key else None
        detail.display = row is not None
        detail.show(self.snapshot, row, self.clock(), self.palette)

    def _announce(self, before: RingSnapshot, after: RingSnapshot) -> None:
        """Toasts for transitions an operator must not miss while looking elsewhere."""
        if after.verdict is not before.verdict and after.verdict in (Verdict.CORRUPTION, Verdict.QUORUM_LOST):
            top = after.findings[0].message if after.findings else ""
            self.notify(f"{after.verdict.value}: {top}", title="etcd ring", severity="error", timeout=30, markup=False)
        elif after.verdict is not before.verdict:
            self.notify(f"ring is now {after.verdict.value}", title="etcd ring", timeout=8, markup=False)
        if after.connection.state is not before.connection.state:
            if after.connection.state is LinkState.STALE:
                self.notify("lost the API server: showing the last data", severity="warning", timeout=8, markup=False)
            elif after.connection.state is LinkState.LIVE and before.connection.state is LinkState.STALE:
                self.notify("API server back: data is live again", timeout=5, markup=False)

    @on(DataTable.RowHighlighted, "#members")
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    # -- actions -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        spec = _ACTION_BY_NAME.get(action)
        if spec is not None and spec.mutating and self.readonly:
            return False  # hidden and unbound, like k9s --readonly
        return True

    def _selected_or_warn(self) -> str | None:
        key = self.table.selected_key
        if key is None:
            self.notify("No member selected.", severity="warning", timeout=4, markup=False)
        return key

    def action_logs(self) -> None:
        key = self._selected_or_warn()
        row = self.table.member(key) if key else None
        if row is not None and row.pod_name is None:
            self.notify(f"{key} has no pod: its logs cannot be read through the API", severity="warning",
                        timeout=5, markup=False)
        elif row is not None:
            navigator(self).open_logs(row.pod_name)

    def action_all_logs(self) -> None:
        navigator(self).open_logs()

    def action_checks(self) -> None:
        navigator(self).open_checks()

    def action_replace(self) -> None:
        if self.readonly:  # belt and braces: check_action already unbinds it
            return
        key = self._selected_or_warn()
        row = self.table.member(key) if key else None
        node = (row.node_name or row.member_name) if row else None
        if key and not node:
            self.notify(f"{key}: no node to replace it on", severity="warning", timeout=4, markup=False)
        elif node:
            navigator(self).open_replace(node)

    def action_defrag(self) -> None:
        if not self.readonly:  # belt and braces: check_action already unbinds it
            navigator(self).open_defrag()

    def action_backup(self) -> None:
        navigator(self).open_backup()

    def action_refresh(self) -> None:
        if navigator(self).refresh_source():
            self.notify("polling etcdctl now", timeout=3, markup=False)
        else:
            self.notify("this data source cannot refresh", severity="warning", timeout=3, markup=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(readonly=self.readonly))

    def action_quit(self) -> None:
        self.app.exit()


_ACTION_BY_NAME = {a.name: a for a in ACTIONS}
