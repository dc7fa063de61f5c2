"""The logs screen: all members interleaved (or one), filter and find, follow, findings pane, save.

Data arrives through the store, never as one message per line: a 20 Hz timer releases the store's
reordering window and repaints when `store.version` moved (≤ one repaint per 50 ms). Filter changes
are applied by a cancellable worker in bounded steps; find never changes what is shown.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from etcdtui.core.classify import classify
from etcdtui.core.classify_rules import RULES
from etcdtui.core.log_filter import FilterError, LogFilter
from etcdtui.core.log_finder import Finder
from etcdtui.core.log_lines import LEVELS, NO_LEVEL
from etcdtui.core.logline import parse_line
from etcdtui.core.logstore import LogStore
from etcdtui.engine.log_save import save
from etcdtui.ui.services import LogSource
from etcdtui.ui.widgets.findings_pane import FindingsPane
from etcdtui.ui.widgets.log_view import LogView, short_member

REFRESH = 1 / 20
STATUS_EVERY = 0.25
FLOOD_LINES = 300  # new lines since the last repaint that make it a flood
FLOOD_REFRESH = 0.1
FIND_STEP = 2_000  # rows searched per step of the loop


class StoreSource:
    """A store without live streams (tests, snapshots, the benchmark's replay)."""

    def __init__(self, store: LogStore, states: dict[str, str] | None = None) -> None:
        self.store = store
        self.states = states or {}

    def stream_summary(self) -> list[tuple[str, str, str]]:
        return [(m, self.states.get(m, "replay"), "") for m in self.store.members]

    def history_progress(self) -> dict[str, tuple[int, int, bool]]:
        return {}

    def cancel_history(self) -> None:
        return None


class DetailScreen(ModalScreen[None]):
    """One line expanded: its fields as pretty JSON and, for a finding, what it means."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    #detail-box { width: 90%; height: 80%; border: thick $accent; background: $panel; padding: 0 1; overflow-y: auto; }
    """

    def __init__(self, body: str) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-box"):
            yield Static(Text(self.body), id="detail-text")


class SaveScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SaveScreen { align: center middle; }
    #save-box { width: 80%; height: auto; border: thick $accent; background: $panel; padding: 0 1; }
    """

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box"):
            yield Static(self.title_text)
            yield Input(self.default, id="save-path")

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def describe_line(store: LogStore, seq: int) -> str:
    line = store.line(seq)
    if line is None:
        return "(line no longer in memory)"
    record = parse_line(line.text)
    data: dict[str, Any] = {"member": line.member, "received": datetime.fromtimestamp(line.ts, UTC).isoformat(),
                            "format": record.format, "level": record.level, "msg": record.msg}
    if record.caller:
        data["caller"] = record.caller
    data.update(record.fields)
    out = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if line.finding is not None:
        rule = RULES.get(line.finding.kind)
        # The store keeps kind and severity; the full finding is pinned, or the line classified again.
        full = next((p.finding for p in store.pinned if p.seq == seq), None) or classify(record)
        message = full.message if full is not None and full.kind == line.finding.kind else line.finding.message
        out += f"\n\nfinding: {line.finding.kind} ({line.finding.severity.label})\n{message}"
        if rule is not None:
            out += f"\n\nwhy it matters: {rule.why}"
    return out + f"\n\nraw:\n{line.text}"


class LogsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "find", "Find"),
        Binding("n", "find_next", "Next match"),
        Binding("N", "find_prev", "Prev match", show=False),
        Binding("space", "toggle_follow", "Follow/pause"),
        Binding("right_square_bracket", "next_finding", "Next finding", key_display="]"),
        Binding("left_square_bracket", "prev_finding", "Prev finding", key_display="[", show=False),
        Binding("enter", "expand", "Expand"),
        Binding("w", "wrap", "Wrap"),
        Binding("t", "timestamps", "Timestamps"),
        Binding("x", "toggle_regex", "Regex", show=False),
        Binding("i", "toggle_case", "Case", show=False),
        Binding("v", "toggle_invert", "Invert", show=False),
        Binding("plus", "level(1)", "Level+", show=False),
        Binding("minus", "level(-1)", "Level-", show=False),
        Binding("m", "cycle_member", "Member"),
        Binding("s", "save(True)", "Save view"),
        Binding("S", "save(False)", "Save all", show=False),
        Binding("X", "cancel_history", "Stop history", show=False),
    ]
    DEFAULT_CSS = """
    LogsScreen { layout: vertical; }
    #log-status { height: 2; background: $panel; padding: 0 1; }
    #log-input { display: none; }
    #log-input.visible { display: block; }
    """

    def __init__(self, source: LogSource, *, member: str | None = None, context: str = "cluster",
                 save_dir: Path | None = None) -> None:
        super().__init__()
        self.source = source
        self.store = source.store
        self.context_label = context
        self.save_dir = save_dir or Path.cwd()
        self.finder = Finder(self.store)
        self.find_count: int | None = None
        self.filter = LogFilter(members=frozenset({member}) if member else frozenset())
        self.filter_error = ""
        self._input_mode = ""  # "filter" or "find"
        self._status_key: tuple[object, ...] = ()
        self.repaints = 0
        self._status_at = 0.0
        self._synced_at = 0.0
        self._synced_seq = 0
        self.last_saved: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield Input(placeholder="", id="log-input")
        yield LogView(self.store, self.finder, id="log-view")
        yield FindingsPane(self.store, id="findings")
        yield Footer()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        _freeze_startup_objects()
        if self.store.filter != self.filter:  # the store is shared: `L` after `l` shows all members again
            self.apply_filter(self.filter)
        self.set_interval(REFRESH, self._drain, name="logs-drain")
        self.view.focus()
        self._drain()

    # -- the 20 Hz drain ----------------------------------------------------------------------------
    def _drain(self) -> None:
        now = time.monotonic()
        store = self.store
        store.release(now)
        view = self.view
        flood = view.following and store.next_seq - self._synced_seq > FLOOD_LINES
        if not flood or now - self._synced_at >= FLOOD_REFRESH:
            # Under a flood every visible line is new at each frame: 10 Hz is as readable and costs half.
            if view.sync():
                self.repaints += 1
            self._synced_seq, self._synced_at = store.next_seq, now
        self.query_one(FindingsPane).sync()
        if now - self._status_at >= STATUS_EVERY:  # counters at 4 Hz are plenty; repaints cost a frame
            self._status_at = now
            self._update_status()

    def _update_status(self) -> None:
        store, view = self.store, self.view
        streams = self.source.stream_summary()
        progress = self.source.history_progress()
        key = (store.version, tuple(streams), tuple(progress.items()), view.following, view.new_while_paused,
               self.find_count, self.filter_error, self.finder.pattern, view.wrap, view.show_ts)
        if key == self._status_key:
            return
        self._status_key = key
        text = Text()
        for name, state, reason in streams:
            colour = {"live": "green", "quiet": "cyan", "reconnecting": "yellow", "waiting": "yellow",
                      "history": "blue", "error": "red", "ended": "dim"}.get(state, "white")
            text.append(f"{short_member(name)} ", style="bold")
            text.append(state, style=colour)
            if reason and state == "live":
                text.append(f" ({reason[:60]})", style="dim")
            elif reason:
                text.append(f" ({reason[:60]})", style="dim")
            counts = store.counts.get(name)
            if counts is not None:
                text.append(f" {counts.lines} lines")
                if counts.dropped_lines:
                    text.append(f" -{counts.dropped_lines}", style="yellow")
            hist = progress.get(name)
            if hist is not None and not hist[2]:
                text.append(f" history {hist[0] / 1e6:.1f}MB/{hist[1]}L", style="blue")
            text.append("  ")
        text.append("\n")
        text.append("FOLLOW" if view.following else f"PAUSED (+{view.new_while_paused} new)",
                    style="bold green" if view.following else "bold yellow")
        text.append(f"  {len(store)}/{store.total_lines} lines  dropped {store.dropped_lines}"
                    f"  late {store.late_lines}  filter: {self.store.filter.describe()}")
        if self.finder.active:
            count = "…" if self.find_count is None else str(self.find_count)
            text.append(f"  find {self.finder.pattern!r}: {count} match(es)")
        if view.wrap:
            text.append("  wrap")
        if self.filter_error:
            text.append(f"  {self.filter_error}", style="bold red")
        self.query_one("#log-status", Static).update(text)

    # -- filter -------------------------------------------------------------------------------------
    def apply_filter(self, flt: LogFilter) -> None:
        try:
            steps = self.store.refilter_steps(flt)
            next(steps, None)  # compiles the pattern now: a bad regex is reported, the old view stays
        except FilterError as exc:
            self.filter_error = str(exc)
            self._update_status()
            return
        self.filter_error = ""
        self.filter = flt
        self._refilter(steps)

    @work(exclusive=True, group="refilter", exit_on_error=False)
    async def _refilter(self, steps: Any) -> None:
        for _ in steps:
            await asyncio.sleep(0)  # let the loop breathe between steps of 2k lines (a few ms each)
        self.view.sync(force=True)
        self._recount()

    def action_filter(self) -> None:
        self._open_input("filter", self.filter.pattern,
                         "filter: text (x: regex, i: case, v: invert, +/-: level, m: member)")

    def action_find(self) -> None:
        self._open_input("find", self.finder.pattern, "find: text or /regex/ (n/N: next/previous)")

    def _open_input(self, mode: str, value: str, placeholder: str) -> None:
        self._input_mode = mode
        box = self.query_one("#log-input", Input)
        box.value, box.placeholder = value, placeholder
        box.add_class("visible")
        box.focus()

    @on(Input.Submitted, "#log-input")
    def _input_submitted(self, event: Input.Submitted) -> None:
        box = event.input
        box.remove_class("visible")
        self.view.focus()
        value = event.value
        if self._input_mode == "filter":
            self.apply_filter(_replace(self.filter, pattern=value))
        elif self._input_mode == "find":
            self.set_find(value)

    def set_find(self, value: str) -> None:
        regex = len(value) > 2 and value.startswith("/") and value.endswith("/")
        try:
            self.finder.set(value[1:-1] if regex else value, regex=regex, case=self.filter.case)
        except FilterError as exc:
            self.filter_error = str(exc)
            return
        self.filter_error = ""
        self.view.restyle()
        self._recount()
        if self.finder.active:
            self.action_find_next()

    def _recount(self) -> None:
        self.find_count = None if self.finder.active else 0
        self._count_matches()

    @work(exclusive=True, group="find-count", exit_on_error=False)
    async def _count_matches(self) -> None:
        for result in self.finder.count_steps():
            if result is not None:
                self.find_count = result
            await asyncio.sleep(0)
        self._update_status()

    def action_toggle_regex(self) -> None:
        self.apply_filter(_replace(self.filter, regex=not self.filter.regex))

    def action_toggle_case(self) -> None:
        self.apply_filter(_replace(self.filter, case=not self.filter.case))

    def action_toggle_invert(self) -> None:
        self.apply_filter(_replace(self.filter, invert=not self.filter.invert))

    def action_level(self, delta: int) -> None:
        level = max(NO_LEVEL, min(len(LEVELS) - 1, self.filter.min_level + delta))
        self.apply_filter(_replace(self.filter, min_level=level))

    def action_cycle_member(self) -> None:
        members = self.store.members
        current = sorted(self.filter.members)
        if not members:
            return
        if not current:
            chosen = frozenset({members[0]})
        else:
            i = members.index(current[0]) + 1 if current[0] in members else 0
            chosen = frozenset({members[i]}) if i < len(members) else frozenset()
        self.apply_filter(_replace(self.filter, members=chosen))

    # -- navigation ---------------------------------------------------------------------------------
    def action_find_next(self) -> None:
        self._find(backwards=False)

    def action_find_prev(self) -> None:
        self._find(backwards=True)

    def _find(self, *, backwards: bool) -> None:
        view = self.view
        start = view.cursor_row
        if start is None:
            start = len(self.store) if backwards else -1
        steps = self.finder.next_row_steps(start, backwards=backwards, step=FIND_STEP)
        first = next(steps)  # a near match is found at once; a far one in a worker, in steps
        if first is None:
            self._find_on(steps)
        else:
            self._found(first)

    @work(exclusive=True, group="find", exit_on_error=False)
    async def _find_on(self, steps: Any) -> None:
        for result in steps:
            if result is not None:
                self._found(result)
                return
            await asyncio.sleep(0)

    def _found(self, row: int) -> None:
        if row < 0:
            self.notify("no match", timeout=2, markup=False)
            return
        self.view.go_to_row(row)

    def action_toggle_follow(self) -> None:
        view = self.view
        view.set_follow(not view.following)
        if view.following:
            view.cursor_seq = None
        self._update_status()

    def action_next_finding(self) -> None:
        self._jump_finding(backwards=False)

    def action_prev_finding(self) -> None:
        self._jump_finding(backwards=True)

    def _jump_finding(self, *, backwards: bool) -> None:
        view = self.view
        cursor = view.cursor_seq
        if cursor is None:
            cursor = self.store.next_seq if backwards else self.store.seq_at(int(view.scroll_y)) or 0
            cursor = cursor if backwards else cursor - 1
        seq = self.store.next_finding(cursor, backwards=backwards)
        if seq is None:
            self.notify("no more findings", timeout=2, markup=False)
            return
        view.go_to_seq(seq)

    def action_expand(self) -> None:
        seq = self.view.cursor_seq
        if seq is None:
            seq = self.store.seq_at(len(self.store) - 1)
        if seq is not None:
            self.app.push_screen(DetailScreen(describe_line(self.store, seq)))

    @on(LogView.FollowChanged)
    def _follow_changed(self, _event: LogView.FollowChanged) -> None:
        self._update_status()  # at once, not at the next 4 Hz status tick

    @on(FindingsPane.Jump)
    def _jump(self, event: FindingsPane.Jump) -> None:
        if self.store.line(event.seq) is None:
            self.notify("that line is no longer in memory (dropped)", severity="warning", timeout=4, markup=False)
            return
        self.view.go_to_seq(event.seq)
        self.view.focus()

    def action_wrap(self) -> None:
        self.view.toggle_wrap()

    def action_timestamps(self) -> None:
        self.view.toggle_ts()

    def action_cancel_history(self) -> None:
        self.source.cancel_history()
        self.notify("history scan stopped: following live lines", timeout=4, markup=False)

    def action_back(self) -> None:
        box = self.query_one("#log-input", Input)
        if box.has_class("visible"):
            box.remove_class("visible")
            self.view.focus()
            return
        self.app.pop_screen()

    # -- save ---------------------------------------------------------------------------------------
    def action_save(self, filtered: bool) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        default = self.save_dir / f"etcdtui-logs-{stamp}{'-filtered' if filtered else ''}.log"
        title = f"Save the {'filtered view' if filtered else 'full buffer'} to (file mode 0600):"

        def chosen(path: str | None) -> None:
            if path:
                self.save_to(Path(path).expanduser(), filtered=filtered)

        self.app.push_screen(SaveScreen(title, str(default)), chosen)

    @work(group="save", exit_on_error=False)
    async def save_to(self, path: Path, *, filtered: bool) -> None:
        try:
            count = await save(self.store, path, context=self.context_label, filtered=filtered)
        except OSError as exc:
            self.notify(f"cannot save to {path}: {exc.strerror or exc}", severity="error", timeout=8, markup=False)
            return
        self.last_saved = path
        self.notify(f"saved {count} lines to {path}", timeout=6, markup=False)


_frozen = False


def _freeze_startup_objects() -> None:
    """Move everything alive now (Textual, imports, the ring view) out of the collector's reach, once.

    Full collections traverse every tracked object; under a log flood they run every second or so and
    their pause grew past 50 ms (benchmarks/log_flood.py). Freezing the startup heap removes most of it.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def _replace(flt: LogFilter, **changes: Any) -> LogFilter:
    from dataclasses import replace

    return replace(flt, **changes)
