"""What a recovery from a snapshot will do and lose: the snapshot verified (integrity, revision, age), the nodes,
the restore node, the writes after the snapshot; and its journal record, so a resumed run has the same plan."""

from __future__ import annotations

import asyncio
import hashlib
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etcdtui.cluster.backup import BackupError, snapshot_status


class Refused(Exception):
    """One line: the procedure must not run (exit 2)."""


@dataclass(frozen=True)
class SnapshotFacts:
    path: Path
    size: int
    sha256: str
    revision: int
    total_keys: int | None
    age_s: float


@dataclass(frozen=True)
class NodePlan:
    node: str
    member_name: str
    peer_url: str | None
    pod_command: tuple[str, ...]


@dataclass
class RecoverPlan:
    context: str
    server: str
    snapshot: SnapshotFacts
    nodes: list[NodePlan]
    restore_node: str
    survivor_revision: int | None = None
    lost_keys: list[str] = field(default_factory=list)
    lost_keys_total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def others(self) -> list[str]:
        return [n.node for n in self.nodes if n.node != self.restore_node]

    def steps(self) -> list[str]:
        return ([f"stop:{n.node}" for n in self.nodes] + ["restore", "start"] +
                [f"reset:{n}" for n in self.others] + ["rejoin", "verify"])


# == the snapshot ===========================================================================================
async def verify_snapshot(path: Path, now: float | None = None) -> SnapshotFacts:
    """Integrity (etcdutl snapshot status reads it, its hash checks), revision and age; Refused otherwise."""
    try:
        st = await asyncio.to_thread(path.stat)
    except FileNotFoundError:
        raise Refused(f"snapshot {path} does not exist") from None
    except OSError as exc:
        raise Refused(f"snapshot {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        raise Refused(f"snapshot {path} is empty or not a file")
    try:
        status = await snapshot_status(path)
    except BackupError as exc:
        raise Refused(f"{path} is not a usable etcd snapshot: {exc.message.split('(', 1)[-1].rstrip(')')}") from None
    if "revision" not in status:
        raise Refused("etcdutl is not available: the snapshot cannot be verified")
    digest = await asyncio.to_thread(_sha256, path)
    age = max(0.0, (time.time() if now is None else now) - st.st_mtime)
    return SnapshotFacts(path, st.st_size, digest, int(status["revision"]), status.get("totalKey"), age)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def plan_record(plan: RecoverPlan) -> dict[str, Any]:
    s = plan.snapshot
    return {
        "context": plan.context, "server": plan.server, "restore_node": plan.restore_node,
        "snapshot": {"path": str(s.path), "size": s.size, "sha256": s.sha256, "revision": s.revision,
                     "total_keys": s.total_keys, "age_s": s.age_s},
        "nodes": [{"node": n.node, "member_name": n.member_name, "peer_url": n.peer_url,
                   "pod_command": list(n.pod_command)} for n in plan.nodes],
        "survivor_revision": plan.survivor_revision, "lost_keys_total": plan.lost_keys_total,
        "lost_keys": plan.lost_keys, "notes": plan.notes,
    }


def plan_from_record(r: dict[str, Any]) -> RecoverPlan:
    s = r["snapshot"]
    snap = SnapshotFacts(Path(s["path"]), int(s["size"]), str(s["sha256"]), int(s["revision"]), s.get("total_keys"),
                         float(s.get("age_s") or 0))
    nodes = [NodePlan(n["node"], n["member_name"], n.get("peer_url"), tuple(n["pod_command"])) for n in r["nodes"]]
    return RecoverPlan(r["context"], r["server"], snap, nodes, r["restore_node"], r.get("survivor_revision"),
                       lost_keys=[str(k) for k in r.get("lost_keys") or []],
                       lost_keys_total=int(r.get("lost_keys_total") or 0),
                       notes=[str(n) for n in r.get("notes") or []])
