"""`etcdtui lab ...`: start, inspect, break and stop the local lab cluster.

`lab up` starts the lab daemon (`python -m etcdtui.lab.daemon`) detached, waits until every member is healthy
and the API answers, and prints the kubeconfig. The other subcommands talk to the daemon over its unix socket.
Every failure is one line on stderr and exit code 1; `up` leaves nothing half-started behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import etcdtui
from etcdtui import exitcodes
from etcdtui.lab.control_client import ControlError, request
from etcdtui.lab.etcd_binary import EtcdNotFound, resolve_etcd
from etcdtui.lab.lab_process import is_lab_process, process_alive, read_pid
from etcdtui.lab.layout import DEFAULT_NAME, LabLayout, default_lab_dir, layout_of, valid_lab_name
from etcdtui.lab.ports import PortInUse, accepts_connections, ensure_free

UP_TIMEOUT = 30.0
DOWN_TIMEOUT = 20.0
ERROR_FILE = "lab.error"
VALID_MEMBERS = (1, 3, 5, 7)
# Everything the lab writes in its directory (removed by `down` unless --keep-data).
LAB_ENTRIES = ("kubeconfig", "ssh_config", "known_hosts", "kubeone.yaml", "tf.json", "bin", "lab.json", "lab.pid",
               "lab.log", "lab.error", "control.sock", "pki", "ssh", "nodes", "logs", "serviceaccount",
               "kubeadm")
RUNTIME_ENTRIES = ("lab.json", "lab.pid", "control.sock", "lab.error")


class LabCliError(Exception):
    """A one-line error for the user."""


# == starting =============================================================================================
START_ATTEMPTS = 3  # a port picked free can be taken by another process before etcd binds it


def start_lab(root: Path, **options: Any) -> dict[str, Any]:
    """Start a lab daemon in `root` and return its state (lab.json) once it is ready; raise LabCliError.

    Ports are checked free when picked, but another lab starting at the same moment (or any process) may bind
    one before etcd does: that start is cleaned up and retried with fresh ports, never reported as a failure.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            return _start_lab_once(root, **options)
        except LabCliError as exc:
            if "address already in use" not in str(exc) or attempt == START_ATTEMPTS or options.get("api_port"):
                raise
    raise AssertionError("unreachable")


