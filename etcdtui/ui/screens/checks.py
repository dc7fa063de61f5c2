"""`c`: the corruption checks of every member, KubeOne and backups, and "Enable" (issue #6, #14).

All decisions come from `etcdtui.engine.checks`; this screen renders them, asks the two questions (our
confirmation naming the context, then KubeOne's own plan and prompt) and shows kubeone's output live.
On a kubeadm cluster (the report's flavour) "Enable" edits each node's static pod manifest over ssh
(`engine/checks_kubeadm_service.py`): our confirmation, then each node's write confirmed by typing its name.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Log, Static

from etcdtui.engine.checks import (
    DECLINED,
    ENABLED,
    ChecksReport,
    EnableOutcome,
    EnableRefused,
)
from etcdtui.engine.checks_kubeadm import GUIDE_FLAGS, MANIFEST, ManifestEdit
from etcdtui.engine.checks_plan import Plan
from etcdtui.engine.flavour import KUBEADM
from etcdtui.ui.navigation import navigator
from etcdtui.ui.screens.checks_dialogs import ConfirmEnableScreen, ConfirmManifestsScreen, PlanDialog
from etcdtui.ui.services import ChecksBackend, Hints, ManifestChecksBackend, hints_of
from etcdtui.ui.widgets.checklist_dialogs import TypedConfirmDialog
from etcdtui.ui.widgets.checks_members import ChecksMembersTable
from etcdtui.ui.widgets.checks_panels import (
    BeforeAfterTable,
    backups_text,
    command_text,
    kubeadm_command_text,
    kubeadm_text,
    kubeone_text,
    risk_text,
    summary_text,
)

OUTPUT_MAX_LINES = 2000  # the live output panel keeps this many lines (the runner's transcript has the rest)


class ChecksScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("r", "reload", "Re-read"),
        Binding("e", "enable", "Enable"),
        Binding("x", "stop", "Stop"),  # kubeone apply, or the manifest edits on kubeadm
    ]

    DEFAULT_CSS = """
    ChecksScreen { layout: vertical; }
    #checks-title { height: 1; padding: 0 1; background: $context-accent; color: $text; text-style: bold; }
    #checks-summary, #checks-risk { height: auto; padding: 0 1; }
    #checks-panels { height: auto; }
    #checks-panels > Static { width: 1fr; height: auto; padding: 0 1; border: round $panel-lighten-2; }
    #checks-action { height: auto; padding: 0 1; }
    #checks-command { width: 1fr; height: auto; }
    #checks-enable { margin-left: 2; }
    #checks-progress { height: auto; padding: 0 1; color: $text-warning; }
    #checks-result { height: auto; padding: 0 1; }
    #checks-output { height: 1fr; min-height: 6; border: round $panel-lighten-2; }
    """

    def __init__(self, backend: ChecksBackend | ManifestChecksBackend | None, *, readonly: bool, context: str,
                 hints: Hints | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.readonly = readonly
        self.context_label = context
        self.hints = dict(hints or {})
        self.report: ChecksReport | None = None
        self.outcome: EnableOutcome | None = None
        self.running = False
        self.reports_loaded = 0
        self._progress = ""
        self._started: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Corruption checks · {self.context_label}" + (" · read-only" if self.readonly else ""),
                     id="checks-title")
        yield Static("reading the etcd pods, their logs, kubeone and backups…", id="checks-summary")
        yield ChecksMembersTable(id="checks-members")
        yield Static("", id="checks-risk")
        with Horizontal(id="checks-panels"):
            yield Static("", id="checks-kubeone")
            yield Static("", id="checks-backups")
        with Horizontal(id="checks-action"):
            yield Static("", id="checks-command")
            yield Button("Enable", id="checks-enable", variant="warning", disabled=True)
        yield Static("", id="checks-progress")
        yield Static("", id="checks-result")
        yield BeforeAfterTable(id="checks-before-after")
        yield Log(id="checks-output", max_lines=OUTPUT_MAX_LINES)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#checks-enable").display = not self.readonly
        for widget in ("#checks-before-after", "#checks-output", "#checks-progress"):
            self.query_one(widget).display = False
        self.set_interval(1.0, self._tick, name="checks-progress")
        if self.backend is None:
            self.query_one("#checks-summary", Static).update(
                Text("no cluster connection: the checks screen needs a live cluster", "yellow"))
            return
        self.action_reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "enable" and self.readonly:
            return False  # hidden and unbound in read-only mode
        if action == "stop":
            return self.running  # only while kubeone runs
        return True

    # -- reading -----------------------------------------------------------------------------------------
    def action_reload(self) -> None:
        if self.backend is None or self.running:
            return
        self.run_worker(self._load(), group="checks-load", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        assert self.backend is not None
        try:
            report = await self.backend.report(hints_of(navigator(self).services.ring) or self.hints)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, never a crash of the app
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.query_one("#checks-summary", Static).update(Text(f"cannot read the checks: {reason}", "bold red"))
            return
        self.show_report(report)

    def show_report(self, report: ChecksReport) -> None:
        self.report = report
        now = self._now()
        with self.app.batch_update():
            self.query_one("#checks-summary", Static).update(summary_text(report))
            self.query_one(ChecksMembersTable).show(report.members, now)
            self.query_one("#checks-risk", Static).update(risk_text(report.members))
            self.query_one("#checks-backups", Static).update(backups_text(report.backups, now,
                                                                                   kubeadm=report.flavour == KUBEADM))
            if report.flavour == KUBEADM:
                self.query_one("#checks-kubeone", Static).update(kubeadm_text())
                self.query_one("#checks-command", Static).update(kubeadm_command_text(self.context_label,
                                                                                      self.readonly))
            else:
                self.query_one("#checks-kubeone", Static).update(kubeone_text(report.kubeone))
                self.query_one("#checks-command", Static).update(
                    command_text(report.kubeone, self.context_label, self.readonly))
            button = self.query_one("#checks-enable", Button)
            button.disabled = bool(report.kubeone.blockers()) or self.running or not report.members
            button.label = "Enable" if not report.all_on else "Enable (already on)"
        self.reports_loaded += 1

    def _now(self) -> float:
        """Epoch seconds from the app's clock (fixed in tests and screenshots), for ages like "2h ago"."""
        return navigator(self).services.clock().timestamp()

    # -- enabling ----------------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "checks-enable":
            self.action_enable()

    def action_enable(self) -> None:
        if self.readonly or self.running or self.backend is None or self.report is None:
            return
        blockers = self.report.kubeone.blockers()
        if blockers:
            self.notify(blockers[0], title="cannot enable", severity="error", timeout=10, markup=False)
            return
        if self._by_manifests:
            nodes = [m.node or m.pod for m in sorted(self.report.members, key=lambda m: (bool(m.is_leader), m.node or ""))]
            self.app.push_screen(ConfirmManifestsScreen(context=self.context_label, manifest=MANIFEST,
                                                        flags=GUIDE_FLAGS, nodes=nodes), callback=self._confirmed)
            return
        dialog = ConfirmEnableScreen(context=self.context_label, command=self.report.kubeone.command,
                                     members=[m.pod for m in self.report.members])
        self.app.push_screen(dialog, callback=self._confirmed)

    @property
    def _by_manifests(self) -> bool:
        """kubeadm: Enable edits the static pod manifests (the report says the flavour, the backend can do it)."""
        return (self.report is not None and self.report.flavour == KUBEADM
                and isinstance(self.backend, ManifestChecksBackend))

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self.run_worker(self._enable(), group="checks-enable", exclusive=True, exit_on_error=False)
        else:
            self.notify("not enabled: nothing was run", timeout=4, markup=False)

    async def _enable(self) -> None:
        assert self.backend is not None
        self.running = True
        self.refresh_bindings()
        self._started = time.monotonic()
        self.query_one("#checks-enable", Button).disabled = True
        output = self.query_one("#checks-output", Log)
        output.clear()
        output.display = True
        self.query_one("#checks-progress").display = True
        self.query_one("#checks-before-after").display = False
        self.query_one("#checks-result", Static).update("")
        hints = hints_of(navigator(self).services.ring) or self.hints
        backend = self.backend
        try:
            if not isinstance(backend, ManifestChecksBackend):
                outcome = await backend.enable(on_output=self._output, on_plan=self._ask_plan,
                                               on_progress=self._set_progress, hints=hints)
            elif self._by_manifests:
                outcome = await backend.enable_by_manifests(
                    on_output=self._output, on_progress=self._set_progress, confirm=self._confirm_edit, hints=hints)
            else:
                raise EnableRefused("the report is not of a kubeadm cluster: re-read it (r)")
        except asyncio.CancelledError:
            stopped = ("✗ stopped between ssh steps: the member being edited may be restarting; check the ring view "
                       f"and {MANIFEST} on its node") if self._by_manifests else (
                "✗ kubeone was stopped (SIGTERM to its process group): KubeOne may have left a node cordoned or a "
                "member restarting; check the ring view and the nodes")
            with contextlib.suppress(Exception):  # the app may be closing: nothing left to show it on
                self._finish(Text(stopped, "bold red"))
            raise
        except EnableRefused as exc:
            self._finish(Text(f"✗ not started: {exc}", "bold red"))
            return
        except Exception as exc:  # noqa: BLE001 - shown, never a crash of the app
            self._finish(Text(f"✗ {type(exc).__name__}: {exc}".splitlines()[0], "bold red"))
            return
        self.outcome = outcome
        style = {ENABLED: "bold green", DECLINED: "bold yellow"}.get(outcome.status, "bold red")
        mark = {ENABLED: "✓", DECLINED: "–"}.get(outcome.status, "✗")
        self._finish(Text(f"{mark} {outcome.message}", style))
        if outcome.changes:
            table = self.query_one(BeforeAfterTable)
            table.show(outcome.changes)
            table.display = True
        if outcome.after is not None:
            self.show_report(outcome.after)
        else:
            self.action_reload()

    def _finish(self, message: Text) -> None:
        self.running = False
        self.refresh_bindings()
        self.query_one("#checks-progress").display = False
        self.query_one("#checks-result", Static).update(message)
        if self.report is not None:
            self.query_one("#checks-enable", Button).disabled = bool(self.report.kubeone.blockers())
        self.notify(message.plain, title="corruption checks", timeout=10, markup=False,
                    severity="information" if message.plain.startswith(("✓", "–")) else "error")

    def _output(self, lines: Sequence[str]) -> None:
        self.query_one("#checks-output", Log).write_lines(lines)

    def _set_progress(self, text: str) -> None:
        self._progress = text
        self._tick()

    def _tick(self) -> None:
        if self.running and self._started is not None:
            elapsed = time.monotonic() - self._started
            self.query_one("#checks-progress", Static).update(f"⏳ {self._progress} · {elapsed:.0f} s")

    async def _ask_plan(self, plan: Plan, prompt: str) -> bool:
        return bool(await self._ask(PlanDialog(plan, prompt)))

    async def _confirm_edit(self, edit: ManifestEdit) -> bool:
        """kubeadm: one node's manifest write, confirmed by typing the node's name (the context named)."""
        text = (f"The kubelet on {edit.node} restarts its etcd member with the new flags; the next member waits "
                f"until this one is back healthy with them. The gate (every member healthy) is checked again "
                f"right before the write.\n\nbefore: {edit.checks_before}\nafter:  {edit.checks_after}")
        return bool(await self._ask(TypedConfirmDialog(
            title=f"Edit etcd's static pod manifest on {edit.node}", text=text, context=self.context_label,
            expect=edit.node, command=("sudo", "tee", MANIFEST))))

    async def _ask(self, dialog: PlanDialog | TypedConfirmDialog) -> bool | str | None:
        answer: asyncio.Future[bool | str | None] = asyncio.get_running_loop().create_future()

        def done(value: bool | str | None) -> None:
            if not answer.done():
                answer.set_result(value)

        self.app.push_screen(dialog, callback=done)
        return await answer

    def action_stop(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "checks-enable")

    def action_back(self) -> None:
        if self.running:
            running = "the manifests are being edited" if self._by_manifests else "kubeone is running"
            self.notify(f"{running}: wait for it, or stop it with x", severity="warning", timeout=4, markup=False)
            return
        self.app.pop_screen()
