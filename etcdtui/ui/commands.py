"""Command palette (ctrl+p): the ring view's actions by name, the same table as the keys."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from etcdtui.ui.actions import Action, key_label, visible
from etcdtui.ui.screens.ring import RingScreen


class RingCommands(Provider):
    def _actions(self) -> tuple[Action, ...]:
        if not isinstance(self.screen, RingScreen):
            return ()  # only the ring view has these actions
        return visible(self.screen.readonly)

    def _title(self, action: Action) -> str:
        return f"{action.title}: {action.help} [{key_label(action)}]"

    async def _run(self, action: Action) -> None:
        await self.screen.run_action(action.name)

    async def discover(self) -> Hits:
        for action in self._actions():
            yield DiscoveryHit(self._title(action), partial(self._run, action), help=action.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action in self._actions():
            title = self._title(action)
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=action.help)
