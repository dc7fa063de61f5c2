"""Make `import kubernetes.aio...` load only the asyncio client.

The `kubernetes` package's `__init__` imports its whole synchronous client first (requests, urllib3,
oauthlib, the sync config loader, dynamic client, informers): about 0.2 s of CPU that etcdtui never
uses, paid by every `etcdtui check` (measured with `python -X importtime`; see docs/notes/kubernetes-aio.md).
`kubernetes.aio` itself imports nothing from the synchronous side, so we register the two packages as
plain namespace-like modules (their `__path__` only) and let Python load the submodules we name on
demand. A process that imported `kubernetes` already keeps it untouched.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

PACKAGES = ("kubernetes", "kubernetes.aio")


def load_aio_only() -> None:
    if any(name in sys.modules for name in PACKAGES):
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the real import will say so
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, path in zip(PACKAGES, (root, root / "aio"), strict=True):
        package = types.ModuleType(name, "imported by etcdtui without its __init__ (see etcdtui.cluster)")
        package.__path__ = [str(path)]
        package.__package__ = name
        sys.modules[name] = package
