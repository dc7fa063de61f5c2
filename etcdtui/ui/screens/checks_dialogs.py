"""The questions of "Enable": our own confirmation (naming the context), then KubeOne's plan and prompt; on kubeadm
our confirmation, then each node's manifest edit typed (`TypedConfirmDialog`, asked by the screen)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from etcdtui.engine.checks_plan import Plan

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 110; height: auto; max-height: 90%;
    border: thick $context-accent; background: $surface; padding: 1 2;
}}
{name} .dialog-text {{ height: auto; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


class _ConfirmDialog(ModalScreen[bool]):
    """Cancel is focused: Enter alone never restarts a production cluster's etcd members."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def body(self) -> Text:
        raise NotImplementedError

    def run_label(self) -> str:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.body(), classes="dialog-text", id="confirm-text")
            with Horizontal():
                yield Button("Cancel", id="confirm-cancel", variant="primary")
                yield Button(self.run_label(), id="confirm-run", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-run")

    def action_cancel(self) -> None:
        self.dismiss(False)


def _title(context: str) -> Text:
    text = Text()
    text.append("Enable the etcd corruption checks on context ", "bold")
    text.append(context, "bold reverse")
    text.append("?\n\n")
    return text


class ConfirmEnableScreen(_ConfirmDialog):
    """KubeOne: our question before `kubeone apply --force-upgrade` runs."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmEnableScreen")

    def __init__(self, *, context: str, command: Sequence[str], members: Sequence[str]) -> None:
        super().__init__()
        self.context = context
        self.command = tuple(command)
        self.members = tuple(members)

    def body(self) -> Text:
        text = _title(self.context)
        text.append("This runs\n  ")
        text.append(shlex.join(self.command), "bold")
        text.append(
            "\n\nKubeOne force-upgrades every control-plane node in turn: cordon, drain, regenerate the static "
            "pods (with the corruption-check flags), restart etcd, uncordon. Members restarted: "
        )
        text.append(", ".join(self.members) or "?", "bold")
        text.append(".\nKubeOne shows its plan and asks again before it changes anything.")
        return text

    def run_label(self) -> str:
        return f"Run kubeone on {self.context}"


class ConfirmManifestsScreen(_ConfirmDialog):
    """kubeadm: the first question; each node's manifest write is then confirmed by typing its name."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmManifestsScreen")

    def __init__(self, *, context: str, manifest: str, flags: Sequence[str], nodes: Sequence[str]) -> None:
        super().__init__()
        self.context = context
        self.manifest = manifest
        self.flags = tuple(flags)
        self.nodes = tuple(nodes)

    def body(self) -> Text:
        text = _title(self.context)
        text.append(f"This edits {self.manifest} over ssh on ")
        text.append(", ".join(self.nodes) or "?", "bold")
        text.append(" (in this order, the leader last), adding\n  ")
        text.append(" ".join(self.flags), "bold")
        text.append(
            "\n\nThe kubelet restarts etcd on each node. One member at a time: every member must be healthy before "
            "each edit, and the edited member back healthy with its flags before the next. A member that is not "
            "healthy refuses the whole run. You confirm each node by typing its name."
        )
        return text

    def run_label(self) -> str:
        return f"Edit the manifests on {self.context}"


class PlanDialog(ModalScreen[bool]):
    """KubeOne's own plan and `Do you want to proceed (yes/no): `, answered here and written to kubeone."""

    BINDINGS = [Binding("escape", "answer_no", "No")]
    DEFAULT_CSS = _DIALOG_CSS.format(name="PlanDialog")

    def __init__(self, plan: Plan, prompt: str) -> None:
        super().__init__()
        self.plan = plan
        self.prompt = prompt.strip()

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("KubeOne's plan\n\n", "bold")
        for action in self.plan.actions:
            text.append(f"  {action.mark} {action.text}\n", "" if action.expected else "bold yellow")
        warnings = self.plan.warnings()
        if warnings:
            text.append("\n⚠ this is more than enabling the checks; the default answer is no:\n", "bold yellow")
            for warning in warnings:
                text.append(f"  • {warning}\n", "yellow")
        else:
            text.append("\nOnly same-version force upgrades of control-plane nodes: this enables the checks.\n",
                        "green")
        text.append(f"\nKubeOne asks: {self.prompt}", "bold")
        with Vertical():
            yield Static(text, classes="dialog-text", id="plan-text")
            with Horizontal():
                yield Button("No", id="plan-no", variant="primary" if not self.plan.safe else "default")
                yield Button("Yes", id="plan-yes", variant="warning" if not self.plan.safe else "success")

    def on_mount(self) -> None:
        self.query_one("#plan-yes" if self.plan.safe else "#plan-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "plan-yes")

    def action_answer_no(self) -> None:
        self.dismiss(False)
