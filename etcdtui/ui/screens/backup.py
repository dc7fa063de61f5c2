"""`b` in the ring view: take an etcd snapshot now, the same one as `etcdtui backup`, with progress and result.

The dialog names the context and the member the snapshot comes from; Enter on "Take snapshot" starts it (Cancel
is not the default here: taking a backup changes nothing in the cluster). While it runs the bytes streamed so far
are shown (4 Hz; the adapter reports per chunk), then the file, its revision, size and sha256, or the one-line
reason it failed. Allowed with --readonly: a snapshot reads etcd's data; the node's temporary file is removed.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from etcdtui.cluster.backup import BackupError, BackupResult
from etcdtui.ui.services import BackupBackend


def result_text(result: BackupResult) -> Text:
    text = Text("snapshot taken\n", style="bold green")
    text.append(f"  file      {result.path}\n")
    text.append(f"  from      {result.member_pod}\n")
    revision = str(result.revision) if result.revision is not None else "unknown (no etcdutl)"
    keys = f" ({result.total_keys} keys)" if result.total_keys is not None else ""
    text.append(f"  revision  {revision}{keys}\n")
    text.append(f"  size      {result.size} bytes\n")
    text.append(f"  sha256    {result.sha256}\n")
    text.append(f"  took      {result.elapsed:.1f} s")
    if not result.remote_removed:
        text.append(f"\n  note: {result.remote_path} is still on the node (remove it with sudo rm -f)", style="yellow")
    return text


class BackupScreen(ModalScreen[BackupResult | None]):
    BINDINGS = [Binding("escape", "close", "Close")]
    DEFAULT_CSS = """
    BackupScreen { align: center middle; }
    BackupScreen > Vertical {
        width: 110; height: auto; max-height: 90%;
        border: thick $context-accent; background: $surface; padding: 1 2;
    }
    BackupScreen #backup-progress { height: auto; margin: 1 0; }
    BackupScreen Horizontal { height: auto; align-horizontal: right; }
    BackupScreen Button { margin-left: 2; }
    """
    AUTO_FOCUS = "#backup-start"

    def __init__(self, backend: BackupBackend, *, context: str) -> None:
        super().__init__()
        self.backend, self.context = backend, context
        self.result: BackupResult | None = None
        self.error: str | None = None
        self._progress: tuple[int, float] | None = None
        self._started: float | None = None
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        source = self.backend.source()
        intro = Text("Take an etcd snapshot now\n", style="bold")
        intro.append("context ")
        intro.append(f" {self.context} ", "bold reverse")
        intro.append(f"\n\nFrom {source or 'a healthy member (none is healthy on the latest data)'}: etcdctl snapshot "
                     "save in its pod, streamed over ssh (host key verified) into a new 0600 file in etcdtui's "
                     "backup directory, checked with etcdutl snapshot status. Nothing in the cluster changes.")
        with Vertical():
            yield Static(intro, id="backup-intro")
            yield Static("", id="backup-progress")
            with Horizontal():
                yield Button("Close", id="backup-close")
                yield Button("Take snapshot", id="backup-start", variant="primary")

    def on_mount(self) -> None:
        self.set_interval(0.25, self._redraw, name="backup-progress")

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "backup-start":
            self._start()
        else:
            self.action_close()

    def _start(self) -> None:
        if self.running or self.result is not None:
            return
        self.error, self._started = None, time.monotonic()
        self.query_one("#backup-start", Button).disabled = True
        self._worker = self.run_worker(self._take(), name="backup", group="backup", exit_on_error=False)

    async def _take(self) -> None:
        try:
            self.result = await self.backend.take(self._on_progress)
        except BackupError as exc:
            self.error = exc.message
        except Exception as exc:  # noqa: BLE001 - an adapter failure is one line here, never a hung dialog
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if self.error is not None:
            self.query_one("#backup-start", Button).disabled = False  # try again
        self._redraw()
        self.query_one("#backup-close", Button).focus()

    def _on_progress(self, size: int, elapsed: float) -> None:
        self._progress = (size, elapsed)  # drawn by the timer, not per chunk

    def _redraw(self) -> None:
        progress = self.query_one("#backup-progress", Static)
        if self.result is not None:
            progress.update(result_text(self.result))
        elif self.error is not None:
            progress.update(Text(f"backup failed: {self.error}", style="bold red"))
        elif self._started is not None:
            size, _ = self._progress or (0, 0.0)
            progress.update(Text(f"taking the snapshot… {size} bytes streamed, "
                                 f"{time.monotonic() - self._started:.0f} s", style="yellow"))

    def action_close(self) -> None:
        if self.running:
            self.notify("the snapshot is being taken: wait for it to end", timeout=3, markup=False)
            return
        self.dismiss(self.result)
