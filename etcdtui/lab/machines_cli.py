"""`etcdtui lab destroy-node NODE`, `lab provision-node NODE [--keep-known-hosts]`, `lab lose-quorum`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from etcdtui import exitcodes
from etcdtui.lab.control_client import ControlError, request
from etcdtui.lab.layout import LabLayout

Fail = Callable[[str, str], int]


def _post(args: argparse.Namespace, path: str, body: dict[str, Any], layout: LabLayout, fail: Fail) -> int:
    try:
        result = request(layout, "POST", path, body, limit_s=60.0)
    except ControlError as exc:
        return fail(path.strip("/"), str(exc))
    sys.stdout.write(f"{result.get('message', 'ok')}\n")
    return exitcodes.OK


def add_machine_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    dir_option: Callable[[argparse.ArgumentParser], None],
    layout_of: Callable[[argparse.Namespace], LabLayout],
    fail: Fail,
) -> None:
    def destroy(args: argparse.Namespace) -> int:
        return _post(args, "/destroy-node", {"node": args.node}, layout_of(args), fail)

    def provision(args: argparse.Namespace) -> int:
        body = {"node": args.node, "keep_known_hosts": args.keep_known_hosts}
        return _post(args, "/provision-node", body, layout_of(args), fail)

    def lose_quorum(args: argparse.Namespace) -> int:
        return _post(args, "/lose-quorum", {}, layout_of(args), fail)

    p = sub.add_parser("destroy-node", help="the machine is gone: etcd stopped for good, ssh unreachable, "
                                            "Node NotReady")
    p.add_argument("node", metavar="NODE")
    dir_option(p)
    p.set_defaults(handler=destroy)

    p = sub.add_parser("provision-node", help="a fresh empty machine at a destroyed node's address, new host key "
                                              "added to the lab's known_hosts (like ssh-keyscan)")
    p.add_argument("node", metavar="NODE")
    p.add_argument("--keep-known-hosts", action="store_true",
                   help="leave the old host key in known_hosts (clients must refuse the machine)")
    dir_option(p)
    p.set_defaults(handler=provision)

    p = sub.add_parser("lose-quorum", help="destroy the majority of etcd members at once (data gone); "
                                           "their machines still answer ssh")
    dir_option(p)
    p.set_defaults(handler=lose_quorum)
