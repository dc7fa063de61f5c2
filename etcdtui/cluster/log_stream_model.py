"""What a pod log stream reports: its state, where a line came from, the sink it hands lines to, the container it reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

QUIET_AFTER = 30.0  # seconds without a line: "quiet" (etcd logs little when nothing happens)


class StreamState(enum.StrEnum):
    CONNECTING = "connecting"
    HISTORY = "history"
    LIVE = "live"
    QUIET = "quiet"
    RECONNECTING = "reconnecting"
    WAITING = "waiting"  # the container is not running (yet): waiting for it to start
    ENDED = "ended"
    ERROR = "error"


class Origin(enum.StrEnum):
    PREVIOUS = "previous"  # the previous container's history
    HISTORY = "history"  # the current container before we caught up
    LIVE = "live"


class LogSink(Protocol):
    def lines(self, member: str, lines: list[bytes], origin: Origin) -> None: ...

    def marker(self, member: str, kind: str, text: str, ts: float | None) -> None: ...

    def history_done(self, member: str) -> None: ...

    def state_changed(self, member: str) -> None: ...


@dataclass
class StreamStatus:
    state: StreamState = StreamState.CONNECTING
    reason: str = ""
    since: float = 0.0  # wall clock of the last state change
    container_id: str | None = None
    restarts_seen: int = 0
    reconnects: int = 0
    gaps: int = 0
    duplicates_skipped: int = 0
    long_lines_cut: int = 0
    history_bytes: int = 0
    history_lines: int = 0
    history_done: bool = False
    history_cancelled: bool = False
    bytes: int = 0
    lines: int = 0
    last_line_at: float = 0.0  # monotonic

    def shown_state(self, now: float) -> StreamState:
        if self.state is StreamState.LIVE and self.last_line_at and now - self.last_line_at > QUIET_AFTER:
            return StreamState.QUIET
        return self.state


@dataclass(frozen=True)
class ContainerInfo:
    container_id: str | None
    running: bool
    terminated_reason: str | None
    exit_code: int | None
    previous_id: str | None  # lastState.terminated.containerID
    pod_gone: bool = False


def container_info(pod: dict[str, Any], container: str | None) -> ContainerInfo:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    chosen = next((s for s in statuses if container is None or s.get("name") == container), None)
    if chosen is None:
        return ContainerInfo(None, False, None, None, None)
    state = chosen.get("state") or {}
    last = (chosen.get("lastState") or {}).get("terminated") or {}
    terminated = state.get("terminated") or last
    return ContainerInfo(
        container_id=chosen.get("containerID") or None,
        running="running" in state,
        terminated_reason=terminated.get("reason"),
        exit_code=terminated.get("exitCode"),
        previous_id=last.get("containerID"),
    )


def exit_text(info: ContainerInfo) -> str:
    parts = [p for p in (info.terminated_reason, f"exit code {info.exit_code}" if info.exit_code is not None else None)
             if p]
    return ", ".join(parts)


def short_id(container_id: str | None) -> str:
    if not container_id:
        return "?"
    return container_id.rpartition("//")[2][:12]
