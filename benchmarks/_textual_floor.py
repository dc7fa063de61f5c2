"""The floor under the ring view's start-up: a minimal Textual app that paints a 3-row DataTable with the same
columns the ring view's table has, from constants (no cluster, no etcdtui screens). With `--with-client` it
first imports the Kubernetes asyncio client and aiohttp the way etcdtui does (`etcdtui.cluster.kube`), without
connecting: what any Textual program talking to the API pays before its first request.
benchmarks/startup.py times both in the same pseudo-terminal, as the peers of `etcdtui`."""

from __future__ import annotations

import sys

if "--with-client" in sys.argv:
    import etcdtui.cluster.kube  # noqa: F401

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

COLUMNS = ("NAME", "READY", "STATUS", "RESTARTS", "VERSION", "MEMBER ID", "LEADER", "HASH")
ROWS = [(f"etcd-floor-cp-{i}", "1/1", "Running", "0", "3.5.1", f"{i:x}" * 16, "★" if i == 1 else "", "✓ equal")
        for i in (1, 2, 3)]


class Floor(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(ROWS)


if __name__ == "__main__":
    Floor().run()
