"""KubeOne's plan text (kubeone-procedure §2.1, §2.6) → what "Enable" may answer yes to."""

from __future__ import annotations

import pytest

from etcdtui.engine.checks_plan import parse_plan

pytestmark = pytest.mark.unit

HEADER = ["The following actions will be taken: ", "Run with --verbose flag for more information.", ""]
FORCE = [
    '\t~ force upgrade control plane node "cp-1" (10.0.0.1): v1.32.4 -> 1.32.4',
    '\t~ force upgrade control plane node "cp-2" (10.0.0.2): v1.32.4 -> 1.32.4\r',
]


def test_force_upgrades_of_control_plane_nodes_only_are_safe() -> None:
    plan = parse_plan(["INFO[12:00:00 UTC] Running cluster probes...", *HEADER, *FORCE, ""])
    assert plan.safe and plan.hosts == ("cp-1", "cp-2") and plan.warnings() == []


@pytest.mark.parametrize(
    "extra",
    [
        '\t+ join control plane node "cp-3" (10.0.0.3) using 1.32.4',
        '\t~ force upgrade worker node "w-1" (10.0.1.1): v1.32.4 -> 1.32.4',
        "\t~ repairing the cluster; removing extra etcd members if needed",
        "\t! force-install option provided: force install new binary versions (!dangerous!)",
        "\t~ ensure embedded addons",
    ],
)
def test_anything_else_is_a_warning(extra: str) -> None:
    plan = parse_plan([*HEADER, *FORCE, extra])
    assert not plan.safe
    assert plan.warnings() == [f"not a control-plane force upgrade: {extra.strip()}"]


def test_a_version_change_is_not_enabling_the_checks() -> None:
    plan = parse_plan([*HEADER, '\t~ force upgrade control plane node "cp-1" (10.0.0.1): v1.31.9 -> 1.32.4'])
    assert not plan.safe
    assert "changes Kubernetes v1.31.9 -> 1.32.4" in plan.warnings()[0]


def test_no_plan_or_empty_plan_is_not_safe() -> None:
    assert parse_plan(["Error: something"]).warnings() == [
        "KubeOne printed no plan before its prompt: cannot tell what it would do"
    ]
    assert parse_plan(HEADER).warnings() == ["the plan lists no action"]


def test_only_the_last_plan_counts() -> None:
    first = [*HEADER, '\t+ join control plane node "cp-3" (10.0.0.3) using 1.32.4', ""]
    assert parse_plan([*first, *HEADER, *FORCE]).safe