def _start_lab_once(
    root: Path, *, members: int = 3, corrupt_checks: str = "off", etcd: str | None = None, api_port: int = 0,
    bastion: bool = True, within: float = UP_TIMEOUT, quota_backend_bytes: int = 0, name: str = DEFAULT_NAME,
    flavour: str = "kubeone",
) -> dict[str, Any]:
    if not valid_lab_name(name):
        raise LabCliError(f"invalid --name {name!r}: lowercase letters, digits and '-', at most 32 characters")
    if members not in VALID_MEMBERS:
        raise LabCliError(f"invalid --members {members}: use an odd number from 1 to 7 (3 or 5 are usual)")
    try:
        binaries = resolve_etcd(etcd)
        if api_port:
            ensure_free("127.0.0.1", api_port)
    except (EtcdNotFound, PortInUse) as exc:
        raise LabCliError(str(exc)) from None
    root = root.expanduser().resolve()
    layout = LabLayout(root)
    existed = root.exists() and any(root.iterdir())
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    _claim(layout)
    # A lab does not resume: files of an earlier lab here (`down --keep-data`, a crashed daemon) are replaced.
    for entry in LAB_ENTRIES:
        path = root / entry
        if entry == "lab.pid":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "etcdtui.lab.daemon", "--dir", str(root), "--members", str(members),
        "--corrupt-checks", corrupt_checks, "--api-port", str(api_port), "--bastion", "on" if bastion else "off",
        "--etcd", str(binaries.etcd), "--name", name, "--flavour", flavour,
    ]
    if quota_backend_bytes:
        argv += ["--quota-backend-bytes", str(quota_backend_bytes)]
    env = dict(os.environ)
    package_root = str(Path(etcdtui.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    log_fd = os.open(layout.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
            argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, start_new_session=True, env=env,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    layout.pid_file.write_text(f"{proc.pid}\n")
    try:
        return _wait_ready(layout, proc, within)
    except BaseException:
        _stop_daemon(layout, proc.pid)
        _reap_leftovers(root)
        _remove_files(layout, keep_data=False, keep_log=True)
        if not existed:
            shutil.rmtree(root, ignore_errors=True)
        raise


def _claim(layout: LabLayout) -> None:
    """Refuse a second lab in the same directory; the pid file is created exclusively."""
    for _ in range(2):
        try:
            fd = os.open(layout.pid_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pid = read_pid(layout)
            if pid is not None and is_lab_process(pid):
                raise LabCliError(f"lab already running in {layout.root} (pid {pid})") from None
            layout.pid_file.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        return
    raise LabCliError(f"cannot claim {layout.pid_file}")


def _wait_ready(layout: LabLayout, proc: subprocess.Popen[bytes], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    error_file = layout.root / ERROR_FILE
    while time.monotonic() < deadline:
        if layout.state_file.exists():
            with contextlib.suppress(ValueError, OSError):
                return dict(json.loads(layout.state_file.read_text()))
        if proc.poll() is not None:
            reason = error_file.read_text().strip() if error_file.exists() else f"exit code {proc.returncode}"
            raise LabCliError(reason or "the lab daemon exited")
        time.sleep(0.05)
    raise LabCliError(f"the lab did not become ready within {within:.0f} s (see {layout.daemon_log})")


# == stopping =============================================================================================
def stop_lab(root: Path, *, keep_data: bool = False) -> list[int]:
    """Stop the lab in `root`; return the pids that had to be killed as leftovers (normally none)."""
    root = root.expanduser().resolve()
    layout = LabLayout(root)
    if not root.exists() or not any((root / e).exists() for e in LAB_ENTRIES):
        raise LabCliError(f"no lab in {root}")
    state: dict[str, Any] = {}
    with contextlib.suppress(ValueError, OSError):
        state = json.loads(layout.state_file.read_text())
    pid = read_pid(layout)
    if pid is not None and is_lab_process(pid):
        with contextlib.suppress(ControlError):
            request(layout, "POST", "/shutdown", limit_s=5.0)
        _stop_daemon(layout, pid)
    leftovers = _reap_leftovers(root)
    _wait_ports_closed([(str(h), int(p)) for h, p in state.get("ports", [])])
    _remove_files(layout, keep_data=keep_data, keep_log=keep_data)
    if not keep_data:
        with contextlib.suppress(OSError):
            root.rmdir()  # only if nothing else lives there
    return leftovers


def _stop_daemon(layout: LabLayout, pid: int) -> None:
    """SIGTERM, wait, then SIGKILL its whole process group (the daemon leads its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, DOWN_TIMEOUT):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0)


def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (lab up's failure path)
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def lab_processes(root: Path) -> list[int]:
    """Processes this lab started: its daemon (`etcdtui.lab.daemon --dir ROOT`) and etcd/etcdctl runs on its files."""
    needle = str(root)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if not args:
            continue
        daemon = "etcdtui.lab.daemon" in args and needle in args
        member = Path(args[0]).name in ("etcd", "etcdctl") and any(needle + "/" in a for a in args[1:])
        if (daemon or member) and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _reap_leftovers(root: Path) -> list[int]:
    pids = lab_processes(root)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        _wait_gone(pid, 5.0)
    return pids


def _wait_ports_closed(ports: list[tuple[str, int]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while ports and time.monotonic() < deadline:
        ports = [(h, p) for h, p in ports if accepts_connections(h, p, 0.2)]
        if ports:
            time.sleep(0.1)


def _remove_files(layout: LabLayout, *, keep_data: bool, keep_log: bool) -> None:
    names = RUNTIME_ENTRIES if keep_data else LAB_ENTRIES
    for name in names:
        if keep_log and name == "lab.log":
            continue
        path = layout.root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# == command handlers =====================================================================================
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
