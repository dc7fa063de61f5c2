"""The fleet screen: every context's etcd at a glance, worst first, live; `/` filters, Enter opens a context.

Rows arrive one context at a time (`put_row`, from FleetWatch's callback on the app's loop) and are drawn in
batches (at most every BATCH_S), so twenty engines publishing at once do not redraw the table twenty times.
The screen changes nothing anywhere: it is the same with --readonly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from etcdtui.engine.fleet_summary import FleetRow, worst_first
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui.palette import Palette
from etcdtui.ui.widgets.fleet_table import FleetTable

BATCH_S = 0.05


class FleetScreen(Screen[None]):
    DEFAULT_CSS = """
    FleetScreen #fleet-header { height: 1; padding: 0 1; }
    FleetScreen #fleet-filter { display: none; height: 3; }
    FleetScreen #fleet-filter.shown { display: block; }
    FleetScreen FleetTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("enter", "open", "Open ring", show=True),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    class OpenContext(Message):
        """Enter on a row: the app opens that context's ring view (on its running engine)."""

        def __init__(self, context: str) -> None:
            super().__init__()
            self.context = context

    def __init__(self, rows: Iterable[FleetRow] = (), *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.rows: dict[str, FleetRow] = {r.context: r for r in rows}
        self.filter_text = ""
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pending = False

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-header")
        yield Input(placeholder="filter contexts (Esc clears)", id="fleet-filter")
        yield FleetTable(id="fleet-table")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.query_one(FleetTable).focus()

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    class RowsChanged(Message):
        """Posted by `put_row`, which engines call from their own tasks (outside the app's context)."""

    def put_row(self, row: FleetRow) -> None:
        self.rows[row.context] = row
        if not self._pending:
            self._pending = True
            self.post_message(self.RowsChanged())

    @on(RowsChanged)
    def _schedule_redraw(self) -> None:
        self.set_timer(BATCH_S, self.redraw)

    def visible_rows(self) -> list[FleetRow]:
        needle = self.filter_text.lower()
        return [r for r in worst_first(self.rows.values())
                if not needle or needle in r.context.lower() or needle in r.server.lower()]

    def redraw(self) -> None:
        self._pending = False
        rows = self.visible_rows()
        self.table.show(rows, self._clock(), Palette(self.app.theme_variables))
        counts = {v: sum(1 for r in self.rows.values() if r.verdict is v) for v in Verdict}
        summary = "  ".join(f"{v.value} {n}" for v, n in counts.items() if n)
        shown = f"{len(rows)} of {len(self.rows)}" if self.filter_text else str(len(self.rows))
        filt = f"   filter: {self.filter_text}" if self.filter_text else ""
        self.query_one("#fleet-header", Static).update(f"etcd fleet: {shown} contexts   {summary}{filt}")

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.add_class("shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.value = ""
        box.remove_class("shown")
        self.filter_text = ""
        self.redraw()
        self.table.focus()

    def action_open(self) -> None:
        context = self.table.selected
        if context is not None:
            self.post_message(self.OpenContext(context))

    def on_data_table_row_selected(self, event: FleetTable.RowSelected) -> None:
        event.stop()
        self.action_open()
