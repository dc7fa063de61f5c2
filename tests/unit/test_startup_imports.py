"""What the ring view's start-up pays for before its engine can start (docs/notes/startup.md).

The engine's first requests go out before Textual is imported, so the cluster works on them while the UI
loads; and `etcdtui` parses its arguments without importing the other commands. Each test runs a fresh
interpreter, because this process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def _modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_ui_command_parses_without_the_other_commands_or_textual() -> None:
    loaded = _modules_after("from etcdtui.cli import _FAST_COMMANDS, build_parser\n"
                            "build_parser(_FAST_COMMANDS['ui']).parse_args(['ui'])")
    assert "etcdtui.ui.launch" in loaded
    assert not {"etcdtui.lab.cli", "etcdtui.headless.check", "etcdtui.headless.scan_logs",
                "etcdtui.headless.exporter", "textual"} & loaded


def test_the_engine_starts_before_textual_is_imported() -> None:
    """Everything `run_command` imports before the engine's first requests go out (ui/session.py)."""
    loaded = _modules_after("import etcdtui.ui.launch, etcdtui.ui.session\n"
                            "from etcdtui.ui.config import load_config; load_config()\n"
                            "import etcdtui.cluster.kube, etcdtui.engine.ring_engine")
    assert "textual" not in loaded
    assert "rich" not in loaded


def test_a_config_naming_a_theme_still_checks_it() -> None:
    from etcdtui.ui.config import ConfigError, parse_config

    assert parse_config({"theme": "nord"}).theme == "nord"
    with pytest.raises(ConfigError, match="unknown theme 'neon'"):
        parse_config({"theme": "neon"})
