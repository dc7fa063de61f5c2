"""The Textual app: one `Services` in, the ring view first, every other screen opened by an app method.

`make_app(services, open_at)` is the one factory: the commands (`ui/session.py`), the snapshot tests and the
screenshots scripts all build their app with it (Posting's pattern). The app owns the engines it starts
(the log engine runs in an app worker and stops with the app); screens reach it only through
`ui/navigation.Navigator`, never by importing this module.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.app import App
from textual.worker import Worker, WorkerState

from etcdtui.ui.commands import RingCommands
from etcdtui.ui.navigation import BACK_TO_FLEET, RING_VIEW, Destination, ReplaceView, RingView
from etcdtui.ui.screens.ring import RingScreen
from etcdtui.ui.services import (
    BackupBackend,
    ChecksBackend,
    LogSource,
    ManifestChecksBackend,
    ProcedureFactory,
    Services,
    hints_of,
)
from etcdtui.ui.source import refresh

LOG_START_AFTER_FRAME = 0.25  # seconds after the first complete table is painted
LOG_START_LATEST = 3.0  # seconds after mount: the log engine starts then even if no snapshot is complete yet

if TYPE_CHECKING:
    from pathlib import Path

    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.log_engine import LogEngine
    from etcdtui.engine.replace import Interaction, ReplaceSettings
    from etcdtui.engine.snapshot import RingSnapshot
    from etcdtui.ui.screens.replace import ReplaceScreen
    from etcdtui.ui.source import SnapshotSource


class EtcdTuiApp(App[int]):
    CSS_PATH = "etcdtui.tcss"
    TITLE = "etcdtui"
    COMMANDS = App.COMMANDS | {RingCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, services: Services, open_at: Destination = RING_VIEW) -> None:
        self._services = services
        self.open_at = open_at
        self.readonly = services.readonly
        self.config = services.config
        self.clock = services.clock
        self.context_label = services.context
        self._accent = self.config.accent_for(self.context_label) if self.context_label else None
        self._logs: LogSource | None = services.logs
        self._checks: ChecksBackend | ManifestChecksBackend | None = services.checks
        self._backups: BackupBackend | None = services.backups
        super().__init__()
        if self.config.theme:
            self.theme = self.config.theme
        self.ring = RingScreen(readonly=self.readonly, context=self.context_label, clock=self.clock,
                               flavour=services.flavour, first=services.ring.latest)

    @property
    def services(self) -> Services:
        return self._services

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()
        # `$context-accent`: the per-context colour from the config (e.g. red for production), else the theme's.
        variables["context-accent"] = self._accent or variables.get("accent", "#ffa62b")
        return variables

    def on_mount(self) -> None:
        self.push_screen(self.ring)
        self.title = f"etcdtui · {self.context_label or 'cluster'}" + (" · read-only" if self.readonly else "")
        self.run_worker(self._follow_source(), name="snapshots", group="snapshots", exit_on_error=False)
        # Log findings feed the ring view from its first complete table on: the log streams' backlog would
        # otherwise compete with the first etcdctl round for the one event loop (LOG_START_LATEST at the latest).
        self.set_timer(LOG_START_LATEST, self._start_log_engine)
        if isinstance(self.open_at, RingView) and self.open_at.from_fleet:
            self.bind("escape", "back_to_fleet", description="Fleet")  # screens' own Esc bindings come first
        if isinstance(self.open_at, ReplaceView):
            self.call_later(self.open_replace, self.open_at.node)
        elif not self.readonly:  # an interrupted replace procedure of this cluster is offered for resuming
            self.call_after_refresh(self._offer_resume)

    def _offer_resume(self) -> None:
        from etcdtui.ui.widgets.checklist_resume import offer_resume

        offer_resume(self)

    async def _follow_source(self) -> None:
        source = self._services.ring
        latest = source.latest
        if latest is not None:
            self._arrived(latest)
        async for snapshot in source.subscribe():
            self._arrived(snapshot)

    def _arrived(self, snapshot: RingSnapshot) -> None:
        self.ring.post_message(RingScreen.SnapshotArrived(snapshot))
        if snapshot.complete and self._logs is None:
            # A beat after the frame that shows the table: the log streams' backlog never delays that frame.
            self.call_after_refresh(self.set_timer, LOG_START_AFTER_FRAME, self._start_log_engine)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The source failing must be shown, never crash the app (exit_on_error=False above).
        if event.worker.group == "snapshots" and event.state is WorkerState.ERROR:
            error = event.worker.error
            reason = f"lost the data source: {type(error).__name__}: {error}".splitlines()[0]
            self.ring.post_message(RingScreen.SourceFailed(reason))

    # -- engines the app owns ----------------------------------------------------------------------------
    def _start_log_engine(self) -> None:
        """The log engine on the cluster connection, in an app worker: it stops when the app exits."""
        s = self._services
        if self._logs is not None or s.conn is None:
            return
        from etcdtui.core.logstore import LogStore
        from etcdtui.engine.log_engine import LogEngine

        bounds = {k: v for k, v in (("max_lines", s.config.log_max_lines), ("max_bytes", s.config.log_max_bytes))
                  if v}
        engine = LogEngine(s.conn, namespace=s.namespace, selector=s.selector, ring=s.ring,
                           store=LogStore(**bounds))
        self._logs = engine
        self.run_worker(_run_engine(engine), name="log-engine", group="log-engine", exit_on_error=False)

    def _checks_backend(self) -> ChecksBackend | ManifestChecksBackend | None:
        s = self._services
        if self._checks is None and s.conn is not None:
            from etcdtui.engine.checks import ChecksService, KubeOneSettings

            self._checks = ChecksService(s.conn, KubeOneSettings.of(s.settings.kubeone), namespace=s.namespace,
                                         selector=s.selector)
            if s.flavour == "kubeadm":  # the same audit; Enable edits the static pod manifests over ssh
                from etcdtui.engine.checks_kubeadm_service import KubeadmChecksService
                from etcdtui.engine.flavour import NodeSsh

                self._checks = KubeadmChecksService(self._checks, s.ring, NodeSsh.of(s.settings.ssh))
        return self._checks

    # -- navigation (ui/navigation.Navigator) -------------------------------------------------------------
    def open_logs(self, member: str | None = None) -> bool:
        """The logs screen (all members, or `member`); False (and a notice) without a cluster."""
        self._start_log_engine()  # not yet started when asked for before the first complete table
        if self._logs is None:
            self.notify("logs need a live cluster connection", severity="warning", timeout=4, markup=False)
            return False
        from etcdtui.ui.screens.logs import LogsScreen

        self.push_screen(LogsScreen(self._logs, member=member, context=self.context_label or "cluster"))
        return True

    def open_checks(self) -> bool:
        from etcdtui.ui.screens.checks import ChecksScreen

        self.push_screen(ChecksScreen(self._checks_backend(), readonly=self.readonly,
                                      context=self.context_label or "cluster", hints=hints_of(self._services.ring)))
        return True

    def open_replace(self, node: str) -> bool:
        """The replace checklist of `node`; False (and a notice) without a cluster or in read-only mode.

        On a live cluster the variant is chosen first (ui/replace_variant.py): dead machine or corrupted member."""
        s = self._services
        if not self.readonly and s.conn is not None and s.procedures is None:
            self.run_worker(self._choose_replace(node), name="replace-variant", group="replace-variant",
                            exclusive=True, exit_on_error=False)
            return True
        screen = self._checklist_screen(node)
        if screen is None:
            self.notify("replacing needs a live cluster connection", severity="warning", markup=False)
            return False
        self.push_screen(screen)
        return True

    def open_defrag(self) -> bool:
        """The defragment checklist (followers first, the leader last; the NOSPACE way out when it is set)."""
        s = self._services
        if self.readonly or s.conn is None:
            self.notify("defragmenting needs a live cluster connection", severity="warning", markup=False)
            return False
        from etcdtui.engine.defrag import DefragSettings
        from etcdtui.ui.screens.defrag import DefragScreen, defrag_procedures_on

        self.push_screen(DefragScreen(defrag_procedures_on(s.conn, s.ring),
                                      DefragSettings(state_dir=s.replace_state_dir),
                                      context=self.context_label or "cluster"))
        return True

    async def _choose_replace(self, node: str) -> None:
        """Diagnose `node` with the engine's choice, say why, let the operator confirm, open that checklist."""
        from etcdtui.engine.dead_machine import diagnose
        from etcdtui.engine.dead_machine_run import DeadMachineRun, pending_repair, voting_members
        from etcdtui.engine.replace import fresh_snapshot
        from etcdtui.ui.replace_variant import resume_other_dialog, variant_dialog
        from etcdtui.ui.screens.replace_dead import DeadMachineScreen

        s, conn, context = self._services, self._services.conn, self.context_label or "cluster"
        assert conn is not None
        if await self._recovery_instead():
            return
        settings = self._replace_settings(node)
        if await asyncio.to_thread(_replace_pending, conn, s.replace_state_dir) == node:
            screen = self._checklist_screen(node)  # an interrupted replace resumes as it began: no new choice
            if screen is not None:
                self.push_screen(screen)
            return
        pending = await asyncio.to_thread(pending_repair, conn, s.replace_state_dir)
        if pending is not None:  # resumed, never diagnosed again: its journal holds what it began with
            if pending != node and not await self.push_screen(resume_other_dialog(pending, node, context),
                                                              wait_for_dismiss=True):
                return
            settings = self._replace_settings(pending)
            self.push_screen(DeadMachineScreen(lambda ask: DeadMachineRun(conn, s.ring, settings, ask, None),
                                               settings, context=context))
            return
        self.notify(f"looking at {node}: its Node, its etcd member, ssh to its machine…", timeout=5, markup=False)
        try:
            snap = await fresh_snapshot(s.ring)
            diagnosis = await diagnose(conn, snap, node, settings.kubeone, settings.ssh, s.namespace,
                                       flavour=s.settings.flavour)
        except Exception as exc:  # noqa: BLE001 - any adapter error is one line for the operator, never a crash
            self.notify(f"cannot tell how to replace {node}: {exc}".splitlines()[0], severity="error", timeout=15,
                        markup=False)
            return
        if not await self.push_screen(variant_dialog(node, context, diagnosis), wait_for_dismiss=True):
            return
        if diagnosis.dead:
            voting = voting_members(snap)
            self.push_screen(DeadMachineScreen(
                lambda ask: DeadMachineRun(conn, s.ring, settings, ask, diagnosis, voting), settings,
                context=context))
        elif (screen := self._checklist_screen(node)) is not None:
            self.push_screen(screen)

    async def _recovery_instead(self) -> bool:
        """Quorum lost (or a recovery unfinished): `R` recovers the ring from a snapshot instead of replacing a
        member. True when that path took over (opened, declined, or refused with a notice)."""
        from etcdtui.engine.recover_run import RecoverRun, pending_recovery
        from etcdtui.engine.snapshot import Verdict
        from etcdtui.ui.replace_variant import recover_dialog
        from etcdtui.ui.screens.recover import RecoverScreen

        s, conn, context = self._services, self._services.conn, self.context_label or "cluster"
        assert conn is not None
        snapshot = await asyncio.to_thread(pending_recovery, conn, s.replace_state_dir)
        if snapshot is None:
            latest = s.ring.latest
            if latest is None or latest.verdict is not Verdict.QUORUM_LOST:
                return False
            backups = self.backups()
            age = await asyncio.to_thread(backups.look) if backups is not None else None
            if age is None or age.newest is None:
                self.notify("quorum is lost and etcdtui knows no backup: `etcdtui recover --snapshot FILE` "
                            "(docs/recover.md)", severity="error", timeout=20, markup=False)
                return True
            if not await self.push_screen(recover_dialog(age, s.clock().timestamp(), context),
                                          wait_for_dismiss=True):
                return True
            snapshot = age.newest.path
        from etcdtui.engine.checks import KubeOneSettings

        kubeone, ssh, path = KubeOneSettings.of(s.settings.kubeone), s.settings.ssh, snapshot
        self.push_screen(RecoverScreen(
            lambda ask: RecoverRun(conn, s.ring, path, ask, kubeone=kubeone, ssh=ssh, state_dir=s.replace_state_dir,
                                   namespace=s.namespace, flavour=s.settings.flavour), path, context=context))
        return True

    def _replace_settings(self, node: str) -> ReplaceSettings:
        from etcdtui.engine.checks import KubeOneSettings
        from etcdtui.engine.replace import ReplaceSettings

        s = self._services
        return ReplaceSettings(node, KubeOneSettings.of(s.settings.kubeone), ssh=s.settings.ssh,
                               state_dir=s.replace_state_dir, flavour=s.settings.flavour)

    def _checklist_screen(self, node: str) -> ReplaceScreen | None:
        s = self._services
        if self.readonly or (s.conn is None and s.procedures is None):
            return None
        from etcdtui.ui.screens.replace import ReplaceScreen

        settings = self._replace_settings(node)
        procedures = s.procedures
        if procedures is None and s.conn is not None:
            procedures = _procedures_on(s.conn, s.ring)
        assert procedures is not None
        return ReplaceScreen(procedures, settings, context=self.context_label or "cluster")

    def refresh_source(self) -> bool:
        return refresh(self._services.ring)

    def backups(self) -> BackupBackend | None:
        """The cluster's backups (newest, take one now): the given fake, else the real one on a live cluster."""
        s = self._services
        if self._backups is None and s.conn is not None:
            from etcdtui.engine.backup_shelf import BackupShelf

            self._backups = BackupShelf(s.conn, s.ring, s.settings, state_dir=s.replace_state_dir,
                                        namespace=s.namespace)
        return self._backups

    def open_backup(self) -> bool:
        """`b`: a snapshot now (allowed read-only: it changes nothing in the cluster)."""
        backend = self.backups()
        if backend is None:
            self.notify("a backup needs a live cluster connection", severity="warning", markup=False)
            return False
        from etcdtui.ui.screens.backup import BackupScreen

        self.push_screen(BackupScreen(backend, context=self.context_label or "cluster"), self._backup_taken)
        return True

    def _backup_taken(self, result: object) -> None:
        if result is not None:
            from etcdtui.ui.widgets.backup_line import BackupLine

            self.ring.query_one(BackupLine).look()

    def action_back_to_fleet(self) -> None:
        """The context's engine keeps running in the fleet (ui/fleet_session.py); only this view closes."""
        self.exit(BACK_TO_FLEET)


def make_app(services: Services, open_at: Destination = RING_VIEW) -> EtcdTuiApp:
    """The one app factory (commands, snapshot tests, screenshots). A new command adds a `Destination`."""
    return EtcdTuiApp(services, open_at)


def _procedures_on(conn: ClusterConnection, ring: SnapshotSource) -> ProcedureFactory:
    """Real replace procedures on the live connection and the ring engine (their gates poll it)."""
    from etcdtui.engine.replace import ReplaceProcedure

    def build(settings: ReplaceSettings, interaction: Interaction) -> ReplaceProcedure:
        return ReplaceProcedure(conn, ring, settings, interaction)

    return build


def _replace_pending(conn: ClusterConnection, state: Path | None) -> str | None:
    """The node of this cluster's interrupted replace procedure (an unreadable journal: the checklist says why)."""
    from etcdtui.engine.replace_journal import Journal, JournalError

    try:
        pending = Journal.for_cluster(conn.context, conn.server, state).load()
    except JournalError:
        return None
    return pending.node if pending is not None else None


async def _run_engine(engine: LogEngine) -> None:
    await engine.start()
    try:
        await asyncio.Event().wait()  # until the app exits and cancels this worker
    finally:
        await engine.stop()
