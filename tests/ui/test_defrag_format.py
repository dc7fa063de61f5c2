"""Fragmentation and quota use as the ring view shows them (FRAG and QUOTA columns, the detail panel)."""

from __future__ import annotations

from dataclasses import replace

from fixed_ring import healthy_ring

from etcdtui.core.findings import Severity
from etcdtui.ui import format as fmt


def test_fragmentation_and_quota_cells() -> None:
    row = healthy_ring().rows[0]
    assert (row.db_size, row.db_size_in_use) == (25_600_000, 18_300_000)
    assert fmt.fragmentation(row) == "29%" and fmt.fragmentation_severity(row) is None
    assert fmt.quota(row) == fmt.DASH and fmt.quota_severity(row) is None  # no command line: quota unknown
    fragmented = replace(row, db_size_in_use=5_000_000, quota_backend_bytes=2_147_483_648)
    assert fmt.fragmentation(fragmented) == "80%" and fmt.fragmentation_severity(fragmented) is Severity.INFO
    assert fmt.quota(fragmented) == "1% of 2.1 GB" and fmt.quota_severity(fragmented) is None
    assert fmt.quota_severity(replace(row, quota_backend_bytes=30_000_000)) is Severity.WARNING
    full = replace(row, db_size=16_000_000, quota_backend_bytes=16_000_000)
    assert fmt.quota(full) == "100% of 16.0 MB" and fmt.quota_severity(full) is Severity.CRITICAL
    assert fmt.fragmentation(replace(row, db_size=None)) == fmt.DASH
