"""The fixed-data app factory shared by the UI tests (a module, not conftest, so it can be imported)."""

from __future__ import annotations

from etcdtui.engine.snapshot import RingSnapshot
from etcdtui.ui import fixtures
from etcdtui.ui.app import EtcdTuiApp, make_app
from etcdtui.ui.config import UiConfig

SIZE = (160, 45)


def fixed_app(*snapshots: RingSnapshot, readonly: bool = False, config: UiConfig | None = None) -> EtcdTuiApp:
    return make_app(
        fixtures.FixedSource(list(snapshots)),
        readonly=readonly,
        context_label="lab",
        config=config,
        clock=fixtures.clock,
    )
