"""The layout is the architecture, and these tests hold it (each one proves it can fail):

* the core imports no UI or cluster library, adapters and engine import no Textual (checked by importing);
* layers ui|headless → engine → cluster → core, and nothing outside `etcdtui.lab` imports the lab
  (import-linter contracts in pyproject.toml);
* no import cycle anywhere in `etcdtui` (in particular none inside `etcdtui.ui`), typing-only imports aside.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

import etcdtui

pytestmark = pytest.mark.unit

ROOT = Path(etcdtui.__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    pkg = __import__(package, fromlist=["__path__"])
    return [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]


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


def test_the_loading_check_can_fail() -> None:
    """Proven on real product modules: the UI's app loads Textual, and subpackages are walked too."""
    assert "textual" in _loaded_after_import(["etcdtui.ui.app"])
    assert {"etcdtui.core.ring.assess", "etcdtui.engine.replace.step_apply"} <= set(
        _modules("etcdtui.core") + _modules("etcdtui.engine"))


# -- import-linter contracts --------------------------------------------------------------------------------
def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_import_contracts_can_fail(tmp_path: Path) -> None:
    """A copy of the package where the engine imports the lab and the core imports the engine: both broken."""
    shutil.copytree(ROOT / "etcdtui", tmp_path / "etcdtui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    checks = tmp_path / "etcdtui" / "engine" / "checks.py"
    checks.write_text(checks.read_text() + "\nfrom etcdtui.lab.layout import LabLayout  # noqa\n")
    quorum = tmp_path / "etcdtui" / "core" / "quorum.py"
    quorum.write_text(quorum.read_text() + "\nimport etcdtui.engine.snapshot  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "0 kept, 2 broken" in result.stdout, result.stdout[-3000:]
    assert "etcdtui.engine.checks -> etcdtui.lab.layout" in result.stdout


# -- no import cycles ---------------------------------------------------------------------------------------
def _import_graph(root: Path, overrides: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """Module → the etcdtui modules it imports (any level, lazy ones too; `if TYPE_CHECKING:` blocks excluded)."""
    paths = {}
    for path in (root / "etcdtui").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        source = (overrides or {}).get(name, path.read_text())
        deps: set[str] = set()
        stack: list[ast.AST] = [ast.parse(source)]
        while stack:
            node = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    stack.extend(child.orelse)
                    continue
                if isinstance(child, ast.Import):
                    deps |= {a.name for a in child.names}
                elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                    deps |= {child.module} | {f"{child.module}.{a.name}" for a in child.names}
                stack.append(child)
        graph[name] = {d for d in deps if d in paths and d != name}
    return graph


def _cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles(_import_graph(ROOT))
    assert not [c for c in cycles if any(m.startswith("etcdtui.ui.") for m in c)], f"cycle in etcdtui.ui: {cycles}"
    assert not cycles


def test_the_cycle_check_can_fail() -> None:
    """The circle issue 17 removed: a screen importing the app back (even lazily, inside a method)."""
    ring = ROOT / "etcdtui" / "ui" / "screens" / "ring.py"
    source = ring.read_text() + "\n\ndef _app() -> None:\n    from etcdtui.ui.app import EtcdTuiApp  # noqa\n"
    cycles = _cycles(_import_graph(ROOT, {"etcdtui.ui.screens.ring": source}))
    assert any({"etcdtui.ui.app", "etcdtui.ui.screens.ring"} <= set(c) for c in cycles), cycles
    typing_only = ring.read_text().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from etcdtui.ui.app import EtcdTuiApp  # noqa\n", 1)
    assert not _cycles(_import_graph(ROOT, {"etcdtui.ui.screens.ring": typing_only}))
