"""Member IDs: hex in logs, decimal uint64 in etcdctl JSON, one canonical form."""

from __future__ import annotations

import pytest

from etcdtui.core import ids

pytestmark = pytest.mark.unit


def test_decimal_from_etcdctl_matches_hex_in_logs() -> None:
    # Same member, observed on etcd 3.5.1: etcdctl `member_id` 13144645163086586166 is `b66b2921ec552136` in logs.
    assert ids.from_decimal(13144645163086586166) == "b66b2921ec552136"
    assert ids.normalize(13144645163086586166) == ids.normalize("b66b2921ec552136")
    assert ids.from_decimal("407288052626896413") == "5a6fa537216361d"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("5A6FA537216361D", "5a6fa537216361d"), ("0x05a6fa537216361d", "5a6fa537216361d"), (" 00ab ", "ab"),
     ("0", "0"), ("0000", "0"), ("ffffffffffffffff", "ffffffffffffffff")],
)
def test_hex_forms(raw: str, canonical: str) -> None:
    assert ids.from_hex(raw) == canonical


@pytest.mark.parametrize("bad", ["", "xyz", "1" * 17, "-1", "12 34"])
def test_bad_hex(bad: str) -> None:
    with pytest.raises(ValueError):
        ids.from_hex(bad)
    assert ids.try_normalize(bad) is None


@pytest.mark.parametrize("bad", [-1, 1 << 64, True])
def test_bad_decimal(bad: int) -> None:
    with pytest.raises(ValueError):
        ids.from_decimal(bad)


def test_unknown_member() -> None:
    assert ids.is_unknown(ids.normalize("0")) and ids.is_unknown(ids.normalize(0)) and ids.is_unknown(None)
    assert not ids.is_unknown("5a6fa537216361d")
    assert ids.try_normalize(None) is None and ids.try_normalize(["a"]) is None and ids.try_normalize(False) is None
