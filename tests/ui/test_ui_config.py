"""The UI config file (docs/config.md): defaults, per-context accent/readonly, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import fixed_ring as fixtures
import pytest
from ui_support import SIZE, fixed_app

from etcdtui.ui.config import ConfigError, config_path, load_config, parse_config

pytestmark = pytest.mark.ui


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.yaml")
    assert config.theme is None and not config.readonly and config.accent_for("lab") is None


def test_path_follows_xdg_config_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "etcdtui" / "config.yaml"


def test_full_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "theme: nord\nreadonly: true\ncontexts:\n  prod:\n    accent: red\n  lab:\n    accent: '#00ff00'\n"
        "    readonly: false\n"
    )
    config = load_config(path)
    assert config.theme == "nord"
    assert config.accent_for("prod") == "#FF0000" and config.accent_for("lab") == "#00FF00"
    assert config.readonly_for("prod") is True  # inherits the top level
    assert config.readonly_for("lab") is False  # the context overrides it
    assert config.accent_for("other") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("theme: [", "not valid YAML (line 1)"),
        ("- a\n- b\n", "expected a mapping"),
        ("colour: red\n", "unknown key(s) colour"),
        ("theme: neon\n", "unknown theme 'neon'"),
        ("readonly: maybe\n", "readonly must be true or false"),
        ("contexts:\n  prod:\n    accent: not-a-colour\n", "contexts.prod.accent: not a colour"),
        ("contexts:\n  prod:\n    acent: red\n", "contexts.prod: unknown key(s) acent"),
        ("contexts: [a]\n", "contexts must be a mapping"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and "\n" not in str(info.value)


async def test_theme_and_accent_reach_the_app() -> None:
    config = parse_config({"theme": "gruvbox", "contexts": {"lab": {"accent": "#d70000"}}})
    app = fixed_app(fixtures.healthy_ring(), config=config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "gruvbox"
        assert app.get_css_variables()["context-accent"] == "#D70000"
        header = app.ring.query_one("#ring-header")
        assert header.styles.border_bottom[1].hex.upper() == "#D70000"


async def test_without_accent_the_theme_accent_is_used() -> None:
    app = fixed_app(fixtures.healthy_ring())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        variables = app.get_css_variables()
        assert variables["context-accent"] == variables["accent"]


def test_log_buffer_bounds_from_the_config() -> None:
    config = parse_config({"logs": {"max_lines": 200000, "max_bytes": 64 * 1024 * 1024}})
    assert (config.log_max_lines, config.log_max_bytes) == (200000, 64 * 1024 * 1024)
    assert (parse_config({}).log_max_lines, parse_config({}).log_max_bytes) == (None, None)
    for bad in ({"max_lines": 0}, {"max_lines": "lots"}, {"max_bytes": True}, {"lines": 5}, [1]):
        with pytest.raises(ConfigError, match="logs"):
            parse_config({"logs": bad})
