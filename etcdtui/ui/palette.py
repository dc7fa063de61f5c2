"""Severity and verdict colours, taken from the active Textual theme so every theme stays readable."""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style

from etcdtui.core.findings import Severity
from etcdtui.engine.snapshot import LinkState, Verdict

VERDICT_SEVERITY = {
    Verdict.HEALTHY: Severity.OK,
    Verdict.WARNING: Severity.WARNING,
    Verdict.CORRUPTION: Severity.CRITICAL,
    Verdict.QUORUM_LOST: Severity.CRITICAL,
    Verdict.UNKNOWN: Severity.INFO,
}

LINK_SEVERITY = {
    LinkState.CONNECTING: Severity.INFO,
    LinkState.LIVE: Severity.OK,
    LinkState.STALE: Severity.WARNING,
    LinkState.ERROR: Severity.CRITICAL,
}

_THEME_VARIABLE = {
    Severity.OK: "success",
    Severity.INFO: "foreground",
    Severity.WARNING: "warning",
    Severity.CRITICAL: "error",
}
_FALLBACK = {Severity.OK: "green", Severity.INFO: "default", Severity.WARNING: "yellow", Severity.CRITICAL: "red"}


class Palette:
    """Rich styles per severity, resolved once per theme (cells are Rich `Text`, not CSS)."""

    def __init__(self, theme_variables: Mapping[str, str]) -> None:
        self._colour = {
            sev: theme_variables.get(var) or _FALLBACK[sev] for sev, var in _THEME_VARIABLE.items()
        }
        self.muted = Style(dim=True)

    def colour(self, severity: Severity) -> str:
        return self._colour[severity]

    def style(self, severity: Severity | None, *, bold: bool = False) -> Style:
        if severity is None or severity is Severity.INFO:
            return Style(bold=bold)
        return Style(color=self._colour[severity], bold=bold or severity is Severity.CRITICAL)

    def badge(self, severity: Severity) -> Style:
        """A filled label (the verdict): background in the severity colour."""
        if severity is Severity.INFO:
            return Style(bold=True, reverse=True)
        text = "#ffffff" if severity is Severity.CRITICAL else "#000000"
        return Style(bgcolor=self._colour[severity], color=text, bold=True)
