"""Command line entry point: `etcdtui [ui options] | check | exporter | scan-logs | lab | replace`.

Each subcommand lives in its own module and registers itself through `add_parser`; this module only
builds the parser, dispatches, and turns unexpected failures into one-line errors (never a traceback).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, cast

from etcdtui import __version__, exitcodes

EXIT_CODES_HELP = """exit codes:
  0  OK: no trouble found / command succeeded
  1  WARNING: warnings only / command failed (one-line error on stderr)
  2  CRITICAL: corruption evidence or quorum lost / a safety gate refused
  3  UNKNOWN: could not check (bad arguments, unreadable input, unreachable cluster)
"""


class _Parser(argparse.ArgumentParser):
    """Bad arguments exit 3 (UNKNOWN, "could not check"), not argparse's 2 (which means CRITICAL here)."""

    def error(self, message: str) -> NoReturn:
        self.exit(exitcodes.UNKNOWN, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="etcdtui",
        description="The etcd ring of a kubeadm/KubeOne cluster at a glance, and the tools to repair it.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"etcdtui {__version__}")
    # Subparsers are `_Parser`s too (argparse uses type(parser)), typed as plain parsers for the registrars.
    sub = cast("argparse._SubParsersAction[argparse.ArgumentParser]",
               parser.add_subparsers(dest="command", metavar="COMMAND"))
    for register in _subcommand_registrars(only):
        register(sub)
    return parser


def _subcommand_registrars(
    only: str | None = None,
) -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    # Imported lazily so `etcdtui --version` and `scan-logs` never pay for Textual or kubernetes.
    registrars = []
    for module_name in (
        "etcdtui.headless.scan_logs",
        "etcdtui.headless.check",
        "etcdtui.headless.exporter",
        "etcdtui.headless.backup",
        "etcdtui.headless.recover",
        "etcdtui.headless.defrag",
        "etcdtui.lab.cli",
        "etcdtui.ui.launch",
        "etcdtui.commands.replace",
    ):
        if only is not None and module_name != only:
            continue
        module = importlib.import_module(module_name)  # a broken import is a bug: never hide a command
        registrars.append(module.add_parser)
    return registrars


# Commands whose module alone is loaded (startup time matters: scan-logs is benchmarked against grep,
# check against the operator's kubectl commands, the ring view against a 600 ms first table; none pays for
# the lab CLI or the other commands' imports).
_FAST_COMMANDS = {"scan-logs": "etcdtui.headless.scan_logs", "check": "etcdtui.headless.check",
                  "lab": "etcdtui.lab.cli", "ui": "etcdtui.ui.launch", "replace": "etcdtui.commands.replace"}


# One-shot commands run as a program leave without the interpreter's teardown of the ~500 modules that
# kubernetes and aiohttp bring (50-100 ms of a 0.5 s `check`, measured with benchmarks/check_vs_manual.py).
_ONE_SHOT = {"check"}


def main(argv: Sequence[str] | None = None) -> int:
    as_program = argv is None  # tests call main([...]) in-process: never os._exit there
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["ui", *argv]  # `etcdtui [ui options]` opens the ring view
    parser = build_parser(_FAST_COMMANDS.get(argv[0]))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return exitcodes.OK
    try:
        code = int(handler(args))
    except KeyboardInterrupt:
        print("etcdtui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exitcodes.OK
    if as_program and argv[0] in _ONE_SHOT:
        _exit_now(code)
    return code


def _exit_now(code: int) -> NoReturn:
    """The answer is written: flush it, run the atexit handlers (the kubernetes client deletes the temporary
    files it wrote the kubeconfig's certificate data to there), then end the process at once."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nobody is reading the answer any more
    atexit._run_exitfuncs()  # CPython's own exit path runs exactly these before tearing down
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
