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

Here: the command and its summary. The scenario is `incident_scenario`, the members `incident_etcd`, the load
`incident_load`, etcd's own log evidence `incident_evidence`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from etcdtui import exitcodes
from etcdtui.lab.incident_etcd import IncidentError
from etcdtui.lab.incident_scenario import SNAPSHOT_COUNT, Incident13766, IncidentResult
from etcdtui.lab.layout import LabLayout, default_lab_dir


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
