"""One line under the ring header: the newest backup etcdtui knows of and its age, warned when too old or none.

Looked up off the event loop (a directory scan) when mounted, every minute, and after `b` took a snapshot.
Hidden when there is no backup backend (fixed data without one).
"""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.widgets import Static

from etcdtui.core.findings import Severity
from etcdtui.core.flags import format_duration
from etcdtui.engine.backup_age import BackupAge, format_age
from etcdtui.ui.navigation import navigator
from etcdtui.ui.palette import Palette

LOOK_EVERY_S = 60.0


def render_backup_age(age: BackupAge, now: float, palette: Palette) -> Text:
    text = Text("BACKUP ", style="bold")
    limit = format_duration(age.max_age_s)  # 24h, as configured (max_age_hours)
    if age.newest is None:
        text.append(" NONE ", style=palette.badge(Severity.WARNING))
        text.append(f"  no snapshot in {', '.join(map(str, age.dirs))}", style=palette.style(Severity.WARNING))
    else:
        stale = age.stale(now)
        badge = f" {format_age(age.newest.age(now))} old "
        text.append(badge, style=palette.badge(Severity.WARNING) if stale else "bold reverse")
        text.append(f"  {age.newest.path.name}", style=palette.style(Severity.WARNING) if stale else palette.muted)
        if stale:
            text.append(f"  older than {limit}", style=palette.style(Severity.WARNING, bold=True))
    text.append("   b takes one now", style=palette.muted)
    return text


class BackupLine(Static):
    DEFAULT_CSS = "BackupLine { height: 1; padding: 0 1; background: $panel; }"

    age: BackupAge | None = None

    def on_mount(self) -> None:
        if navigator(self).backups() is None:
            self.display = False
            return
        self.look()
        self.set_interval(LOOK_EVERY_S, self.look, name="backup-age")

    def look(self) -> None:
        self.run_worker(self._look(), name="backup-age", group="backup-age", exclusive=True, exit_on_error=False)

    async def _look(self) -> None:
        backend = navigator(self).backups()
        if backend is None:
            return
        self.age = await asyncio.to_thread(backend.look)
        self.redraw()

    def redraw(self) -> None:
        if self.age is not None:
            now = navigator(self).services.clock().timestamp()
            self.update(render_backup_age(self.age, now, Palette(self.app.theme_variables)))
