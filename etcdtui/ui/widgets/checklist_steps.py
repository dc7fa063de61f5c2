"""The checklist of a procedure (replace, defragment): one line per step (status, title, duration, reason)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from etcdtui.core.checklist import Checklist, StepStatus
from etcdtui.core.go_duration import format_duration

ICONS = {
    StepStatus.PENDING: ("·", "dim"),
    StepStatus.RUNNING: ("▶", "bold yellow"),
    StepStatus.DONE: ("✓", "bold green"),
    StepStatus.FAILED: ("✗", "bold red"),
    StepStatus.SKIPPED: ("↷", "cyan"),
}


def render_checklist(checklist: Checklist, now: float) -> Text:
    text = Text()
    for s in checklist.steps:
        icon, style = ICONS[s.status]
        text.append(f" {icon} ", style)
        text.append(f"{int(s.id)}. ", "bold")
        text.append(s.title, "bold" if s.status is StepStatus.RUNNING else "")
        if s.destructive:
            text.append("  ⚠", "yellow")
        text.append(f"  {s.status.value}", style)
        duration = s.duration(now)
        if duration is not None:
            text.append(f"  {format_duration(duration)}", "dim")
        if s.interrupted:
            text.append("  (interrupted: re-run on resume)", "yellow")
        text.append("\n")
        if s.reason and s.status in (StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.DONE):
            text.append(f"      {s.reason}\n", "red" if s.status is StepStatus.FAILED else "dim")
    return text


class ChecklistSteps(Static):
    """Re-rendered from the checklist (it is tiny: ten steps) whenever the procedure reports a change."""

    DEFAULT_CSS = "ChecklistSteps { height: auto; padding: 0 1; }"

    def show(self, checklist: Checklist, now: float) -> None:
        self.update(render_checklist(checklist, now))
