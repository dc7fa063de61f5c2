"""`?`: the keys of the ring view and what the columns mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from etcdtui.ui.actions import key_label, visible

COLUMN_HELP = (
    ("READY / STATUS / RESTARTS / AGE", "the pod as kubectl shows it"),
    ("VERSION", "etcd version; ⚠ marks a version with known data-loss or inconsistency bugs"),
    ("MEMBER ID / LEADER", "etcd member (hex, as in the logs) and the raft leader ★"),
    ("LAG", "revisions / raft index entries behind the ring's best member"),
    ("HASH", "KV hash at the common revision: ✓ equal, ✗ DIFFERS (corruption), ? inconclusive"),
    ("CHECKS", "corruption checks: initial / periodic (interval) / compaction hash check"),
    ("FINDINGS", "✗ critical and ⚠ warning counts; the findings with evidence are in the panel below"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 124; height: auto; max-height: 90%;
        border: thick $context-accent; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, *, readonly: bool) -> None:
        super().__init__()
        self._readonly = readonly

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(self._readonly), id="help-text")
        yield Footer()


def help_text(readonly: bool) -> Text:
    text = Text()
    text.append("etcdtui: keys", style="bold")
    if readonly:
        text.append("   read-only: mutating actions are hidden", style="bold reverse")
    text.append("\n\n")
    for action in visible(readonly):
        text.append(f"{key_label(action):>8}  ", style="bold")
        text.append(action.help)
        text.append("\n")
    text.append(f"{'ctrl+p':>8}  ", style="bold")
    text.append("command palette: the same actions, and the themes\n")
    text.append(f"{'tab':>8}  ", style="bold")
    text.append("into the detail panel; on its flag list ↑↓ or a click shows a shortened flag in full (hover: tooltip)\n")
    text.append("\nColumns\n", style="bold")
    for name, meaning in COLUMN_HELP:
        text.append(f"{name:<34}", style="bold")
        text.append(f"{meaning}\n")
    return text
