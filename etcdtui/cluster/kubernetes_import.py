"""Make `import kubernetes.aio...` load only the asyncio client, and aiohttp without its unused CA bundles.

The `kubernetes` package's `__init__` imports its whole synchronous client first (requests, urllib3,
oauthlib, the sync config loader, dynamic client, informers): about 0.2 s of CPU that etcdtui never
uses, paid by every `etcdtui check` (measured with `python -X importtime`; see docs/notes/kubernetes-aio.md).
`kubernetes.aio` itself imports nothing from the synchronous side, so we register the two packages as
plain namespace-like modules (their `__path__` only) and let Python load the submodules we name on
demand. A process that imported `kubernetes` already keeps it untouched.

aiohttp builds two default TLS contexts when it is imported, each loading the system's CA bundle (~40 ms
of a `check`). etcdtui never uses them: the kubernetes client passes its own context, built from the
kubeconfig's CA (or, without one, from the system's CAs when it connects). So aiohttp is imported while
OpenSSL's CA path variables point nowhere: its defaults trust nothing (a mistaken use fails closed) and the
variables are restored at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
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
    packages = []
    for name, path in zip(PACKAGES, (root, root / "aio"), strict=True):
        package = types.ModuleType(name, "imported by etcdtui without its __init__ (see etcdtui.cluster)")
        package.__path__ = [str(path)]
        package.__package__ = name
        sys.modules[name] = package
        packages.append(package)
    packages[0].aio = packages[1]  # type: ignore[attr-defined]  # `kubernetes.aio.client.models` lookups


_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def import_aiohttp_without_default_cas() -> None:
    if "aiohttp" in sys.modules:
        return
    saved = {name: os.environ.get(name) for name in _CA_VARIABLES}
    os.environ.update({name: "/nonexistent/etcdtui-unused-ca" for name in _CA_VARIABLES})
    try:
        importlib.import_module("aiohttp")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
