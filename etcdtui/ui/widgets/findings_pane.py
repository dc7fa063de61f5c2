"""The findings pane: every corruption-relevant line of every member, newest first, pinned.

Reads `LogStore.pinned` (bounded, survives the eviction of the lines themselves). Line-API like the
log view: only visible rows are rendered. Enter posts `Jump(seq)` so the screen can show the line.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from etcdtui.core.logstore import LogStore, Pinned
from etcdtui.ui.widgets.log_view import CURSOR_STYLE, finding_style, format_ts, member_colour, short_member


class FindingsPane(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    FindingsPane { height: 8; border-top: solid $error; background: $surface; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("enter", "jump", "Show line", show=False),
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

    def sync(self) -> None:
        pinned = self.store.pinned
        marker = (len(pinned), pinned[-1].seq if pinned else -1)
        if marker == (self._count, self._appended):
            return
        self._count, self._appended = marker
        self.virtual_size = Size(self.size.width, len(pinned))
        self.border_title = f"findings: {len(pinned)} (newest first)"
        self.refresh()

    def entry(self, row: int) -> Pinned | None:
        pinned = self.store.pinned
        if not 0 <= row < len(pinned):
            return None
        return pinned[len(pinned) - 1 - row]

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.store.pinned) - 1, self.cursor + delta))
        self.scroll_to_region_row()
        self.refresh()

    def scroll_to_region_row(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.size.height:
            self.scroll_to(y=self.cursor - self.size.height + 1, animate=False, immediate=True)

    def action_jump(self) -> None:
        entry = self.entry(self.cursor)
        if entry is not None:
            self.post_message(self.Jump(entry.seq))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = int(self.scroll_y) + y
        entry = self.entry(row)
        if entry is None:
            return Strip.blank(width, self.rich_style)
        members = self.store.members
        index = members.index(entry.member) if entry.member in members else 0
        text = Text(no_wrap=True, end="")
        text.append(format_ts(entry.ts) + " ", style="dim")
        text.append(short_member(entry.member) + " ", style=Style(color=member_colour(index), bold=True))
        text.append(f"{entry.finding.kind}: {entry.finding.message}", style=finding_style(entry.finding) or "")
        strip = Strip(list(text.render(self.app.console))).crop_extend(0, width, self.rich_style)
        if row == self.cursor and self.has_focus:
            strip = strip.apply_style(CURSOR_STYLE)
        return strip
