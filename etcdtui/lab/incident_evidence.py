"""What etcd itself logged about the #13766 scenario: its corruption checks' messages in the container logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etcdtui.lab.layout import LabLayout, etcd_pod_name

# What etcd's corruption checks log when they find a divergence, matched on the zap `msg` field.
ETCD_DETECTION_MSGS = (
    "found different hash values from remote peer",
    "checkInitialHashKV failed",
    "same compact revision then hashes must match",
    "revision from follower must be less than or equal to leader's",
    "alarm raised",
)


# == etcd's own evidence in the container logs =============================================================
def log_messages(path: Path, wanted: tuple[str, ...], since: str = "") -> list[dict[str, Any]]:
    """zap entries of a CRI log file whose `msg` is one of `wanted`, at or after the CRI timestamp `since`.

    Each entry gets `_ts` (the CRI timestamp). Lines are pre-filtered on the bytes of the msg, then parsed.
    """
    needles = [f'"msg":"{m}"'.encode() for m in wanted]
    found: list[dict[str, Any]] = []
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if not any(n in line for n in needles):
                    continue
                ts, _, rest = line.partition(b" ")
                if ts.decode(errors="replace") < since:
                    continue
                start = rest.find(b"{")
                try:
                    entry = json.loads(rest[start:]) if start >= 0 else None
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("msg") in wanted:
                    entry["_ts"] = ts.decode(errors="replace")
                    found.append(entry)
    except OSError:
        return []
    return found


def etcd_detections(layout: LabLayout, nodes: list[str], since: str) -> list[str]:
    """What etcd's own corruption checks said since `since` on any member: `node: msg` lines."""
    out: list[str] = []
    for node in nodes:
        logs_dir = layout.container_logs_dir(etcd_pod_name(node))
        for path in sorted(logs_dir.glob("*.log")):
            out += [f"{node}: {e['msg']}" for e in log_messages(path, ETCD_DETECTION_MSGS, since)]
    return out
