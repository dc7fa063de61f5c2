"""The replace checklist screen: steps 0–9 with status, the exact command before it runs, live output, durations.

The procedure (`etcdtui.engine.replace.ReplaceProcedure`, built by the app's `ProcedureFactory`) runs in a
worker on the app's loop; this screen is its `Interaction`: questions become dialogs (typed node name for
destructive steps), and changes are redrawn by a 4 Hz timer (output arrives in batches; the screen never
redraws per line). Ctrl+C during a running step asks, then cancels the worker: a local command gets
SIGTERM→SIGKILL of its process group, and the step is journaled as failed ("stopped by the operator"), so Enter retries it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static
from textual.worker import Worker, WorkerState

from etcdtui.core.checklist import STEP_TITLES, Checklist, StepId, StepStatus
from etcdtui.engine.replace import Outcome, Question, ReplaceSettings
from etcdtui.engine.replace_journal import JournalError
from etcdtui.ui.services import ProcedureFactory, ProcedureRunner
from etcdtui.ui.widgets.checklist_dialogs import BackupDialog, TypedConfirmDialog, YesNoDialog
from etcdtui.ui.widgets.checklist_steps import ChecklistSteps

OUTPUT_MAX_LINES = 5000  # the on-screen log; the journal keeps the last 200 per step
_closing: set[asyncio.Task[None]] = set()


class ReplaceScreen(Screen[None]):
    BINDINGS = [
        Binding("enter", "run", "Start / continue"),
        Binding("ctrl+c", "stop", "Stop step", priority=True),
        Binding("escape", "back", "Back"),
        Binding("A", "abandon", "Abandon"),
    ]

    DEFAULT_CSS = """
    ReplaceScreen { layout: vertical; }
    #replace-title { height: 1; padding: 0 1; background: $context-accent; color: $text; text-style: bold; }
    #replace-steps { height: auto; }
    #replace-command { height: auto; padding: 0 1; color: $text-accent; }
    #replace-output { height: 1fr; border: round $panel-lighten-2; }
    #replace-status { height: auto; padding: 0 1; color: $text-warning; }
    """

    def __init__(self, procedures: ProcedureFactory, settings: ReplaceSettings, *, context: str) -> None:
        super().__init__()
        self.procedures = procedures
        self.settings = settings
        self.context_label = context
        self.proc: ProcedureRunner | None = None
        self.outcome: Outcome | None = None
        self.opened = False
        self._worker: Worker[Outcome] | None = None
        self._dirty = True
        self._shown: dict[int, int] = {}  # step -> output lines (incl. dropped) already in the log
        self._headed: dict[int, int] = {}  # step -> attempt whose header is in the log
        self.asked: list[Question] = []

    # -- layout ----------------------------------------------------------------------------------------
    def heading(self) -> str:
        return f"Replace the etcd member of {self.settings.node} · context {self.context_label}"

    def compose(self) -> ComposeResult:
        yield Static(self.heading(), id="replace-title")
        yield ChecklistSteps(id="replace-steps")
        yield Static("", id="replace-command")
        yield Log(id="replace-output", max_lines=OUTPUT_MAX_LINES, highlight=False)
        yield Static("", id="replace-status")
        yield Footer()

    @property
    def checklist(self) -> Checklist | None:
        return self.proc.checklist if self.proc else None

    def on_mount(self) -> None:
        self.set_interval(0.25, self._redraw, name="checklist-redraw")
        self.run_worker(self._open(), name="replace-open", group="replace-open", exit_on_error=False)

    def _build(self) -> ProcedureRunner:
        """The procedure this screen runs (a subclass runs another one with the same machinery)."""
        return self.procedures(self.settings, self)

    async def _open(self) -> None:
        proc = self._build()
        try:
            await proc.open()
        except JournalError as exc:
            self._status(f"cannot start: {exc}")
            self.notify(str(exc), severity="error", timeout=15, markup=False)
            return
        self.proc, self.opened = proc, True
        self._status(self._opened_status(proc))
        self._dirty = True

    def _opened_status(self, proc: ProcedureRunner) -> str:
        """The status line once the procedure is open: resuming where, or how to start."""
        nxt = proc.checklist.next_step()
        if proc.resumed and nxt is not None:
            return (f"resuming an interrupted procedure at step {int(nxt)} ({STEP_TITLES[nxt]}): "
                    "press Enter to continue")
        return "press Enter to start; destructive steps ask for the node name"

    def on_unmount(self) -> None:
        if self.proc is not None:
            self.proc.lock.release()
            task = asyncio.get_running_loop().create_task(self.proc.close())
            _closing.add(task)  # keep a reference until done (the loop holds tasks only weakly)
            task.add_done_callback(_closing.discard)

    # -- Interaction (called by the procedure) -----------------------------------------------------------
    async def ask(self, question: Question) -> str | None:
        self.asked.append(question)
        self._status(f"waiting for you: {question.title}")
        dialog: Any
        if question.kind == "destructive":
            dialog = TypedConfirmDialog(title=question.title, text=question.text, context=question.context,
                                        expect=question.expect or "", command=question.command)
        elif question.kind == "backup":
            dialog = BackupDialog(title=question.title, text=question.text, context=question.context,
                                  command=question.command)
        else:
            dialog = YesNoDialog(title=question.title, text=question.text, context=question.context,
                                 command=question.command)
        answer = await self.app.push_screen(dialog, wait_for_dismiss=True)
        self._status("")
        if isinstance(answer, bool):
            return "yes" if answer else None
        return answer if isinstance(answer, str) else None

    def changed(self, step: StepId | None) -> None:
        self._dirty = True

    # -- drawing ------------------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#replace-status", Static).update(Text(text))

    def _redraw(self) -> None:
        checklist = self.checklist
        if checklist is None or not self._dirty and checklist.running is None:
            return
        self._dirty = False
        self.query_one(ChecklistSteps).show(checklist, time.time())
        log = self.query_one(Log)
        current = checklist.running or self._latest_started(checklist)
        if current is not None:
            self.query_one("#replace-command", Static).update(
                Text("\n".join(f"$ {c}" for c in current.commands) if current.commands else ""))
        wrote = False
        for s in checklist.steps:
            if s.started_at is None:
                continue
            key = int(s.id)
            if self._headed.get(key) != s.attempts:
                self._headed[key], self._shown[key] = s.attempts, 0
                log.write_line(f"── step {key}: {s.title} " + (f"(attempt {s.attempts}) " if s.attempts > 1 else "")
                               + "──")
                for c in s.commands:
                    log.write_line(f"$ {c}")
                wrote = True
            total = s.dropped_lines + len(s.output)
            new = total - self._shown.get(key, 0)
            if new > 0:
                lines = s.output[-min(new, len(s.output)):]
                if new > len(s.output):
                    log.write_line(f"[{new - len(s.output)} lines not shown]")
                log.write_lines(lines)
                self._shown[key] = total
                wrote = True
        if wrote:
            log.scroll_end(animate=False)  # follow the live output (the newest step is at the bottom)

    @staticmethod
    def _latest_started(checklist: Checklist) -> Any:
        started = [s for s in checklist.steps if s.started_at is not None]
        return max(started, key=lambda s: s.started_at or 0.0) if started else None

    # -- actions ----------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_run(self) -> None:
        if self.proc is None:
            self.notify("the procedure is not open (see the status line)", severity="warning", markup=False)
            return
        if self.running:
            self.notify("a step is running", timeout=3, markup=False)
            return
        if self.proc.checklist.finished:
            self.notify("the procedure has ended", timeout=3, markup=False)
            return
        self._status("running…")
        self._worker = self.run_worker(self._run(), name="replace", group="replace", exit_on_error=False)

    async def _run(self) -> Outcome:
        assert self.proc is not None
        outcome = await self.proc.run()
        self.outcome = outcome
        self._dirty = True
        self._status(self._outcome_text(outcome))
        notice = self._done_notice() if outcome is Outcome.DONE else None
        if notice:
            self.notify(notice, title="replace", timeout=15, markup=False)
        return outcome

    def _done_notice(self) -> str | None:
        """The toast when the procedure ends well (None: the status line says it)."""
        return f"{self.settings.node} replaced: the ring is healthy"

    def _outcome_text(self, outcome: Outcome) -> str:
        assert self.proc is not None
        failed = next((s for s in self.proc.checklist.steps if s.status is StepStatus.FAILED), None)
        if outcome is Outcome.DONE:
            return f"done: {self.settings.node} is replaced (journal archived)"
        if outcome is Outcome.PAUSED:
            return "paused: nothing was changed by the declined step; press Enter to continue"
        why = f" at step {int(failed.id)}: {failed.reason}" if failed else ""
        if outcome is Outcome.REFUSED:
            return f"refused{why}"
        return f"{outcome.value}{why}; fix it and press Enter to retry the step"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._worker and event.state is WorkerState.CANCELLED:
            self.outcome = Outcome.CANCELLED
            self._dirty = True
            self._status("stopped: the running step was stopped and is marked failed; Enter retries it")
        elif event.worker is self._worker and event.state is WorkerState.ERROR:
            self._status(f"error: {type(event.worker.error).__name__}: {event.worker.error}".splitlines()[0])

    def action_stop(self) -> None:
        if not self.running or self.checklist is None or self.checklist.running is None:
            if self.running:
                self.notify("waiting for your answer: use the dialog", timeout=3, markup=False)
                return
            self.notify("no step is running (Esc goes back)", timeout=3, markup=False)
            return
        step = self.checklist.running

        def decided(stop: bool | None) -> None:
            if stop and self._worker is not None:
                self._worker.cancel()

        self.app.push_screen(YesNoDialog(
            title=f"Stop step {int(step.id)} ({step.title})?",
            text="The running command is stopped (SIGTERM, then SIGKILL); the step is marked failed and can be "
                 "retried (every step is idempotent).", context=self.context_label, yes="Stop it", no="Keep running"),
            decided)

    def action_back(self) -> None:
        if self.running:
            self.notify("a step is running: Ctrl+C stops it first", severity="warning", timeout=4, markup=False)
            return
        self.app.pop_screen()

    def action_abandon(self) -> None:
        if self.running or self.proc is None:
            return

        def decided(yes: bool | None) -> None:
            if yes and self.proc is not None:
                self.proc.abandon()
                self._status("abandoned: the journal is kept aside; the cluster is as the steps left it")

        self.app.push_screen(YesNoDialog(
            title="Abandon this procedure?", text="The journal is moved aside and etcdtui stops offering to resume. "
            "Nothing in the cluster is undone.", context=self.context_label, yes="Abandon"), decided)
