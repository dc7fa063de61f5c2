"""Member IDs: etcd logs print them as lowercase hex without leading zeros (`"5a6fa537216361d"`), etcdctl
JSON as decimal uint64 numbers (often above 2**63). Everything in etcdtui compares the canonical form:
lowercase hex, no leading zeros, no `0x`. `"0"` means "unknown member" (etcd logs `remote-peer-id":"0"`
and CORRUPT alarms with member 0 on purpose, etcd-facts §1.5).
"""

from __future__ import annotations

UNKNOWN = "0"
_MAX = (1 << 64) - 1
_HEX = frozenset("0123456789abcdef")


def from_decimal(value: int | str) -> str:
    """etcdctl JSON (`"ID": 13144645163086586166`, `member_id`, `leader`) → canonical hex."""
    if isinstance(value, bool):
        raise ValueError(f"not a member ID: {value!r}")
    number = int(value) if isinstance(value, int) else int(value.strip(), 10)
    if not 0 <= number <= _MAX:
        raise ValueError(f"member ID out of uint64 range: {value!r}")
    return format(number, "x")


def from_hex(value: str) -> str:
    """Log fields (`"local-member-id":"eb15eab424be100e"`, `etcdctl --hex`) → canonical hex."""
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 16 or not set(text) <= _HEX:
        raise ValueError(f"not a hex member ID: {value!r}")
    return text.lstrip("0") or UNKNOWN


def normalize(value: int | str) -> str:
    """An int is etcdctl's decimal form, a string is the logs' hex form (`0x` optional)."""
    if isinstance(value, int):
        return from_decimal(value)
    return from_hex(value)


def try_normalize(value: object) -> str | None:
    """Like `normalize`, but None for anything that is not a member ID (for untrusted log fields)."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return normalize(value)
        except ValueError:
            return None
    return None


def is_unknown(member_id: str | None) -> bool:
    return member_id is None or member_id == UNKNOWN
