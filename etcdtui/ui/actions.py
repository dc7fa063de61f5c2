"""The operator's actions on the ring view, shared by key bindings, the help screen and the command palette.

One table so the three never disagree. `mutating` actions disappear in read-only mode (like k9s, where
dangerous keys are not even bound).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    key: str
    name: str  # the screen's action name (`action_<name>`)
    title: str  # footer / palette title
    help: str
    mutating: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("l", "logs", "Logs", "logs of the selected member"),
    Action("L", "all_logs", "All logs", "logs of all members, merged"),
    Action("c", "checks", "Checks", "corruption checks: audit, and enable them"),
    Action(
        "R",
        "replace",
        "Replace",
        "replace the selected member (drain, reset, kubeone apply)",
        mutating=True,
    ),
    Action("d", "defrag", "Defrag", "defragment the members one at a time, the leader last (NOSPACE way out)",
           mutating=True),
    Action("b", "backup", "Backup", "take an etcd snapshot now (as `etcdtui backup`); the BACKUP line shows the "
           "newest one's age"),  # not mutating: it reads etcd's data, so --readonly keeps it
    Action("ctrl+r", "refresh", "Refresh", "poll etcdctl now instead of waiting for the interval"),
    Action("question_mark", "help", "Help", "this help"),
    Action("q", "quit", "Quit", "quit etcdtui"),
)


def visible(readonly: bool) -> tuple[Action, ...]:
    return tuple(a for a in ACTIONS if not (readonly and a.mutating))


def key_label(action: Action) -> str:
    return {"question_mark": "?", "ctrl+r": "ctrl+r"}.get(action.key, action.key)
