"""The backend quota of an etcd member, from its own command line (`--quota-backend-bytes`).

etcd raises the NOSPACE alarm and refuses writes when the backend database reaches the quota;
unset or 0 means etcd's default of 2 GiB (etcdserver/quota.go: DefaultQuotaBytes); a negative value
disables the quota.
"""

from __future__ import annotations

from collections.abc import Sequence

from etcdtui.core.etcd_command import parse_command

DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024


def quota_backend_bytes(argv: Sequence[str]) -> int | None:
    """The member's quota in bytes; None when there is none (quota disabled) or no command line to read."""
    if not argv:
        return None
    value = parse_command(argv).get("quota-backend-bytes")
    if value is None or not value.strip():
        return DEFAULT_QUOTA_BYTES
    try:
        quota = int(value.strip())
    except ValueError:
        return None  # etcd would refuse to start with it; the flags audit is where that is said
    if quota < 0:
        return None
    return DEFAULT_QUOTA_BYTES if quota == 0 else quota
