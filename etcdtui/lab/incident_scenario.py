"""The #13766 scenario (etcd-13766-repro.md): preload, load, SIGKILL, settle, compare; the result as figures."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from etcdtui.lab.control_client import ControlError, call
from etcdtui.lab.etcd_binary import EtcdNotFound, resolve_etcd
from etcdtui.lab.incident_etcd import IncidentError, LabEtcd, MemberStatus
from etcdtui.lab.incident_evidence import etcd_detections, log_messages
from etcdtui.lab.incident_load import STATIC_PREFIX, WRITE_PREFIX, RangeTxnLoad, preload
from etcdtui.lab.layout import LabLayout, etcd_pod_name

AFFECTED = ("3.5.0", "3.5.1", "3.5.2")
LEGITIMATE_NOTE = (
    "note: the load is legitimate etcd API use (write transactions whose compare reads a range of keys); "
    "it is chosen because the long compare widens the race window of etcd #13766, so one SIGKILL usually "
    "suffices; plain writes hit it too, about once in 15-50 kills."
)
# The lab runs members with --snapshot-count=10 (so etcd's startup check has a .snap and asks its peers), but a
# snapshot commits the backend from the apply loop every 10 entries, which mostly closes the race window; the
# repro measured 8/8 first-kill hits at 1000 (etcd's own default is 100000).
SNAPSHOT_COUNT = 1000
RESTART_TIMEOUT = 60.0
SETTLE_TIMEOUT = 30.0
# What etcd's own corruption checks log, matched on the zap `msg` field (never on `caller`).
INITIAL_PASSED = "initial corruption checking passed; no corruption"
KVSTORE_RESTORED = "kvstore restored"


# == the scenario ===========================================================================================
@dataclass
class Kill:
    node: str
    after_load_s: float  # seconds into the load
    revision_before: int | None
    restart_s: float | None = None  # SIGKILL -> healthy again
    at: float = 0.0  # epoch seconds of the SIGKILL


@dataclass
class MemberReport:
    node: str
    member_id: str
    revision: int
    applied_index: int
    hash: int | None
    keys: int


@dataclass
class IncidentResult:
    diverged: bool
    etcd_version: str
    kills: list[Kill] = field(default_factory=list)
    victim: str | None = None
    victim_member_id: str | None = None
    lost_keys: list[dict[str, Any]] = field(default_factory=list)  # key, create_revision on the peers
    restored_revision: int | None = None  # `kvstore restored` current-rev of the victim's restart
    initial_check_passed: bool | None = None  # None: the startup check is off on this lab
    hash_revision: int | None = None
    members: list[MemberReport] = field(default_factory=list)
    etcd_detections: list[str] = field(default_factory=list)
    load: dict[str, float] = field(default_factory=dict)
    load_stopped_at: float = 0.0  # epoch seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Incident13766:
    def __init__(
        self, layout: LabLayout, *, node: str | None, max_kills: int, clients: int, keys: int,
        progress: Callable[[str], None], rng: random.Random | None = None, snapshot_count: int = SNAPSHOT_COUNT,
    ) -> None:
        self.snapshot_count = snapshot_count
        self.layout = layout
        self.node = node
        self.max_kills = max_kills
        self.clients = clients
        self.keys = keys
        self.say = progress
        self.rng = rng or random.Random()
        self.token = secrets.token_hex(3)

    async def run(self) -> IncidentResult:
        state = await self._lab_status()
        members = {m["node"]: m for m in state["members_status"] if not m.get("reset")}
        if self.node is not None and self.node not in members:
            raise IncidentError(f"unknown or reset node {self.node!r} (nodes: {', '.join(members)})")
        if len(members) < 3:
            raise IncidentError("the scenario needs a ring of at least 3 members")
        try:
            etcdctl = resolve_etcd(None).etcdctl
        except EtcdNotFound as exc:
            raise IncidentError(str(exc)) from None
        version = str(state.get("etcd_version", "?"))
        result = IncidentResult(diverged=False, etcd_version=version)
        if version not in AFFECTED:
            self.say(f"etcd {version} is not affected by #13766 (3.5.0-3.5.2 are): expect no divergence")
        self.say(LEGITIMATE_NOTE)
        etcd = LabEtcd(self.layout, {n: str(m["client_url"]) for n, m in members.items()}, self.clients + 8)
        try:
            self.say(f"preloading {self.keys} keys under {STATIC_PREFIX}")
            await preload(etcd, self.keys)  # first, so every member has a .snap from the lab's snapshot-count
            if self.snapshot_count:
                await self._set_snapshot_count(members)
            load = RangeTxnLoad(etcd, self.clients, self.token)
            for cycle in range(1, self.max_kills + 1):
                kill = await self._cycle(etcd, load, cycle)
                result.kills.append(kill)
                result.load_stopped_at = time.time()
                if await self._evaluate(etcd, etcdctl, result):
                    break
            result.load = {"txns": load.counts.txns, "failed": load.counts.failed,
                           "seconds": round(load.counts.seconds, 2), "txn_per_s": round(load.counts.rate, 1)}
            since = min((k.at for k in result.kills), default=time.time())
            result.etcd_detections = etcd_detections(
                self.layout, list(members), time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since)))
        finally:
            await etcd.close()
        return result

    async def _lab_status(self) -> dict[str, Any]:
        try:
            return await call(self.layout, "GET", "/status", limit_s=10.0)
        except ControlError as exc:
            raise IncidentError(str(exc)) from None

    async def _set_snapshot_count(self, members: dict[str, dict[str, Any]]) -> None:
        flag = f"--snapshot-count={self.snapshot_count}"
        for node, row in members.items():
            flags = [f for f in row.get("flags", []) if not f.startswith("--snapshot-count")]
            if flag in row.get("flags", []):
                continue
            self.say(f"restarting etcd on {node} with {flag} (like a changed static pod manifest)")
            try:
                await call(self.layout, "POST", "/member-flags", {"node": node, "flags": [*flags, flag]},
                           limit_s=60.0)
            except ControlError as exc:
                raise IncidentError(f"cannot restart {node} with {flag}: {exc}") from None

    async def _member_row(self, node: str) -> dict[str, Any]:
        state = await self._lab_status()
        return next(m for m in state["members_status"] if m["node"] == node)

    async def _cycle(self, etcd: LabEtcd, load: RangeTxnLoad, cycle: int) -> Kill:
        victim = self.node or self.rng.choice(list(etcd.urls))
        before = await self._member_row(victim)
        delay = self.rng.uniform(1.5, 4.0)
        load.start()
        await asyncio.sleep(delay)
        status = await etcd.status(victim)
        kill = Kill(victim, round(delay, 2), status.revision if status else None, at=time.time())
        try:
            await call(self.layout, "POST", "/kill", {"node": victim}, limit_s=10.0)
        except ControlError as exc:
            await load.stop()
            raise IncidentError(f"cannot kill {victim}: {exc}") from None
        rate = load.current_rate()
        self.say(f"kill {cycle}/{self.max_kills}: SIGKILL etcd on {victim} {delay:.1f} s into the load "
                 f"(revision {kill.revision_before}, ~{rate:.0f} txn/s); waiting for the lab's kubelet to restart it")
        try:
            kill.restart_s = round(await self._wait_restarted(victim, int(before["restart_count"]), kill.at), 2)
            await asyncio.sleep(self.rng.uniform(1.0, 2.5))  # catch up under load
        finally:
            await load.stop()
        self.say(f"  {victim} restarted after {kill.restart_s:.1f} s; load stopped, waiting for equal applied indexes")
        return kill

    async def _wait_restarted(self, node: str, restarts_before: int, killed_at: float) -> float:
        deadline = time.monotonic() + RESTART_TIMEOUT
        while time.monotonic() < deadline:
            row = await self._member_row(node)
            if row["restart_count"] > restarts_before and row["running"] and row["healthy"]:
                return time.time() - killed_at
            await asyncio.sleep(0.25)
        raise IncidentError(f"etcd on {node} was not healthy again within {RESTART_TIMEOUT:.0f} s of the kill")

    async def _settled(self, etcd: LabEtcd) -> list[MemberStatus]:
        """Statuses once every member applied everything it has, at one index, twice in a row."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last: list[MemberStatus] | None = None
        while time.monotonic() < deadline:
            got = await asyncio.gather(*(etcd.status(n) for n in etcd.urls))
            now = [s for s in got if s is not None]
            settled = (len(now) == len(etcd.urls) and all(s.raft_index == s.applied_index for s in now)
                       and len({s.applied_index for s in now}) == 1)
            if settled and last == now:
                return now
            last = now if settled else None
            await asyncio.sleep(0.2)
        raise IncidentError(f"members did not reach the same applied raft index within {SETTLE_TIMEOUT:.0f} s")

    async def _evaluate(self, etcd: LabEtcd, etcdctl: Path, result: IncidentResult) -> bool:
        statuses = await self._settled(etcd)
        revision = min(s.revision for s in statuses)
        hashes = await asyncio.gather(*(etcd.hashkv(s.node, revision, etcdctl) for s in statuses))
        keysets = await asyncio.gather(*(etcd.keys(s.node, WRITE_PREFIX) for s in statuses))
        result.hash_revision = revision
        result.members = [
            MemberReport(s.node, s.member_id, s.revision, s.applied_index, h, len(k))
            for s, h, k in zip(statuses, hashes, keysets, strict=True)
        ]
        revs = {s.revision for s in statuses}
        known = [h for h in hashes if h is not None]
        diverged = len(revs) > 1 or len(set(known)) > 1 or len({len(k) for k in keysets}) > 1
        if not diverged:
            self.say(f"  no divergence: all members at revision {revs.pop()}, applied index "
                     f"{statuses[0].applied_index}, hashkv {known[0] if known else '?'}")
            return False
        result.diverged = True
        # The victim: the member off the majority hash (else the one with the fewest keys).
        majority_hash = Counter(known).most_common(1)[0][0] if known else None
        off = [r for r in result.members if r.hash is not None and r.hash != majority_hash]
        victim = off[0] if len(off) == 1 else min(result.members, key=lambda r: r.keys)
        result.victim, result.victim_member_id = victim.node, victim.member_id
        peers = [(s, k) for s, k in zip(statuses, keysets, strict=True) if s.node != victim.node]
        mine = keysets[[s.node for s in statuses].index(victim.node)]
        peer_keys = peers[0][1]
        result.lost_keys = [{"key": k, "create_revision": peer_keys[k]}
                            for k in sorted(set(peer_keys) - set(mine))][:20]
        self._victim_restart_evidence(victim.node, result)
        return True

    def _victim_restart_evidence(self, node: str, result: IncidentResult) -> None:
        """From the victim's current run: the revision it restored from disk, and its startup check's verdict."""
        logs_dir = self.layout.container_logs_dir(etcd_pod_name(node))
        runs = sorted(logs_dir.glob("*.log"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)
        if not runs:
            return
        entries = log_messages(runs[-1], (KVSTORE_RESTORED, INITIAL_PASSED, "starting initial corruption check"))
        restored = [e for e in entries if e["msg"] == KVSTORE_RESTORED]
        if restored:
            result.restored_revision = int(restored[-1].get("current-rev", 0)) or None
        started = any(e["msg"] == "starting initial corruption check" for e in entries)
        result.initial_check_passed = any(e["msg"] == INITIAL_PASSED for e in entries) if started else None
