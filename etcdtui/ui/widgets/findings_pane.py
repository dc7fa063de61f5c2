"""The findings pane: every corruption-relevant line of every member, grouped by kind and member.

Reads `LogStore.pinned` (bounded, survives the eviction of the lines themselves) through
`core.finding_groups`: one row per group (count, first and last seen), the most severe and newest groups
first; Enter on a group of several expands it to its lines (Enter again folds it), Enter on a single
finding or on an expanded line posts `Jump(seq)` so the screen can show the line. Line-API like the log
view: only visible rows are rendered.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from etcdtui.core.finding_groups import FindingGroup, group_findings
from etcdtui.core.log_lines import Pinned
from etcdtui.core.logstore import LogStore
from etcdtui.ui.widgets.log_view import CURSOR_STYLE, finding_style, format_ts, member_colour, short_member

Row = tuple[FindingGroup, Pinned | None]  # a group's own row (None), or one of its lines when expanded


class FindingsPane(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    FindingsPane { height: 8; border-top: solid $error; background: $surface; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("enter", "jump", "Expand / show line", show=False),
    ]

    class Jump(Message):
        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    def __init__(self, store: LogStore, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.store = store
        self.cursor = 0
        self._count = -1
        self._appended = -1
        self.groups: list[FindingGroup] = []
        self.rows: list[Row] = []
        self.expanded: set[tuple[str, str]] = set()

    def sync(self, force: bool = False) -> None:
        pinned = self.store.pinned
        marker = (len(pinned), pinned[-1].seq if pinned else -1)
        if marker == (self._count, self._appended) and not force:
            return
        self._count, self._appended = marker
        self.groups = group_findings(pinned)
        self.rows = []
        for group in self.groups:
            self.rows.append((group, None))
            if (group.kind, group.member) in self.expanded:
                self.rows.extend((group, entry) for entry in group.entries)
        self.cursor = min(self.cursor, max(len(self.rows) - 1, 0))
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.border_title = f"findings: {len(pinned)} in {len(self.groups)} groups (most severe, newest first)"
        self.refresh()

    def entry(self, row: int) -> Pinned | None:
        """The line a row stands for: the group's newest for a group row."""
        if not 0 <= row < len(self.rows):
            return None
        group, entry = self.rows[row]
        return entry or group.latest

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
        self.scroll_to_region_row()
        self.refresh()

    def scroll_to_region_row(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.size.height:
            self.scroll_to(y=self.cursor - self.size.height + 1, animate=False, immediate=True)

    def action_jump(self) -> None:
        if not 0 <= self.cursor < len(self.rows):
            return
        group, entry = self.rows[self.cursor]
        if entry is None and group.count > 1:
            key = (group.kind, group.member)
            self.expanded.symmetric_difference_update({key})
            self.sync(force=True)
            return
        self.post_message(self.Jump((entry or group.latest).seq))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = int(self.scroll_y) + y
        if not 0 <= row < len(self.rows):
            return Strip.blank(width, self.rich_style)
        group, entry = self.rows[row]
        shown = entry or group.latest
        members = self.store.members
        index = members.index(group.member) if group.member in members else 0
        text = Text(no_wrap=True, end="")
        if entry is not None:
            text.append("    ")
        elif group.count > 1:
            text.append("- " if (group.kind, group.member) in self.expanded else "+ ", style="bold")
        else:
            text.append("  ")
        text.append(format_ts(shown.ts) + " ", style="dim")
        text.append(short_member(group.member) + " ", style=Style(color=member_colour(index), bold=True))
        style = finding_style(shown.finding) or ""
        if entry is None and group.count > 1:
            text.append(f"{group.kind} ×{group.count} ", style=style)
            text.append(f"(first {format_ts(group.first_ts)}) ", style="dim")
            text.append(shown.finding.message, style=style)
        else:
            text.append(f"{shown.finding.kind}: {shown.finding.message}", style=style)
        strip = Strip(list(text.render(self.app.console))).crop_extend(0, width, self.rich_style)
        if row == self.cursor and self.has_focus:
            strip = strip.apply_style(CURSOR_STYLE)
        return strip
