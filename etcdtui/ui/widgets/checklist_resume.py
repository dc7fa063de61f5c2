"""At startup: an interrupted replace procedure (or dead-machine repair) of this cluster is offered for resuming (never resumed silently).

Cheap on purpose (it runs at every start of the ring view): only the journal is read here; the checklist
screen and its adapters are imported when the operator accepts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from etcdtui.core.checklist import STEP_TITLES
from etcdtui.engine.replace_journal import Journal, JournalError
from etcdtui.ui.widgets.checklist_dialogs import YesNoDialog

if TYPE_CHECKING:
    from textual.app import App

    from etcdtui.ui.navigation import Navigator


def offer_resume(app: App[int]) -> None:
    """Ask whether to resume the cluster's unfinished procedure; `app` is the (Navigator) app."""
    nav = cast("Navigator", app)
    services = nav.services
    conn = services.conn
    if conn is None or services.readonly:
        return  # fixed data, or read-only
    try:
        pending = Journal.for_cluster(conn.context, conn.server, services.replace_state_dir).load()
    except JournalError as exc:
        app.notify(f"cannot read the replace journal: {exc}", severity="warning", timeout=10, markup=False)
        return
    if pending is None:
        _offer_repair(app, nav)
        return
    nxt = pending.next_step()
    where = f"step {int(nxt)} ({STEP_TITLES[nxt]})" if nxt is not None else "its end"

    def decided(yes: bool | None) -> None:
        if yes:
            nav.open_replace(pending.node)

    app.push_screen(YesNoDialog(
        title=f"Resume the replacement of {pending.node}?",
        text=f"A replace procedure of {pending.node} on this cluster was interrupted at {where}. "
             "Resume it exactly there? (Every step is idempotent: the interrupted one is run again.)",
        context=conn.context, yes="Resume", no="Not now"), decided)


def _offer_repair(app: App[int], nav: Navigator) -> None:
    """The same offer for an unfinished dead-machine repair (its journal is the headless command's too)."""
    conn = nav.services.conn
    assert conn is not None
    if not Journal.for_cluster(conn.context, conn.server, nav.services.replace_state_dir, "repair").exists():
        return  # the usual case: nothing heavier is imported
    from etcdtui.engine.dead_machine_run import pending_repair

    node = pending_repair(conn, nav.services.replace_state_dir)
    if node is None:
        return

    def decided(yes: bool | None) -> None:
        if yes:
            nav.open_replace(node)

    app.push_screen(YesNoDialog(
        title=f"Resume the dead-machine repair of {node}?",
        text=f"A dead-machine repair of {node} on this cluster was interrupted. Resume it where it stopped? "
             "(Every step looks at what is already done first.)", context=conn.context, yes="Resume",
        no="Not now"), decided)
