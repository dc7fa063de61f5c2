"""Pure pieces of the lab API server: AGE strings, patches, CRI log filtering and tailing, PDB arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from etcdtui.lab.api import eviction, logs, patch, tables
from etcdtui.lab.api.errors import ApiError
from etcdtui.lab.objects import ObjectStore

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"),
     (9 * 3600, "9h"), (50 * 3600, "2d2h"), (10 * 86400, "10d"), (800 * 86400, "2y70d")],
)
def test_age_like_kubectl(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def test_strategic_merge_patch_cordons_and_null_uncordons() -> None:
    node = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/24"}}
    cordoned = patch.apply_patch(node, "application/strategic-merge-patch+json", {"spec": {"unschedulable": True}})
    assert cordoned["spec"] == {"podCIDR": "10.0.0.0/24", "unschedulable": True}
    back = patch.apply_patch(cordoned, "application/merge-patch+json", {"spec": {"unschedulable": None}})
    assert back["spec"] == {"podCIDR": "10.0.0.0/24"}
    assert node["spec"] == {"podCIDR": "10.0.0.0/24"}  # the input is not modified


def test_json_patch_and_unknown_media_type() -> None:
    node = {"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {}}
    out = patch.apply_patch(node, "application/json-patch+json", [
        {"op": "add", "path": "/spec/unschedulable", "value": True},
        {"op": "remove", "path": "/metadata/labels/a"},
    ])
    assert out == {"metadata": {"name": "n", "labels": {}}, "spec": {"unschedulable": True}}
    with pytest.raises(ApiError) as info:
        patch.apply_patch(node, "application/json-patch+json", [{"op": "replace", "path": "/spec/missing", "value": 1}])
    assert info.value.code == 422
    with pytest.raises(ApiError) as info:
        patch.apply_patch(node, "application/apply-patch+yaml", {})
    assert info.value.code == 415


def test_parse_time_keeps_nanosecond_timestamps_ordered() -> None:
    a = logs.parse_time("2026-11-24T10:00:00.123456789Z")
    b = logs.parse_time("2026-11-24T10:00:00.1235Z")
    assert a is not None and b is not None and a < b
    assert a == datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC)
    assert logs.parse_time("yesterday") is None


def _query(**params: str) -> logs.LogQuery:
    class Req:
        query = params

    return logs.LogQuery(Req())  # type: ignore[arg-type]


def test_line_filter_strips_cri_prefix_joins_partials_and_limits_bytes() -> None:
    raw = (b"2026-11-24T10:00:00.1Z stderr F one\n"
           b"2026-11-24T10:00:01.1Z stderr P tw\n"
           b"2026-11-24T10:00:01.2Z stderr F o\n")
    assert logs.LineFilter(_query()).feed(raw) == b"one\ntwo\n"
    stamped = logs.LineFilter(_query(timestamps="true")).feed(raw[:37])
    assert stamped == b"2026-11-24T10:00:00.1Z one\n"
    since = logs.LineFilter(_query(sinceTime="2026-11-24T10:00:01Z")).feed(raw)
    assert since == b"two\n"
    limited = logs.LineFilter(_query(limitBytes="5"))
    assert limited.feed(raw) == b"one\nt" and limited.exhausted
    split = logs.LineFilter(_query())
    assert split.feed(raw[:10]) == b"" and split.feed(raw[10:]) == b"one\ntwo\n"


def test_tail_offset_reads_backwards_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "CHUNK", 7)  # force many chunks
    path = tmp_path / "0.log"
    lines = [f"line {i}\n".encode() for i in range(50)]
    path.write_bytes(b"".join(lines))
    for n in (0, 1, 3, 49, 50, 80):
        offset = logs.tail_offset(path, n)
        assert path.read_bytes()[offset:] == b"".join(lines[len(lines) - min(n, 50):])


def _pod(name: str, ready: bool) -> dict[str, object]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}}


def test_budget_refuses_with_429_only_while_it_would_be_violated() -> None:
    store = ObjectStore()
    store.create({"kind": "PodDisruptionBudget", "metadata": {"name": "x", "namespace": "default"},
                  "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}})
    store.create(_pod("a", True))
    store.create(_pod("b", True))
    assert eviction.check_eviction(store, "default", "a", None)["metadata"]["name"] == "a"
    store.delete("Pod", "default", "a")
    with pytest.raises(ApiError) as info:
        eviction.check_eviction(store, "default", "b", None)
    assert info.value.code == 429
    assert info.value.body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    store.create(_pod("c", False))
    with pytest.raises(ApiError):
        eviction.check_eviction(store, "default", "b", None)  # an unready replacement does not count
    assert eviction.check_eviction(store, "default", "c", None)  # evicting the unready one keeps the budget
    with pytest.raises(ApiError) as info:
        eviction.check_eviction(store, "default", "zz", None)
    assert info.value.code == 404
