"""The live table of etcd pods/members: rows keyed by `MemberRow.key`, cells patched in place.

A new snapshot never rebuilds the table: only cells whose text or style changed are updated, rows are added
or removed only when membership changes, and the cursor stays on the same member (by key, not by index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from etcdtui.core.findings import Severity
from etcdtui.engine.snapshot import MemberRow
from etcdtui.ui import format as fmt
from etcdtui.ui.palette import Palette

CellFn = Callable[[MemberRow, datetime, Palette], Text]


def _cell(text: str, style_sev: Severity | None, palette: Palette, *, bold: bool = False) -> Text:
    return Text(text, style=palette.style(style_sev, bold=bold), no_wrap=True, overflow="ellipsis")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    render: CellFn
    time_dependent: bool = False  # re-rendered by the age ticker, not only on snapshots


def _row_severity(row: MemberRow) -> Severity | None:
    return fmt.worst(row.findings)


COLUMNS: tuple[Column, ...] = (
    # What matters at 3 a.m. comes first; IP/NODE/AGE (also in the detail panel) go last, as in k9s.
    Column("name", "NAME", lambda r, n, p: _cell(r.key, _row_severity(r), p, bold=True)),
    Column("ready", "READY", lambda r, n, p: _cell(fmt.ready(r), fmt.pod_severity(r), p)),
    Column("status", "STATUS", lambda r, n, p: _cell(fmt.status(r), fmt.pod_severity(r), p)),
    Column(
        "restarts",
        "RESTARTS",
        lambda r, n, p: _cell(
            fmt.number(r.pod.restarts) if r.pod else fmt.DASH,
            Severity.WARNING if r.pod and r.pod.restarts else None,
            p,
        ),
    ),
    Column("version", "VERSION", lambda r, n, p: _cell(fmt.version(r), r.version_risk, p)),
    Column("member", "MEMBER ID", lambda r, n, p: _cell(fmt.member_id(r), None, p)),
    Column("leader", "LEADER", lambda r, n, p: _cell(fmt.leader(r), Severity.OK if r.is_leader else None, p)),
    Column("hash", "HASH", lambda r, n, p: _cell(fmt.hash_agreement(r), fmt.hash_severity(r), p)),
    Column("checks", "CHECKS", lambda r, n, p: _cell(fmt.checks(r.checks), fmt.checks_severity(r.checks), p)),
    Column("last_check", "LAST CHECK", lambda r, n, p: _cell(*fmt.last_check(r, n), p), time_dependent=True),
    Column("findings", "FINDINGS", lambda r, n, p: _cell(fmt.findings_counts(r.findings), _row_severity(r), p)),
    Column("db", "DB SIZE", lambda r, n, p: _cell(fmt.size(r.db_size), None, p)),
    Column("frag", "FRAG", lambda r, n, p: _cell(fmt.fragmentation(r), fmt.fragmentation_severity(r), p)),
    Column("quota", "QUOTA", lambda r, n, p: _cell(fmt.quota(r), fmt.quota_severity(r), p)),
    Column("revision", "REV", lambda r, n, p: _cell(fmt.number(r.revision), None, p)),
    Column("lag", "LAG", lambda r, n, p: _cell(fmt.lag(r), fmt.lag_severity(r), p)),
    Column("ip", "IP", lambda r, n, p: _cell((r.pod.pod_ip if r.pod else None) or fmt.DASH, None, p)),
    Column("node", "NODE", lambda r, n, p: _cell(r.node_name or fmt.DASH, None, p)),
    Column(
        "age",
        "AGE",
        lambda r, n, p: _cell(fmt.age(r.pod.created_at if r.pod else None, n), None, p),
        time_dependent=True,
    ),
)


class MemberTable(DataTable[Text]):
    """DataTable of `MemberRow`s; `apply()` diffs by row key and returns how many cells changed."""

    DEFAULT_CSS = """
    MemberTable {
        height: auto;
        max-height: 50%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._rendered: dict[str, tuple[Text, ...]] = {}
        self._rows: dict[str, MemberRow] = {}
        self.cells_updated = 0  # counted for tests and benchmarks: proof that updates are partial

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column.label, key=column.key)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an out-of-range cursor just means "nothing selected"
            return None
        return str(row_key.value) if row_key.value is not None else None

    def member(self, key: str) -> MemberRow | None:
        return self._rows.get(key)

    def apply(self, rows: tuple[MemberRow, ...], now: datetime, palette: Palette, *, force: bool = False) -> int:
        """Bring the table to `rows`; returns the number of cells written. `force` re-renders every cell."""
        selected = self.selected_key
        changed = 0
        wanted = {row.key for row in rows}
        for key in [k for k in self._rendered if k not in wanted]:
            self.remove_row(key)
            del self._rendered[key]
            self._rows.pop(key, None)
        added = False
        for row in rows:
            cells = tuple(column.render(row, now, palette) for column in COLUMNS)
            self._rows[row.key] = row
            old = self._rendered.get(row.key)
            if old is None:
                self.add_row(*cells, key=row.key)
                changed += len(cells)
                added = True
            else:
                for column, new_cell, old_cell in zip(COLUMNS, cells, old, strict=True):
                    if force or new_cell.plain != old_cell.plain or new_cell.style != old_cell.style:
                        # Widths only grow, and only when needed (etcdctl data arrives after the pods).
                        wider = new_cell.cell_len > old_cell.cell_len
                        self.update_cell(row.key, column.key, new_cell, update_width=wider)
                        changed += 1
            self._rendered[row.key] = cells
        if added:
            self.sort("name", key=lambda cell: cell.plain)
        if selected is not None and selected in self._rendered:
            self._restore_cursor(selected)
        self.cells_updated += changed
        return changed

    def tick(self, now: datetime, palette: Palette) -> int:
        """Re-render only the time-dependent cells (AGE) for a new `now`."""
        changed = 0
        for key, row in self._rows.items():
            old = self._rendered[key]
            cells = list(old)
            for index, column in enumerate(COLUMNS):
                if column.time_dependent:
                    cell = column.render(row, now, palette)
                    if cell.plain != old[index].plain:
                        self.update_cell(key, column.key, cell, update_width=cell.cell_len > old[index].cell_len)
                        cells[index] = cell
                        changed += 1
            self._rendered[key] = tuple(cells)
        self.cells_updated += changed
        return changed

    def _restore_cursor(self, key: str) -> None:
        try:
            index = self.get_row_index(RowKey(key))
        except RowDoesNotExist:
            return
        if index != self.cursor_row:
            self.move_cursor(row=index)
