"""`R` on a node (and `etcdtui replace NODE`): which replace procedure fits, said with its reasons, confirmed.

The choice is the engine's (`engine.dead_machine.diagnose`, the one the headless command prints): the machine
is gone when ssh does not answer and its member is unreachable or its Node NotReady/gone. Then the dead-machine
checklist; else the corrupted-member checklist. Either way the operator sees what was found and confirms the
variant before any checklist opens. An unfinished dead-machine repair of the node is resumed without asking
again (its journal holds the diagnosis it began with); `R` on another node offers that repair first (its
member and Node may be gone from the ring view by then; one procedure per cluster).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcdtui.ui.widgets.checklist_dialogs import YesNoDialog

if TYPE_CHECKING:
    from etcdtui.engine.dead_machine import Diagnosis

DEAD = ("Variant: dead machine (KubeOne's manual cluster repair). Nothing to drain or reset: the dead member is "
        "removed from etcd, the Node deleted, then you provision a fresh machine at the same address and "
        "kubeone apply joins it.")
ALIVE = ("Variant: corrupted member on a live machine (KubeOne's replace procedure): drain, kubeadm reset, "
         "delete the Node, kubeone apply.")


def variant_dialog(node: str, context: str, diagnosis: Diagnosis) -> YesNoDialog:
    found = "\n".join(f"  • {reason}" for reason in diagnosis.reasons)
    return YesNoDialog(
        title=f"Replace {node}: " + ("its machine is gone" if diagnosis.dead else "its machine answers"),
        text=f"What etcdtui found:\n{found}\n\n{DEAD if diagnosis.dead else ALIVE}",
        context=context, yes="Open this checklist", no="Cancel")


def resume_other_dialog(pending: str, node: str, context: str) -> YesNoDialog:
    return YesNoDialog(
        title=f"Resume the dead-machine repair of {pending}?",
        text=f"A dead-machine repair of {pending} on this cluster is unfinished (its member and Node may already "
             f"be gone from the ring view). It must end before {node} can be replaced: resume it where it "
             "stopped?", context=context, yes="Resume", no="Cancel")
