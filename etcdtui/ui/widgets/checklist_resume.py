"""At startup: an interrupted replace procedure of this cluster is offered for resuming (never resumed silently).

Cheap on purpose (it runs at every start of the ring view): only the journal is read here; the checklist
screen and its adapters are imported when the operator accepts.
"""

from __future__ import annotations

from typing import Any

from etcdtui.core.checklist import STEP_TITLES
from etcdtui.engine.replace_journal import Journal, JournalError
from etcdtui.ui.widgets.checklist_dialogs import YesNoDialog


def offer_resume(app: Any) -> None:
    source = getattr(app, "source", None)
    conn = getattr(source, "conn", None)
    if conn is None or getattr(app, "readonly", False) or getattr(app, "replace_settings", None) is not None:
        return  # fixed data, read-only, or `etcdtui replace NODE` (its checklist resumes by itself)
    try:
        pending = Journal.for_cluster(conn.context, conn.server, getattr(app, "replace_state_dir", None)).load()
    except JournalError as exc:
        app.notify(f"cannot read the replace journal: {exc}", severity="warning", timeout=10, markup=False)
        return
    if pending is None:
        return
    nxt = pending.next_step()
    where = f"step {int(nxt)} ({STEP_TITLES[nxt]})" if nxt is not None else "its end"

    def decided(yes: bool | None) -> None:
        if not yes:
            return
        from etcdtui.ui.screens.replace import replace_screen_for

        screen = replace_screen_for(app, pending.node)
        if screen is not None:
            app.push_screen(screen)

    app.push_screen(YesNoDialog(
        title=f"Resume the replacement of {pending.node}?",
        text=f"A replace procedure of {pending.node} on this cluster was interrupted at {where}. "
             "Resume it exactly there? (Every step is idempotent: the interrupted one is run again.)",
        context=conn.context, yes="Resume", no="Not now"), decided)
