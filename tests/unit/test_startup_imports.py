"""What the ring view's start-up pays for before its engine can start, and the collector paused meanwhile.

The ring view's first table waits on CPU, not on the network (benchmarks/startup.py): the engine must start
before Textual is imported, and the UI is imported on a thread while the first poll is out. Each test runs
a fresh interpreter, because this process has imported everything already.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from etcdtui import gc_pause

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


def test_the_pause_freezes_startup_and_turns_the_collector_back_on() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        gc_pause.pause()
        assert not gc.isenabled()
        gc_pause.resume()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen
        gc_pause.resume()  # idempotent
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_the_pause_leaves_a_collector_someone_else_turned_off_alone() -> None:
    gc.disable()
    try:
        gc_pause.pause()
        gc_pause.resume()
        assert not gc.isenabled()  # not ours to turn on
    finally:
        gc.enable()


def test_a_command_leaves_the_collector_on_even_when_it_fails() -> None:
    from etcdtui.cli import main

    assert main(["check", "--kubeconfig", "/nonexistent/etcdtui-test"]) == 3
    assert gc.isenabled()
