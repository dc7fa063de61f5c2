"""`etcdtui lab incident 13766`: reproduce etcd's 3.5 data-loss bug (etcd-io/etcd#13766) on a running lab.

The recipe is the one measured in `etcd-13766-repro.md`: preload ~2,000 keys, run write transactions whose
*compare* covers that whole key range from many clients (legitimate etcd API use; the long compare widens
the window in which etcd 3.5.0-3.5.2 has already set its consistent index but not yet written the entry),
SIGKILL a member 1.5-4 s into the load through the lab daemon (its kubelet restarts it, restartCount and
previous logs are real), let it catch up, stop the load, wait until every member applied the same raft
index, and compare. The ring has diverged when members at the same applied index hold different revisions
or different HashKV at the lowest common revision; the lost key is found with serializable reads of each
member. The divergence is left in place, for the user to find and repair.

Everything runs in this process on one asyncio loop: the load and the reads go to the members' client URLs
(the v3 gRPC gateway, HTTPS JSON, with the node's healthcheck-client certificate), the kill through the
daemon's control API, `hashkv` through etcdctl (the gateway does not serve HashKV).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import secrets
import ssl
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from etcdtui import exitcodes
from etcdtui.lab.control_client import ControlError, call
from etcdtui.lab.etcd_binary import EtcdNotFound, resolve_etcd
from etcdtui.lab.layout import LabLayout, default_lab_dir, etcd_pod_name
from etcdtui.lab.ring import run_argv

PREFIX = "/etcdtui-incident/"
STATIC_PREFIX = PREFIX + "static/"
WRITE_PREFIX = PREFIX + "w/"
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
PRELOAD_BATCH = 100  # etcd's --max-txn-ops is 128
REQUEST_TIMEOUT = 5.0
RESTART_TIMEOUT = 60.0
SETTLE_TIMEOUT = 30.0
ERROR_PAUSE = 0.05  # after a failed request (member down), so clients do not spin on refused connections
# What etcd's own corruption checks log, matched on the zap `msg` field (never on `caller`).
INITIAL_PASSED = "initial corruption checking passed; no corruption"
KVSTORE_RESTORED = "kvstore restored"
ETCD_DETECTION_MSGS = (
    "found different hash values from remote peer",
    "checkInitialHashKV failed",
    "same compact revision then hashes must match",
    "revision from follower must be less than or equal to leader's",
    "alarm raised",
)


class IncidentError(Exception):
    """The scenario could not run (one line for the user)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode(errors="replace")


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# == talking to the lab's members ==========================================================================
@dataclass(frozen=True)
class MemberStatus:
    node: str
    member_id: str  # hex, as etcd logs it
    revision: int
    raft_index: int
    applied_index: int


