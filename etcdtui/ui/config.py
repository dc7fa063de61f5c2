"""The user's settings in `$XDG_CONFIG_HOME/etcdtui/config.yaml` (format in docs/config.md), as the UI sees them.

The file is read by `engine/config_file.py`; this module parses the UI's keys (theme, accents, read-only,
log bounds) and takes the per-context cluster settings from the engine's parser, so the app and the
headless commands resolve a context the same way. A missing file means defaults; a file that exists but
is wrong is a `ConfigError` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etcdtui.engine.config_file import ConfigFileError, config_file, read_config_file
from etcdtui.engine.context_settings import KEYS as CLUSTER_KEYS
from etcdtui.engine.context_settings import ConfiguredClusters, SettingsError, configured_clusters


class ConfigError(Exception):
    """One line, fit for stderr."""


@dataclass(frozen=True)
class ContextSettings:
    accent: str | None = None
    readonly: bool | None = None


@dataclass(frozen=True)
class UiConfig:
    theme: str | None = None
    readonly: bool = False
    contexts: Mapping[str, ContextSettings] = field(default_factory=dict)
    path: Path | None = None
    clusters: ConfiguredClusters = ConfiguredClusters()  # kubeone, ssh, flavour per context (the engine's parser)
    # `logs: {max_lines, max_bytes}`: the log buffer's bounds (None: the store's defaults, about a day of a busy ring)
    log_max_lines: int | None = None
    log_max_bytes: int | None = None

    def accent_for(self, context: str) -> str | None:
        settings = self.contexts.get(context)
        return settings.accent if settings else None

    def readonly_for(self, context: str) -> bool:
        settings = self.contexts.get(context)
        if settings and settings.readonly is not None:
            return settings.readonly
        return self.readonly


def config_path() -> Path:
    return config_file()


def load_config(path: Path | None = None) -> UiConfig:
    try:
        where, data = read_config_file(path)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(data, where) if data else UiConfig()


def parse_config(data: Any, path: Path | None = None) -> UiConfig:
    where = str(path) if path else "config"
    if data is None:
        return UiConfig(path=path)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    unknown = set(data) - {"theme", "readonly", "contexts", "kubeone", "logs", "fleet"}  # fleet: engine.fleet_config
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    theme = data.get("theme")
    if theme is not None and (not isinstance(theme, str) or theme not in _builtin_themes()):
        raise ConfigError(f"{where}: unknown theme {theme!r} (one of: {', '.join(sorted(_builtin_themes()))})")
    readonly = data.get("readonly", False)
    if not isinstance(readonly, bool):
        raise ConfigError(f"{where}: readonly must be true or false")
    contexts_raw = data.get("contexts") or {}
    if not isinstance(contexts_raw, dict):
        raise ConfigError(f"{where}: contexts must be a mapping of context name to settings")
    contexts = {str(name): _context(str(name), value, where) for name, value in contexts_raw.items()}
    try:
        clusters = configured_clusters(data, where)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    max_lines, max_bytes = _log_bounds(data.get("logs"), f"{where}: logs")
    return UiConfig(theme=theme, readonly=readonly, contexts=contexts, path=path, clusters=clusters,
                    log_max_lines=max_lines, log_max_bytes=max_bytes)


def _log_bounds(value: Any, where: str) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) - {"max_lines", "max_bytes"}:
        raise ConfigError(f"{where}: expected a mapping with max_lines and/or max_bytes")
    bounds: list[int | None] = []
    for key in ("max_lines", "max_bytes"):
        number = value.get(key)
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number <= 0):
            raise ConfigError(f"{where}: {key} must be a positive whole number")
        bounds.append(number)
    return bounds[0], bounds[1]


def _context(name: str, value: Any, where: str) -> ContextSettings:
    if value is None:
        return ContextSettings()
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: contexts.{name} must be a mapping")
    unknown = set(value) - {"accent", "readonly", *CLUSTER_KEYS}
    if unknown:
        raise ConfigError(f"{where}: contexts.{name}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    accent = value.get("accent")
    if accent is not None:
        try:
            accent = _colour_hex(str(accent))
        except ValueError:
            raise ConfigError(f"{where}: contexts.{name}.accent: not a colour: {accent!r}") from None
    readonly = value.get("readonly")
    if readonly is not None and not isinstance(readonly, bool):
        raise ConfigError(f"{where}: contexts.{name}.readonly must be true or false")
    return ContextSettings(accent=accent, readonly=readonly)


# Textual is imported only for a config that names a theme or a colour: the ring view imports it once the
# engine's first requests are out (ui/session.py), and a plain config must not pull it in before.
def _builtin_themes() -> Mapping[str, object]:
    from textual.theme import BUILTIN_THEMES

    return BUILTIN_THEMES


def _colour_hex(text: str) -> str:
    """Raises ValueError for what is not a colour."""
    from textual.color import Color, ColorParseError

    try:
        return Color.parse(text).hex
    except ColorParseError as exc:
        raise ValueError(str(exc)) from None
