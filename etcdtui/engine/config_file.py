"""config.yaml (`$XDG_CONFIG_HOME/etcdtui/config.yaml`, docs/config.md), read in one place.

Each layer parses only its own keys from the one document: the UI its theme, accents and log bounds
(`ui/config.py`), the engine the per-context cluster settings (`engine/context_settings.py`) and the
fleet (`engine/fleet_config.py`). A missing file is an empty document; one that exists but cannot be read
or is not a YAML mapping is a `ConfigFileError` with one line, because silently ignoring `readonly: true`
or a context's known_hosts would be worse than refusing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """One line, fit for stderr."""


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "etcdtui" / "config.yaml"


def read_config_file(path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The file's path and its top-level mapping ({} when the file does not exist or is empty)."""
    path = path or config_file()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return path, {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigFileError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return path, {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: expected a mapping at the top level")
    return path, data
