"""The layout is the architecture: the core imports no UI or cluster library, adapters import no Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import etcdtui

pytestmark = pytest.mark.unit


def _modules(package: str) -> list[str]:
    pkg = __import__(package, fromlist=["__path__"])
    return [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages(pkg.__path__, prefix="") if not m.name.startswith("_")]


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import sys\n"
        f"for m in {modules!r}: __import__(m)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("etcdtui.core", {"textual", "kubernetes", "asyncssh", "aiohttp", "rich", "yaml"}),
        ("etcdtui.cluster", {"textual"}),
        ("etcdtui.engine", {"textual"}),
        ("etcdtui.headless", {"textual"}),
    ],
)
def test_layer_does_not_load(package: str, forbidden: set[str]) -> None:
    modules = _modules(package)
    loaded = _loaded_after_import(modules)
    assert not (loaded & forbidden), f"{package} loads {sorted(loaded & forbidden)}"


def test_the_boundary_test_can_fail() -> None:
    # Guard against a vacuous check: importing the UI package must load textual.
    assert "textual" in _loaded_after_import(["textual"])
    assert etcdtui.__version__
