"""What a screen may ask of the app: its services and where to go next.

Screens and widgets never import the app module (that was the UI's import circle). They cast `self.app` to
this Protocol with `navigator(self)`; `EtcdTuiApp` implements it. A new screen reachable from others adds
one `open_*` method here and on the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from etcdtui.ui.services import BackupBackend, Services


@dataclass(frozen=True)
class RingView:
    """Where a command opens the app: the ring view; `from_fleet`: Esc goes back to the fleet screen."""

    from_fleet: bool = False


@dataclass(frozen=True)
class ReplaceView:
    """`etcdtui replace NODE`: the checklist of `node` on top of the ring view (Esc goes there)."""

    node: str


Destination = RingView | ReplaceView
RING_VIEW = RingView()
FLEET_RING_VIEW = RingView(from_fleet=True)
BACK_TO_FLEET = -1  # the app's return value when Esc leaves a ring view opened from the fleet


class Navigator(Protocol):
    @property
    def services(self) -> Services: ...

    def open_logs(self, member: str | None = None) -> bool: ...

    def open_checks(self) -> bool: ...

    def open_replace(self, node: str) -> bool: ...

    def open_defrag(self) -> bool: ...

    def refresh_source(self) -> bool: ...

    def backups(self) -> BackupBackend | None: ...

    def open_backup(self) -> bool: ...


def navigator(node: DOMNode) -> Navigator:
    """The app of a screen or widget, as the interface screens use."""
    return cast("Navigator", node.app)
