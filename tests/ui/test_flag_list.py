"""The detail panel's flag list: one flag a line, never broken inside a name, values elided in the middle only
when they do not fit, key flags whole, the full value reachable (selection shows it below, and as the tooltip)."""

from __future__ import annotations

import fixed_ring as fixtures
import pytest
from rich.cells import cell_len
from textual.widgets import Static
from ui_support import SIZE, fixed_app, until

from etcdtui.ui.widgets.flag_list import ELLIPSIS, FlagList, elide_middle, flag_lines

pytestmark = pytest.mark.ui

NARROW = (120, 45)
CA_FLAG = "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"
URL = "https://10.0.0.12:2380"


def test_a_value_is_cut_in_its_middle_keeping_its_start_and_a_whole_last_part() -> None:
    assert elide_middle(URL, 19) == "https://10.0.…:2380"
    cut = elide_middle(URL, 18)
    assert cell_len(cut) == 18 and cut.startswith("https://10.0") and cut.endswith("…:2380")
    assert elide_middle("/etc/kubernetes/pki/etcd/ca.crt", 20).endswith("…/ca.crt")
    assert elide_middle(URL, len(URL)) == URL


def test_only_values_are_elided_and_only_when_the_flag_does_not_fit() -> None:
    assert flag_lines(CA_FLAG, len(CA_FLAG)) == [CA_FLAG]
    (line,) = flag_lines(CA_FLAG, 40)
    assert cell_len(line) == 40 and line.startswith("--trusted-ca-file=/etc/") and line.endswith("…/ca.crt")
    # Too little room after the name: the value moves to its own line, the name stays whole.
    name_line, value_line = flag_lines("--listen-peer-urls=" + URL, 24)
    assert name_line == "--listen-peer-urls=" and value_line.strip().endswith(":2380")
    assert flag_lines("--client-cert-auth", 5) == ["--client-cert-auth"]


def test_key_flags_are_never_elided_only_continued_at_token_boundaries() -> None:
    flag = "--experimental-compact-hash-check-enabled=true"
    assert flag_lines(flag, 46, whole=True) == [flag]
    assert flag_lines(flag, 45, whole=True) == ["--experimental-compact-hash-check-enabled=", "  true"]
    gates = "--feature-gates=InitialCorruptCheck=true,CompactHashCheck=true"
    lines = flag_lines(gates, 42, whole=True)
    assert lines == ["--feature-gates=InitialCorruptCheck=true,", "  CompactHashCheck=true"]
    assert ELLIPSIS not in "".join(lines)


async def _victim_selected(pilot, app) -> FlagList:  # type: ignore[no-untyped-def]
    await until(pilot, "the first snapshot", lambda: app.ring.snapshots_applied >= 1)
    await pilot.press("down")
    flags = app.ring.query_one(FlagList)
    await until(pilot, "the victim's flags", lambda: CA_FLAG in flags.flags)
    return flags


async def test_the_full_value_of_an_elided_flag_is_shown_on_selection_and_as_tooltip() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=NARROW) as pilot:
        flags = await _victim_selected(pilot, app)
        full = app.ring.query_one("#detail-flag-full", Static)
        # The key flags come first and are shown whole: nothing to show below for them.
        assert flags.highlighted_flag == "--experimental-initial-corrupt-check=true"
        assert not full.display
        flags.focus()
        await pilot.press("end")
        await until(pilot, "the full CA path below the list", lambda: full.display)
        assert flags.highlighted_flag == CA_FLAG and flags.tooltip == CA_FLAG
        shown = str(full.render())
        assert "/etc/kubernetes/pki/etcd/ca.crt" in shown and "--trusted-ca-file=" in shown
        prompt = str(flags.get_option_at_index(flags.option_count - 1).prompt)
        assert ELLIPSIS in prompt and prompt.endswith("/ca.crt")
        # Wide enough again: the flag fits, nothing is elided, the extra line goes away.
        await pilot.resize_terminal(200, 45)
        await until(pilot, "the list refitted to the new width", lambda: not full.display)
        assert str(flags.get_option_at_index(flags.option_count - 1).prompt) == CA_FLAG


async def test_hovering_a_flag_gives_it_in_full_as_tooltip() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=NARROW) as pilot:
        flags = await _victim_selected(pilot, app)
        index = flags.flags.index(CA_FLAG)
        await pilot.hover(flags, offset=(3, index + 1))  # the compaction flag above takes two lines
        await until(pilot, "the hovered flag as tooltip", lambda: flags.tooltip == CA_FLAG)
        assert flags.highlighted_flag != CA_FLAG  # hovering does not select


async def test_a_click_on_a_flag_selects_it() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=NARROW) as pilot:
        flags = await _victim_selected(pilot, app)
        index = flags.flags.index("--key-file=/etc/kubernetes/pki/etcd/server.key")
        # The key flags take one line each at this width but the compaction one, which takes two.
        line = index + 1
        await pilot.click(flags, offset=(3, line))
        await until(pilot, "the clicked flag in full", lambda: flags.highlighted_flag == flags.flags[index])
        assert "/etc/kubernetes/pki/etcd/server.key" in str(app.ring.query_one("#detail-flag-full", Static).render())


async def test_at_the_normal_width_the_key_flags_take_one_line_and_only_what_does_not_fit_is_elided() -> None:
    app = fixed_app(fixtures.corrupted_ring())
    async with app.run_test(size=SIZE) as pilot:
        flags = await _victim_selected(pilot, app)
        width = flags.scrollable_content_region.width
        prompts = {flag: str(flags.get_option_at_index(i).prompt) for i, flag in enumerate(flags.flags)}
        assert list(prompts)[:3] == list(fixtures.FLAGS_ON[-3:])
        for flag, prompt in prompts.items():
            assert prompt == flag if cell_len(flag) <= width else (ELLIPSIS in prompt and cell_len(prompt) == width)
        assert sum(ELLIPSIS in prompt for prompt in prompts.values()) == 1  # the CA path, 50 cells
