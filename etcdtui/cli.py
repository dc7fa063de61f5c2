"""Command line entry point: `etcdtui [ui options] | check | scan-logs | lab | replace`.

Each subcommand lives in its own module and registers itself through `add_parser`; this module only
builds the parser, dispatches, and turns unexpected failures into one-line errors (never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from etcdtui import __version__, exitcodes

EXIT_CODES_HELP = """exit codes:
  0  OK: no trouble found / command succeeded
  1  WARNING: warnings only / command failed (one-line error on stderr)
  2  CRITICAL: corruption evidence or quorum lost / a safety gate refused
  3  UNKNOWN: could not check (bad arguments, unreadable input, unreachable cluster)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etcdtui",
        description="The etcd ring of a kubeadm/KubeOne cluster at a glance, and the tools to repair it.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"etcdtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _subcommand_registrars():
        register(sub)
    return parser


def _subcommand_registrars() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    # Imported lazily so `etcdtui --version` and `scan-logs` never pay for Textual or kubernetes.
    registrars = []
    for module_name in (
        "etcdtui.headless.scan_logs",
        "etcdtui.headless.check",
        "etcdtui.lab.cli",
        "etcdtui.ui.launch",
        "etcdtui.ui.replace_cli",
    ):
        try:
            module = __import__(module_name, fromlist=["add_parser"])
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("etcdtui"):
                continue  # feature not built yet
            raise
        registrars.append(module.add_parser)
    return registrars


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return exitcodes.OK
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("etcdtui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exitcodes.OK


if __name__ == "__main__":
    raise SystemExit(main())
