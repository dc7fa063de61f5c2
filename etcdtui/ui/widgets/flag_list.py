"""etcd's command-line flags, one per line, for a narrow column.

A flag is never broken inside its name or its value: when `--name=value` does not fit the list's width, only
the value is elided in the middle (its start and its end stay, e.g. `https://10.0.…:2380`); when even the name
leaves too little room, the value goes to a second, indented line. Widths are recomputed on every resize. The
highlighted flag's full text is posted (`FlagList.Shown`) so the panel can show it below; the tooltip is the
flag under the mouse, in full.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.events import Leave, MouseMove, Resize
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

ELLIPSIS = "…"
# Below this many cells a middle-elided value says nothing (`ht…80`): the value gets its own line instead.
MIN_VALUE_CELLS = 10
CONTINUATION = "  "
# Where a value's end is worth keeping whole: a port, a path's last part, a `k=v` pair's value.
_TAIL_SEPARATORS = ":/=,"


def elide_middle(value: str, width: int) -> str:
    """`value` fitted into `width` cells by cutting its middle, keeping the start and a whole last part."""
    if cell_len(value) <= width:
        return value
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    tail = max(keep // 3, 1)
    # Prefer to start the kept end at a separator (`:2380`, `/ca.crt`) within half the room.
    window = value[-(keep // 2):] if keep >= 2 else ""
    cut = max(window.rfind(sep) for sep in _TAIL_SEPARATORS)
    if cut >= 0:
        tail = len(window) - cut
    head = keep - tail
    return value[:head] + ELLIPSIS + value[len(value) - tail:]


def flag_lines(flag: str, width: int, *, whole: bool = False) -> list[str]:
    """The line(s) one flag takes at `width` cells: `--name=value` with only the value elided or moved.

    A `whole` flag (one the reader must see entire, such as the corruption checks) is never elided: it
    continues on indented lines, broken only after its `=` and after the commas of a list value.
    """
    if cell_len(flag) <= width or "=" not in flag:
        return [flag]
    name, value = flag.split("=", 1)
    if whole:
        return _packed([f"{name}=", *(part + "," for part in value.split(",")[:-1]), value.split(",")[-1]], width)
    room = width - cell_len(name) - 1
    if room >= MIN_VALUE_CELLS:
        return [f"{name}={elide_middle(value, room)}"]
    return [f"{name}=", CONTINUATION + elide_middle(value, width - len(CONTINUATION))]


def _packed(tokens: Sequence[str], width: int) -> list[str]:
    lines = [tokens[0]]
    for token in tokens[1:]:
        if cell_len(lines[-1]) + cell_len(token) <= width:
            lines[-1] += token
        else:
            lines.append(CONTINUATION + token)
    return lines


class FlagList(OptionList):
    """A list of flags fitted to its width; `set_flags` replaces them, keeping the highlight on the same flag.

    The `bold` flags are the ones never elided (see `flag_lines(whole=True)`).
    """

    DEFAULT_CSS = """
    FlagList {
        height: auto;
        border: none;
        padding: 0;
        background: transparent;
    }
    FlagList:focus {
        border: none;
    }
    """

    class Shown(Message):
        """The highlighted flag or the width changed: `flag` is its full text (None when there are no flags),
        `elided` whether the list shows less than that."""

        def __init__(self, flag_list: FlagList, flag: str | None, elided: bool) -> None:
            super().__init__()
            self.flag_list = flag_list
            self.flag = flag
            self.elided = elided

        @property
        def control(self) -> FlagList:
            return self.flag_list

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's parameter name
        super().__init__(id=id)
        self._flags: tuple[str, ...] = ()
        self._bold: frozenset[str] = frozenset()
        self._fitted_width = -1

    @property
    def flags(self) -> tuple[str, ...]:
        return self._flags

    @property
    def highlighted_flag(self) -> str | None:
        return self._flags[self.highlighted] if self.highlighted is not None and self._flags else None

    def set_flags(self, flags: Sequence[str], *, bold: Sequence[str] = ()) -> None:
        """Show `flags` in order (the `bold` ones bold); nothing changes when they are the ones shown."""
        flags = tuple(flags)
        if flags == self._flags and frozenset(bold) == self._bold:
            return
        keep = self.highlighted_flag
        self._flags, self._bold = flags, frozenset(bold)
        self._fitted_width = -1
        self.set_options(self._options_for(self._width()))
        self._fitted_width = self._width()
        self.highlighted = flags.index(keep) if keep in flags else (0 if flags else None)
        self._announce()

    def _width(self) -> int:
        return self.scrollable_content_region.width or self.size.width

    def _options_for(self, width: int) -> list[Option]:
        options = []
        for flag in self._flags:
            whole = flag in self._bold
            prompt = Text("\n".join(flag_lines(flag, max(width, 1), whole=whole)), style="bold" if whole else "")
            options.append(Option(prompt))
        return options

    @on(Resize)
    def _refit(self, _: Resize) -> None:
        width = self._width()
        if width == self._fitted_width or not self._flags:
            return
        self._fitted_width = width
        for index, option in enumerate(self._options_for(width)):
            self.replace_option_prompt_at_index(index, option.prompt)
        self._announce()

    def on_mouse_move(self, event: MouseMove) -> None:
        """The tooltip is the flag under the mouse, in full (OptionList marks each line with its option)."""
        index = event.style.meta.get("option")
        hovered = self._flags[index] if isinstance(index, int) and 0 <= index < len(self._flags) else None
        self.tooltip = hovered or self.highlighted_flag

    def on_leave(self, _: Leave) -> None:
        self.tooltip = self.highlighted_flag

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        self._announce()

    def _announce(self) -> None:
        flag = self.highlighted_flag
        self.tooltip = flag
        width = max(self._fitted_width, 1)
        shown = "".join(flag_lines(flag, width, whole=flag in self._bold)) if flag is not None else ""
        elided = flag is not None and shown.count(ELLIPSIS) > flag.count(ELLIPSIS)
        self.post_message(self.Shown(self, flag, elided))
