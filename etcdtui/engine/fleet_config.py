"""The `fleet:` section of config.yaml: which contexts the fleet watches and how many it checks at once.

Read without Textual (`etcdtui check --all-contexts` must start fast); the UI's config loader accepts the
key and leaves it to this module.

    fleet:
      contexts: ["prod-*", staging]   # names or shell globs over the kubeconfig's contexts
      concurrency: 8                  # contexts checked / started at the same time
      timeout: 20                     # seconds one context may take before it shows UNKNOWN
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etcdtui.engine.config_file import ConfigFileError, read_config_file

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64


class FleetConfigError(Exception):
    """One line, fit for stderr."""


@dataclass(frozen=True)
class FleetSettings:
    contexts: tuple[str, ...] = ()
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float | None = None


def load_fleet_settings(path: Path | None = None) -> FleetSettings:
    try:
        where, data = read_config_file(path)
    except ConfigFileError as exc:
        raise FleetConfigError(str(exc)) from None
    return parse_fleet(data.get("fleet"), f"{where}: fleet")


def parse_fleet(value: Any, where: str = "fleet") -> FleetSettings:
    if value is None:
        return FleetSettings()
    if not isinstance(value, dict) or set(value) - {"contexts", "concurrency", "timeout"}:
        raise FleetConfigError(f"{where}: expected a mapping with contexts, concurrency and/or timeout")
    contexts = value.get("contexts") or []
    if isinstance(contexts, str):
        contexts = [contexts]
    if not isinstance(contexts, list) or not all(isinstance(c, str) and c for c in contexts):
        raise FleetConfigError(f"{where}.contexts: expected a list of context names or globs")
    concurrency = value.get("concurrency", DEFAULT_CONCURRENCY)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise FleetConfigError(f"{where}.concurrency: a whole number from 1 to {MAX_CONCURRENCY}")
    timeout = value.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 < timeout <= 3600):
        raise FleetConfigError(f"{where}.timeout: seconds, more than 0 and at most 3600")
    return FleetSettings(tuple(contexts), concurrency, float(timeout) if timeout is not None else None)


def select_contexts(available: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The available contexts matching any pattern (a name or a shell glob), in kubeconfig order."""
    return [name for name in available if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
