"""The fleet table: one row per context, worst first, the cursor kept on the same context across updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from etcdtui.core.findings import Severity
from etcdtui.engine.fleet_summary import FleetRow
from etcdtui.engine.snapshot import Verdict
from etcdtui.ui import format as fmt
from etcdtui.ui.palette import VERDICT_SEVERITY, Palette

COLUMNS = ("CONTEXT", "API SERVER", "VERDICT", "HEALTHY", "TOLERATES", "LEADER", "VERSIONS", "CHECKS", "HASHES",
           "LARGEST DB", "LAST CHECKED", "WORST FINDING")


def _text(value: str, style_sev: Severity | None, palette: Palette, *, bold: bool = False) -> Text:
    return Text(value, style=palette.style(style_sev, bold=bold), no_wrap=True, overflow="ellipsis")


def cells(row: FleetRow, now: datetime, palette: Palette) -> list[Text]:
    severity = VERDICT_SEVERITY[row.verdict]
    versions = Text(no_wrap=True, overflow="ellipsis")
    for i, (version, risky) in enumerate(row.versions):
        versions.append(("," if i else "") + version, style=palette.style(Severity.WARNING if risky else None))
    checks = fmt.DASH if row.checks_off is None else ("on everywhere" if row.checks_off == 0
                                                      else f"off on {row.checks_off}")
    down = row.members - row.healthy if row.members else 0
    return [
        _text(row.context, severity if severity is not Severity.OK else None, palette, bold=True),
        _text(row.server.removeprefix("https://") or fmt.DASH, None, palette),
        Text(f" {row.verdict.value} ", style=palette.badge(severity), no_wrap=True),
        _text(f"{row.healthy}/{row.members}" if row.members else fmt.DASH, Severity.WARNING if down else None, palette),
        _text(fmt.number(row.fault_tolerance), Severity.CRITICAL if row.fault_tolerance == 0 else None, palette),
        _text(row.leader or fmt.DASH, None, palette),
        versions if row.versions else _text(fmt.DASH, None, palette),
        _text(checks, Severity.WARNING if row.checks_off else None, palette),
        _text(row.hashes, Severity.CRITICAL if row.hashes == "DIFFER" else
              (Severity.OK if row.hashes == "agree" else None), palette),
        _text(fmt.size(row.largest_db), None, palette),
        _text(fmt.age(row.last_checked, now) if row.last_checked else fmt.DASH, None, palette),
        _text(row.worst or fmt.DASH, severity if row.verdict is not Verdict.HEALTHY else None, palette),
    ]


class FleetTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.shown: list[str] = []  # contexts in display order

    def on_mount(self) -> None:
        for label in COLUMNS:
            self.add_column(label, key=label)

    @property
    def selected(self) -> str | None:
        if not self.shown or not 0 <= self.cursor_row < len(self.shown):
            return None
        return self.shown[self.cursor_row]

    def show(self, rows: Sequence[FleetRow], now: datetime, palette: Palette) -> None:
        """Rows as given (already worst first and filtered); the cursor stays on its context."""
        keep = self.selected
        self.clear()
        self.shown = [r.context for r in rows]
        for r in rows:
            self.add_row(*cells(r, now, palette), key=r.context)
        if keep in self.shown:
            self.move_cursor(row=self.shown.index(keep), animate=False)
