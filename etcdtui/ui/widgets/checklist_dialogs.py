"""Dialogs of the replace checklist (k9s style): Cancel/No is the default button; every one names the context.

* `TypedConfirmDialog`: destructive steps; the node name input has the focus (type it, Enter confirms only
  the exact name, Esc cancels); the Confirm button only works once the node name is typed exactly.
* `YesNoDialog`: KubeOne's plan, the offers (member remove, alarm disarm), stopping a running step, resume.
* `BackupDialog`: take the snapshot, or skip it with a typed reason.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 110; height: auto; max-height: 90%;
    border: thick $context-accent; background: $surface; padding: 1 2;
}}
{name} .dialog-text {{ height: auto; margin-bottom: 1; }}
{name} Input {{ margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


def _body(title: str, text: str, context: str, command: tuple[str, ...] = ()) -> Text:
    body = Text()
    body.append(title + "\n", "bold")
    body.append("context ")
    body.append(f" {context} ", "bold reverse")
    body.append("\n\n")
    body.append(text)
    if command:
        body.append("\n\n$ " + " ".join(command), "bold")
    return body


class TypedConfirmDialog(ModalScreen[str | None]):
    """Type the node name, then Enter or Confirm; Escape or Cancel answers None. The input has the focus (no
    Shift+Tab before typing); Enter with anything but the exact name does nothing; Cancel stays the default
    (primary) button."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="TypedConfirmDialog")
    AUTO_FOCUS = "#typed-input"

    def __init__(self, *, title: str, text: str, context: str, expect: str, command: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.title_text, self.text, self.context, self.expect, self.command = title, text, context, expect, command

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_body(self.title_text, self.text, self.context, self.command), classes="dialog-text",
                         id="typed-text")
            yield Input(placeholder=f"type {self.expect} to confirm", id="typed-input")
            with Horizontal():
                yield Button("Cancel", id="typed-cancel", variant="primary")
                yield Button(f"Confirm on {self.context}", id="typed-confirm", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#typed-input", Input).focus()

    @on(Input.Changed, "#typed-input")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#typed-confirm", Button).disabled = event.value.strip() != self.expect

    @on(Input.Submitted, "#typed-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expect:
            self.dismiss(self.expect)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "typed-confirm" and self.query_one("#typed-input", Input).value.strip() == self.expect:
            self.dismiss(self.expect)
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class YesNoDialog(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "no", "No")]
    DEFAULT_CSS = _CSS.format(name="YesNoDialog")
    AUTO_FOCUS = "#yesno-no"

    def __init__(self, *, title: str, text: str, context: str, yes: str = "Yes", no: str = "No",
                 command: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.title_text, self.text, self.context, self.yes, self.no, self.command = title, text, context, yes, no, command

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_body(self.title_text, self.text, self.context, self.command), classes="dialog-text",
                         id="yesno-text")
            with Horizontal():
                yield Button(self.no, id="yesno-no", variant="primary")
                yield Button(self.yes, id="yesno-yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#yesno-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yesno-yes")

    def action_no(self) -> None:
        self.dismiss(False)


class BackupDialog(ModalScreen[str | None]):
    """"snapshot", "skip: <reason>" (the reason typed), or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = _CSS.format(name="BackupDialog")
    AUTO_FOCUS = "#backup-take"

    def __init__(self, *, title: str, text: str, context: str, command: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.title_text, self.text, self.context, self.command = title, text, context, command

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_body(self.title_text, self.text, self.context, self.command), classes="dialog-text",
                         id="backup-text")
            yield Input(placeholder="reason for skipping the backup (required to skip)", id="backup-reason")
            with Horizontal():
                yield Button("Cancel", id="backup-cancel")
                yield Button("Skip (needs a reason)", id="backup-skip", variant="warning", disabled=True)
                yield Button("Take snapshot", id="backup-take", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#backup-take", Button).focus()

    @on(Input.Changed, "#backup-reason")
    def _reason(self, event: Input.Changed) -> None:
        self.query_one("#backup-skip", Button).disabled = not event.value.strip()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        reason = self.query_one("#backup-reason", Input).value.strip()
        if event.button.id == "backup-take":
            self.dismiss("snapshot")
        elif event.button.id == "backup-skip" and reason:
            self.dismiss(f"skip: {reason}")
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
