"""`LogView`: a line-API `ScrollView` over a `LogStore` view; only the visible lines are rendered.

Toolong's design (textual-engineering §3.3–3.5): the widget holds no lines, `render_line(y)` maps the
row to a seq in the store's current view, builds one `Text` (timestamp, member gutter, level, message,
finding colour, find matches) and caches the `Strip` in an LRU keyed on the seq and everything that
changes its look. Wrap mode scrolls by log line and fills the rows below with the wrapped parts.
Follow: new lines keep the view at the end; scrolling up pauses it (the status line counts new lines).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.log_finder import Finder
from etcdtui.core.log_lines import LEVELS, MARKER
from etcdtui.core.logline import ZAP, parse_line
from etcdtui.core.logstore import LogStore

MAX_LINE = 2000  # characters rendered of one line (the saved file keeps all)
MEMBER_COLOURS = ("#5fafff", "#d787ff", "#5fd7af", "#ffaf5f", "#87d7ff", "#ff87af", "#afd75f", "#d7af87")
LEVEL_STYLES = {
    "debug": Style(dim=True),
    "info": Style(color="#8a8a8a"),
    "warn": Style(color="#ffaf00", bold=True),
    "error": Style(color="#ff5f5f", bold=True),
    "panic": Style(color="#ffffff", bgcolor="#af0000", bold=True),
    "fatal": Style(color="#ffffff", bgcolor="#af0000", bold=True),
}
CORRUPTION_STYLE = Style(color="#ffffff", bgcolor="#870000", bold=True)
PASSED_STYLE = Style(color="#00d75f")
INCONCLUSIVE_STYLE = Style(color="#ffaf00")
MARKER_STYLE = Style(color="#d7d7ff", bgcolor="#303050", italic=True)
MATCH_STYLE = Style(color="#000000", bgcolor="#ffff5f")
CURSOR_STYLE = Style(bgcolor="#3a3a3a")


def finding_style(finding: Finding | None) -> Style | None:
    """Corruption evidence red, a passed check green, inconclusive checks and warnings amber."""
    if finding is None:
        return None
    if finding.is_corruption or finding.severity is Severity.CRITICAL:
        return CORRUPTION_STYLE
    if finding.severity is Severity.OK:
        return PASSED_STYLE
    if finding.kind.startswith("check.") and finding.severity >= Severity.WARNING:
        return INCONCLUSIVE_STYLE
    return None


def member_colour(index: int) -> str:
    return MEMBER_COLOURS[index % len(MEMBER_COLOURS)]


def short_member(name: str) -> str:
    return name.removeprefix("etcd-")


def format_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


_HIDDEN_FIELDS = frozenset({"level", "ts", "caller"})
TS_STYLE = Style(dim=True)
NO_LEVEL_STYLE = Style(dim=True)
_MEMBER_STYLES = [Style(color=c, bold=True) for c in MEMBER_COLOURS]
# Control characters (escape sequences in a raw line) must never reach the terminal.
_CONTROLS = {c: "\ufffd" for c in [*range(0x20), 0x7F]}


def _member_style(index: int) -> Style:
    return _MEMBER_STYLES[index % len(_MEMBER_STYLES)]


def printable(text: str) -> str:
    return text if text.isprintable() else text.translate(_CONTROLS)


def readable(raw: str) -> str:
    """A zap JSON line as `msg  key=value …` (level and time have their own columns; caller is noise)."""
    if not raw.startswith("{"):
        return raw
    record = parse_line(raw)
    if record.format != ZAP:
        return raw
    parts = [record.msg]
    if record.logger:
        parts.append(f"logger={record.logger}")
    for key, value in record.fields.items():
        if key not in _HIDDEN_FIELDS:
            shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
            parts.append(f"{key}={shown}")
    return "  ".join(parts)


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "top", "Top", show=False),
        Binding("end", "end", "End", show=False),
    ]

    class FollowChanged(Message):
        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, store: LogStore, finder: Finder, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.store = store
        self.finder = finder
        self.following = True
        self.show_ts = True
        self.wrap = False
        self.cursor_seq: int | None = None
        self._cache: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(400)
        self._look = 0  # bumps when options change: part of the cache key
        self._seen_version = -1
        self._seen_filter = -1
        self._gutter = 12
        self.new_while_paused = 0
        self._last_rows = 0

    # -- options ------------------------------------------------------------------------------------
    def restyle(self) -> None:
        self._look += 1
        self._cache.clear()
        self.refresh()

    def set_follow(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            self.post_message(self.FollowChanged(following))
        if following:
            self.new_while_paused = 0
            self._scroll_end()

    def toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.restyle()
        self.sync(force=True)

    def toggle_ts(self) -> None:
        self.show_ts = not self.show_ts
        self.restyle()

    # -- data ---------------------------------------------------------------------------------------
    def sync(self, force: bool = False) -> bool:
        """Called by the screen's 20 Hz timer: resize to the store's view, follow, repaint. True if changed."""
        store = self.store
        if not force and store.version == self._seen_version:
            return False
        if store.filter_version != self._seen_filter:
            self._seen_filter = store.filter_version
            self._cache.clear()
        self._seen_version = store.version
        rows = len(store)
        if not self.following and rows > self._last_rows:
            self.new_while_paused += rows - self._last_rows
        self._last_rows = rows
        self._gutter = max((len(short_member(m)) for m in store.members), default=8) + 1
        height = rows + (self.size.height - 1 if self.wrap else 0)
        self.virtual_size = Size(self.size.width if self.wrap else MAX_LINE + 40, max(height, 0))
        if self.following:
            self._scroll_end()
        self.refresh()
        return True

    def on_resize(self) -> None:
        self.sync(force=True)

    def _scroll_end(self) -> None:
        if self.wrap:
            self.scroll_to(y=max(0, len(self.store) - max(1, self.size.height // 2)), animate=False, immediate=True)
        else:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.following and new_value < old_value - 0.5:
            self.set_follow(False)  # the user scrolled up: stop yanking them back to the end

    # -- cursor & navigation --------------------------------------------------------------------------
    @property
    def cursor_row(self) -> int | None:
        if self.cursor_seq is None:
            return None
        row = self.store.row_of(self.cursor_seq)
        return row if self.store.seq_at(row) == self.cursor_seq else None

    def go_to_row(self, row: int) -> None:
        seq = self.store.seq_at(row)
        if seq is None:
            return
        self.cursor_seq = seq
        self.set_follow(False)
        top, height = int(self.scroll_y), self.size.height
        if self.wrap:  # rows are not lines: put the line near the top so all its parts show
            self.scroll_to(y=max(0, row - 2), animate=False, immediate=True)
        elif not top <= row < top + max(1, height - 1):
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        self.refresh()

    def go_to_seq(self, seq: int) -> None:
        self.go_to_row(self.store.row_of(seq))

    def action_cursor(self, delta: int) -> None:
        row = self.cursor_row
        if row is None:
            row = int(self.scroll_y) + (self.size.height - 1 if delta < 0 else 0)
        target = max(0, min(len(self.store) - 1, row + delta))
        self.go_to_row(target)

    def action_page(self, delta: int) -> None:
        self.action_cursor(delta * max(1, self.size.height - 1))

    def action_top(self) -> None:
        self.go_to_row(0)

    def action_end(self) -> None:
        self.cursor_seq = None
        self.set_follow(True)
        self.refresh()

    # -- rendering ----------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.wrap:
            return self._wrapped_row(y, width)
        scroll_x, scroll_y = self.scroll_offset
        seq = self.store.seq_at(scroll_y + y)
        if seq is None:
            return Strip.blank(width, self.rich_style)
        strip = self._strips(seq, None)[0]
        strip = strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
        if seq == self.cursor_seq:
            strip = strip.apply_style(CURSOR_STYLE)
        return strip

    def _wrapped_row(self, y: int, width: int) -> Strip:
        row = int(self.scroll_y)
        left = y
        while True:
            seq = self.store.seq_at(row)
            if seq is None:
                return Strip.blank(width, self.rich_style)
            strips = self._strips(seq, width)
            if left < len(strips):
                strip = strips[left].extend_cell_length(width, self.rich_style)
                return strip.apply_style(CURSOR_STYLE) if seq == self.cursor_seq else strip
            left -= len(strips)
            row += 1

    def _strips(self, seq: int, wrap_width: int | None) -> list[Strip]:
        key = (seq, wrap_width, self._look, self.finder.pattern if self.finder.active else None)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if wrap_width:
            text = self._text(seq)
            console: Console = self.app.console
            lines = text.wrap(console, max(10, wrap_width), overflow="fold", no_wrap=False)
            strips = [Strip(list(line.render(console))) for line in lines] or [Strip([])]
        else:
            strips = [Strip(self._segments(seq))]
        self._cache[key] = strips
        return strips

    def _segments(self, seq: int) -> list[Segment]:
        """One unwrapped line as segments, built directly: no Rich Text layout on the hot path (a flood
        renders every visible line new each frame)."""
        store = self.store
        line = store.line(seq)
        if line is None:
            return []
        out: list[Segment] = []
        if self.show_ts:
            out.append(Segment(format_ts(line.ts) + " ", TS_STYLE))
        member_index = store.members.index(line.member) if line.member in store.members else 0
        out.append(Segment(short_member(line.member).ljust(self._gutter), _member_style(member_index)))
        body = printable(readable(line.text))
        body = body if len(body) <= MAX_LINE else body[:MAX_LINE] + "…"
        if line.level == MARKER:
            out.append(Segment(body, MARKER_STYLE))
            return out
        level = LEVELS[line.level] if line.level >= 0 else None
        out.append(Segment(f"{level or '-':<6}", LEVEL_STYLES.get(level or "", NO_LEVEL_STYLE)))
        style = finding_style(line.finding)
        spans = self.finder.spans(body) if self.finder.active else []
        pos = 0
        for a, b in spans:
            if a > pos:
                out.append(Segment(body[pos:a], style))
            out.append(Segment(body[a:b], (style + MATCH_STYLE) if style else MATCH_STYLE))
            pos = b
        if pos < len(body):
            out.append(Segment(body[pos:], style))
        return out

    def _text(self, seq: int) -> Text:
        store = self.store
        line = store.line(seq)
        if line is None:
            return Text("")
        text = Text(no_wrap=not self.wrap, end="")
        if self.show_ts:
            text.append(format_ts(line.ts) + " ", style="dim")
        member_index = store.members.index(line.member) if line.member in store.members else 0
        text.append(short_member(line.member).ljust(self._gutter), style=Style(color=member_colour(member_index),
                                                                                   bold=True))
        body = printable(readable(line.text))
        body = body if len(body) <= MAX_LINE else body[:MAX_LINE] + "…"
        if line.level == MARKER:
            text.append(body, style=MARKER_STYLE)
            return text
        level = LEVELS[line.level] if line.level >= 0 else None
        text.append(f"{level or '-':<6}", style=LEVEL_STYLES.get(level or "", Style(dim=True)))
        start = len(text)
        text.append(body)
        style = finding_style(line.finding)
        if style is not None:
            text.stylize(style, start, len(text))
        if self.finder.active:
            for a, b in self.finder.spans(body):
                text.stylize(MATCH_STYLE, start + a, start + b)
        return text
