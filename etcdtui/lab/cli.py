"""`etcdtui lab ...`: start, inspect, break and stop the local lab cluster.

`lab up` starts the lab daemon (`python -m etcdtui.lab.daemon`) detached, waits until every member is healthy
and the API answers, and prints the kubeconfig. The other subcommands talk to the daemon over its unix socket.
Every failure is one line on stderr and exit code 1; `up` leaves nothing half-started behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from etcdtui import exitcodes
from etcdtui.lab.control_client import ControlError, request
from etcdtui.lab.lab_process import is_lab_process, read_pid
from etcdtui.lab.layout import DEFAULT_NAME, LabLayout, default_lab_dir, layout_of
from etcdtui.lab.lifecycle import LabCliError, start_lab, stop_lab


def _fail(command: str, message: str) -> int:
    first = next((line for line in message.splitlines() if line.strip()), "failed")
    print(f"etcdtui lab {command}: {first}" if command else f"etcdtui lab: {first}", file=sys.stderr)
    return exitcodes.WARNING


def _layout(args: argparse.Namespace) -> LabLayout:
    return layout_of(args.dir, getattr(args, "name", None))


def _print_usage(state: dict[str, Any], layout: LabLayout) -> None:
    kubeconfig = state.get("kubeconfig") or layout.kubeconfig
    print(f"lab ready in {layout.root}: {state.get('members')} etcd {state.get('etcd_version')} members, "
          f"corruption checks {state.get('corrupt_checks')}")
    print(f"kubeconfig: {kubeconfig}")
    if layout.ssh_config.exists():
        print(f"ssh:        ssh -F {layout.ssh_config} lab-cp-1")
    if layout.kubeone_bin.exists():
        print(f"kubeone:    {layout.kubeone_bin} (with {layout.kubeone_yaml.name} and {layout.tf_json.name})")
    print(f"export KUBECONFIG={kubeconfig}")


def cmd_up(args: argparse.Namespace) -> int:
    layout = _layout(args)
    try:
        state = start_lab(layout.root, members=args.members, corrupt_checks=args.corrupt_checks, etcd=args.etcd,
                          api_port=args.api_port, bastion=not args.no_bastion,
                          quota_backend_bytes=args.quota_backend_bytes, name=args.name, flavour=args.flavour)
    except LabCliError as exc:
        return _fail("up", str(exc))
    _print_usage(state, layout)
    return exitcodes.OK


def cmd_down(args: argparse.Namespace) -> int:
    layout = _layout(args)
    try:
        leftovers = stop_lab(layout.root, keep_data=args.keep_data)
    except LabCliError as exc:
        return _fail("down", str(exc))
    if leftovers:
        print(f"killed {len(leftovers)} leftover process(es): {', '.join(map(str, leftovers))}", file=sys.stderr)
    print(f"lab in {layout.root} stopped" + (" (data kept)" if args.keep_data else ""))
    return exitcodes.OK


def cmd_status(args: argparse.Namespace) -> int:
    layout = _layout(args)
    try:
        state = request(layout, "GET", "/status", limit_s=10.0)
    except ControlError as exc:
        return _fail("status", str(exc))
    if args.json:
        print(json.dumps(state, indent=2))
        return exitcodes.OK
    api = state.get("api") or {}
    print(f"lab in {state['dir']} (pid {state['pid']}), etcd {state['etcd_version']}, "
          f"corruption checks {state['corrupt_checks']}")
    print(f"API server: https://{api.get('host')}:{api.get('port')} ({'up' if state.get('api_up') else 'down'})"
          if api else "API server: not running")
    print(f"kubeconfig: {state.get('kubeconfig')}")
    print(f"{'NODE':<10} {'IP':<11} {'MEMBER ID':<17} {'PID':>7} {'HEALTHY':<8} {'RESTARTS':>8}  STATE")
    for m in state["members_status"]:
        st = "reset" if m["reset"] else ("running" if m["running"] else (m.get("waiting") or "stopped"))
        print(f"{m['node']:<10} {m['ip']:<11} {m.get('member_id') or '-':<17} {m.get('pid') or '-':>7} "
              f"{'yes' if m['healthy'] else 'no':<8} {m['restart_count']:>8}  {st}")
    return exitcodes.OK


def _node_command(args: argparse.Namespace, path: str) -> int:
    layout = _layout(args)
    try:
        result = request(layout, "POST", path, {"node": args.node}, limit_s=30.0)
    except ControlError as exc:
        return _fail(path.strip("/"), str(exc))
    print(result.get("message", "ok"))
    return exitcodes.OK


def cmd_kill(args: argparse.Namespace) -> int:
    return _node_command(args, "/kill")


def cmd_corrupt(args: argparse.Namespace) -> int:
    return _node_command(args, "/corrupt")


def cmd_fault(args: argparse.Namespace) -> int:
    from etcdtui.lab.kubeadm_join import write_fault  # noqa: PLC0415 - kubeadm labs only

    layout = _layout(args)
    if not layout.state_file.exists():
        return _fail("fault", f"no lab running in {layout.root}")
    write_fault(layout.root, args.name)
    print(f"armed: the next kubeadm join on this lab meets {args.name}")
    return exitcodes.OK


def cmd_api_outage(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 3600:
        return _fail("api-outage", f"invalid SECONDS {args.seconds:g}: use a number in (0, 3600]")
    try:
        result = request(_layout(args), "POST", "/api-outage", {"seconds": args.seconds}, limit_s=10.0)
    except ControlError as exc:
        return _fail("api-outage", str(exc))
    print(result.get("message", "ok"))
    return exitcodes.OK


def cmd_load(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 600:
        return _fail("load", f"invalid --seconds {args.seconds:g}: use a number in (0, 600]")
    try:
        result = request(_layout(args), "POST", "/load", {"seconds": args.seconds}, limit_s=args.seconds + 60)
    except ControlError as exc:
        return _fail("load", str(exc))
    print(f"{result['puts']} puts ({result['failed_puts']} failed), {result['compactions']} compactions, "
          f"revision {result['revision']}")
    return exitcodes.OK


def cmd_fill(args: argparse.Namespace) -> int:
    if (args.node is None) == (not args.all):
        return _fail("fill", "name one NODE or pass --all")
    nodes = [] if args.all else [args.node]
    try:
        result = request(_layout(args), "POST", "/fill", {"nodes": nodes, "mb": args.mb}, limit_s=args.mb * 2 + 180)
    except ControlError as exc:
        return _fail("fill", str(exc))
    print(f"wrote {result['written_mib']} MiB in {result['puts']} puts ({result['failed_puts']} failed)"
          + ("; NOSPACE: etcd refused writes at its quota (the history is left uncompacted)" if result["nospace"]
             else f"; deleted half the keys, compacted to revision {result.get('compacted_to')}"))
    for node, db in sorted(result.get("db", {}).items()):
        size, used = db["db_size"], db["db_size_in_use"]
        print(f"  {node}: db {size / 1e6:.1f} MB, in use {used / 1e6:.1f} MB, "
              f"fragmentation {1 - used / size if size else 0:.0%}")
    if result.get("error"):
        return _fail("fill", result["error"])
    return exitcodes.OK


def cmd_lab(args: argparse.Namespace) -> int:
    """Plain `etcdtui lab`: start (or reuse) the lab, then open the TUI on it."""
    layout = _layout(args)
    pid = read_pid(layout)
    try:
        if pid is None or not is_lab_process(pid) or not layout.state_file.exists():
            start_lab(layout.root, members=args.members, corrupt_checks=args.corrupt_checks,
                      etcd=args.etcd, name=args.name, flavour=args.flavour)
    except LabCliError as exc:
        return _fail("", str(exc))
    from etcdtui.ui.session import Connection, run_command

    code = run_command(Connection(kubeconfig=str(layout.kubeconfig)))
    if not args.keep:
        with contextlib.suppress(LabCliError):
            stop_lab(layout.root)
    return int(code)


def _quota(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of bytes: {text!r}") from None
    if not 1 << 20 <= value <= 8 << 30:
        raise argparse.ArgumentTypeError(f"between 1 MiB and 8 GiB: {text}")
    return value


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help=f"lab directory (default: {default_lab_dir()}, or "
                                                    f"{default_lab_dir('NAME')} with --name)")
    parser.add_argument("--name", default=DEFAULT_NAME,
                        help="lab name: several labs run side by side, context etcdtui-NAME (default: lab)")


def _start_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=3, help="number of etcd members: 1, 3, 5 or 7 (default 3)")
    parser.add_argument("--corrupt-checks", choices=("on", "off"), default="off",
                        help="start members with etcd's corruption checks (default off, like clusters before "
                             "KubeOne 1.4.1)")
    parser.add_argument("--etcd", default=None, help="etcd binary (etcdctl must sit next to it)")
    parser.add_argument("--flavour", choices=("kubeone", "kubeadm"), default="kubeone",
                        help="kubeone (default: kubeone.yaml, tf.json, bin/kubeone) or kubeadm (a plain kubeadm "
                             "cluster: kubeadm token/upload-certs/join on the nodes, no kubeone)")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="a local cluster with a real etcd ring, for trying etcdtui",
                                description="Start a local lab cluster (real etcd ring behind a Kubernetes API) "
                                            "and open the TUI on it.")
    _dir_option(lab)
    _start_options(lab)
    lab.add_argument("--keep", action="store_true", help="leave the lab running when the TUI quits")
    lab.set_defaults(handler=cmd_lab)
    sub = lab.add_subparsers(dest="lab_command", metavar="SUBCOMMAND")

    up = sub.add_parser("up", help="start the lab in the background and print its kubeconfig")
    _dir_option(up)
    _start_options(up)
    up.add_argument("--api-port", type=int, default=0, help="API server port on 127.0.0.1 (default: any free)")
    up.add_argument("--no-bastion", action="store_true", help="no ssh bastion host")
    up.add_argument("--quota-backend-bytes", type=_quota, default=0, metavar="N",
                    help="etcd's backend quota in bytes (small values make NOSPACE reachable; default etcd's 2 GiB)")
    up.set_defaults(handler=cmd_up)

    status = sub.add_parser("status", help="members, ports and health of the running lab")
    _dir_option(status)
    status.add_argument("--json", action="store_true", help="print the daemon's status as JSON")
    status.set_defaults(handler=cmd_status)

    down = sub.add_parser("down", help="stop every process of the lab and remove its files")
    _dir_option(down)
    down.add_argument("--keep-data", action="store_true", help="keep the lab's files")
    down.set_defaults(handler=cmd_down)

    for name, handler, text in (("kill", cmd_kill, "SIGKILL a node's etcd (it restarts with backoff)"),
                                ("corrupt", cmd_corrupt, "make a node's etcd data really diverge")):
        p = sub.add_parser(name, help=text)
        p.add_argument("node", metavar="NODE")
        _dir_option(p)
        p.set_defaults(handler=handler)

    outage = sub.add_parser("api-outage", help="the API server refuses connections for SECONDS, then returns")
    outage.add_argument("seconds", type=float, metavar="SECONDS")
    _dir_option(outage)
    outage.set_defaults(handler=cmd_api_outage)

    fault = sub.add_parser("fault", help="arm a one-shot kubeadm fault: token-expired, join-halfway")
    fault.add_argument("name", choices=("token-expired", "join-halfway"))
    _dir_option(fault)
    fault.set_defaults(handler=cmd_fault)

    fill = sub.add_parser("fill", help="write, overwrite and delete N MiB so the database grows and fragments")
    fill.add_argument("node", metavar="NODE", nargs="?", help="write through this member (the data is replicated)")
    fill.add_argument("--all", action="store_true", help="write through every healthy member in turn")
    fill.add_argument("--mb", type=int, required=True, metavar="N", help="MiB to write (1 to 2048)")
    _dir_option(fill)
    fill.set_defaults(handler=cmd_fill)

    from etcdtui.lab.kubeconfigs import add_kubeconfig_parser  # noqa: PLC0415 - its own module (issue #12)

    add_kubeconfig_parser(sub, _dir_option)

    load = sub.add_parser("load", help="writes and compactions for a while, so revisions move")
    load.add_argument("--seconds", type=float, default=5.0)
    _dir_option(load)
    load.set_defaults(handler=cmd_load)

    from etcdtui.lab.machines_cli import add_machine_parsers  # noqa: PLC0415 - its own module (issue #13)

    add_machine_parsers(sub, _dir_option, _layout, _fail)

    from etcdtui.lab.incident import add_incident_parser  # noqa: PLC0415 - its own module (issue #8)

    add_incident_parser(sub)