class LabEtcd:
    """The lab's members over their client URLs (gateway JSON) with the node's healthcheck-client cert."""

    def __init__(self, layout: LabLayout, urls: dict[str, str], connections: int) -> None:
        self.layout = layout
        self.urls = urls
        pki = layout.node_pki_dir(next(iter(urls)))
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "healthcheck-client.crt"), str(pki / "healthcheck-client.key"))
        self._pki = pki
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=connections),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def close(self) -> None:
        await self._session.close()

    async def post(self, node: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One gateway call; raises aiohttp.ClientError / TimeoutError / ValueError on failure."""
        async with self._session.post(self.urls[node] + path, json=body) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(data, dict):
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                                  message=str(data)[:200])
            return data

    async def status(self, node: str) -> MemberStatus | None:
        try:
            data = await self.post(node, "/v3/maintenance/status", {})
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        header = data.get("header", {})
        return MemberStatus(
            node=node, member_id=format(int(header.get("member_id", 0)), "x"),
            revision=int(header.get("revision", 0)), raft_index=int(data.get("raftIndex", 0)),
            applied_index=int(data.get("raftAppliedIndex", 0)),
        )

    async def keys(self, node: str, prefix: str) -> dict[str, int]:
        """key -> create_revision of every key under `prefix` that this member itself holds (serializable)."""
        data = await self.post(node, "/v3/kv/range", {
            "key": _b64(prefix), "range_end": _b64(_prefix_end(prefix)), "keys_only": True, "serializable": True,
        })
        return {_unb64(kv["key"]): int(kv.get("create_revision", 0)) for kv in data.get("kvs", [])}

    async def hashkv(self, node: str, revision: int, etcdctl: Path) -> int | None:
        argv = [str(etcdctl), f"--endpoints={self.urls[node]}", f"--cacert={self._pki / 'ca.crt'}",
                f"--cert={self._pki / 'healthcheck-client.crt'}", f"--key={self._pki / 'healthcheck-client.key'}",
                "--dial-timeout=2s", "--command-timeout=5s", "endpoint", "hashkv", f"--rev={revision}", "-w", "json"]
        rc, out, _ = await run_argv(argv, 10.0)
        try:
            return int(json.loads(out)[0]["HashKV"]["hash"]) if rc == 0 else None
        except (ValueError, LookupError, TypeError):
            return None


# == the load ===============================================================================================
@dataclass
class LoadCounts:
    txns: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.txns / self.seconds if self.seconds > 0 else 0.0


class RangeTxnLoad:
    """N clients looping `POST /v3/kv/txn`: compare create_revision over the static range > 0, put a unique key."""

    def __init__(self, etcd: LabEtcd, clients: int, token: str) -> None:
        self.etcd = etcd
        self.clients = clients
        self.token = token
        self.counts = LoadCounts()
        self._seq = [0] * clients
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(self._client(i), name=f"incident-load-{i}") for i in range(self.clients)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self.counts.seconds += time.monotonic() - self._started

    def current_rate(self) -> float:
        running = time.monotonic() - self._started if self._tasks else 0.0
        return self.counts.txns / max(self.counts.seconds + running, 0.001)

    async def _client(self, i: int) -> None:
        nodes = list(self.etcd.urls)
        at = i % len(nodes)
        compare = [{"key": _b64(STATIC_PREFIX), "range_end": _b64(_prefix_end(STATIC_PREFIX)),
                    "target": "CREATE", "result": "GREATER", "create_revision": "0"}]
        value = _b64(secrets.token_hex(32))
        while True:
            key = f"{WRITE_PREFIX}{self.token}-{i:02d}/{self._seq[i]:09d}"
            body = {"compare": compare, "success": [{"request_put": {"key": _b64(key), "value": value}}]}
            try:
                data = await self.etcd.post(nodes[at], "/v3/kv/txn", body)
                ok = bool(data.get("succeeded"))
            except (aiohttp.ClientError, TimeoutError, ValueError):
                ok = False
            if ok:
                self.counts.txns += 1
                self._seq[i] += 1
            else:
                self.counts.failed += 1
                at = (at + 1) % len(nodes)  # that member is down or restarting: try the next one
                await asyncio.sleep(ERROR_PAUSE)


async def preload(etcd: LabEtcd, keys: int) -> None:
    nodes = list(etcd.urls)
    for start in range(0, keys, PRELOAD_BATCH):
        puts = [{"request_put": {"key": _b64(f"{STATIC_PREFIX}{n:06d}"), "value": _b64("static")}}
                for n in range(start, min(start + PRELOAD_BATCH, keys))]
        for attempt in range(len(nodes) * 3):
            try:
                await etcd.post(nodes[attempt % len(nodes)], "/v3/kv/txn", {"success": puts})
                break
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.2)
        else:
            raise IncidentError("cannot preload the static keys: no member accepts writes")


async def load_without_kill(layout: LabLayout, seconds: float, clients: int = 16, keys: int = 2000) -> LoadCounts:
    """The same preload and range-compare load for `seconds`, no kill: the healthy baseline (no false alarm)."""
    state = await call(layout, "GET", "/status", limit_s=10.0)
    urls = {m["node"]: str(m["client_url"]) for m in state["members_status"] if not m.get("reset")}
    etcd = LabEtcd(layout, urls, clients + 8)
    try:
        await preload(etcd, keys)
        load = RangeTxnLoad(etcd, clients, secrets.token_hex(3))
        load.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await load.stop()
        return load.counts
    finally:
        await etcd.close()


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


# == output ==================================================================================================
def summary_lines(r: IncidentResult) -> list[str]:
    if not r.diverged:
        return [f"no divergence after {len(r.kills)} kill(s): every member holds the same data"]
    lines = [f"DIVERGED after kill {len(r.kills)}: etcd on {r.victim} (member {r.victim_member_id}) lost "
             f"{len(r.lost_keys)} committed write(s):"]
    for lost in r.lost_keys:
        lines.append(f"  {lost['key']}  (create_revision {lost['create_revision']} on its peers; "
                     f"missing on {r.victim} in a serializable read)")
    if r.restored_revision is not None:
        lines.append(f"  at its restart {r.victim} restored revision {r.restored_revision} from disk "
                     f"(the lost write is revision {r.restored_revision + 1})")
    lines.append(f"  {'member':<10} {'member id':<17} {'revision':>9} {'applied':>8} "
                 f"{'hashkv@' + str(r.hash_revision):>16} {'keys':>7}")
    for m in r.members:
        mark = "  <- lost a write" if m.node == r.victim else ""
        lines.append(f"  {m.node:<10} {m.member_id:<17} {m.revision:>9} {m.applied_index:>8} "
                     f"{m.hash if m.hash is not None else '?':>16} {m.keys:>7}{mark}")
    if r.initial_check_passed is True:
        lines.append(f"etcd's initial corruption check PASSED on {r.victim} after its restart "
                     "(`initial corruption checking passed; no corruption`), yet its data differs from its peers.")
    elif r.initial_check_passed is None:
        lines.append("etcd's startup corruption check is off on this lab (`lab up --corrupt-checks on` to see it pass).")
    said = "; ".join(r.etcd_detections[:5]) if r.etcd_detections else "nothing yet"
    lines.append(f"etcd's own corruption checks so far: {said}")
    lines.append(f"The divergence stays. Find it with `etcdtui check` or the ring view; repair by replacing "
                 f"the member on {r.victim}.")
    return lines


# == CLI =====================================================================================================
def add_incident_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "incident", help="reproduce a real etcd incident on the running lab (13766: a crash loses a write)",
        description="Reproduce etcd issue 13766 on the running lab: range-compare write transactions from many "
                    "clients (legitimate API use, chosen to widen the race window), SIGKILL a member, repeat "
                    "until one member really lost a committed write. The divergence stays for you to repair.",
    )
    p.add_argument("scenario", choices=("13766",), help="the etcd issue to reproduce")
    p.add_argument("--dir", default=None, help=f"lab directory (default: {default_lab_dir()})")
    p.add_argument("--node", default=None, help="the node whose etcd to kill (default: a random one each time)")
    p.add_argument("--max-kills", type=int, default=10, help="give up after N kills (default 10)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--keys", type=int, default=2000, help="keys the compare covers (default 2000)")
    p.add_argument("--snapshot-count", type=int, default=SNAPSHOT_COUNT,
                   help=f"restart members with this --snapshot-count first (default {SNAPSHOT_COUNT}; 0: keep the lab's)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")
    p.set_defaults(handler=cmd_incident)


def _fail(message: str) -> int:
    sys.stderr.write(f"etcdtui lab incident: {message}\n")
    return exitcodes.WARNING


def cmd_incident(args: argparse.Namespace) -> int:
    for name, value, low, high in (("--max-kills", args.max_kills, 1, 100), ("--clients", args.clients, 1, 64),
                                   ("--keys", args.keys, 1, 10000),
                                   ("--snapshot-count", args.snapshot_count, 0, 1000000)):
        if not low <= value <= high:
            return _fail(f"invalid {name} {value}: use a number from {low} to {high}")
    layout = LabLayout(Path(args.dir).expanduser().resolve() if args.dir else default_lab_dir())
    out = sys.stderr if args.json else sys.stdout

    def progress(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    scenario = Incident13766(layout, node=args.node, max_kills=args.max_kills, clients=args.clients,
                             keys=args.keys, progress=progress, snapshot_count=args.snapshot_count)
    try:
        result = asyncio.run(scenario.run())
    except IncidentError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        for line in summary_lines(result):
            progress(line)
    if not result.diverged:
        return _fail(f"no divergence after {len(result.kills)} kill(s); run it again or raise --max-kills")
    return exitcodes.OK
