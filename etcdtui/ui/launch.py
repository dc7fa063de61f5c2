"""`etcdtui ui` (and plain `etcdtui`): open the ring view on a cluster."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.engine.context_settings import ClusterSettings


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1.0 <= value <= 3600.0:
        raise argparse.ArgumentTypeError("must be between 1 and 3600 seconds")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    parser.add_argument("--context", action="append", default=[],
                        help="kubeconfig context (default: the current context); repeat it for the fleet screen")
    parser.add_argument("--all-contexts", action="store_true",
                        help="the fleet screen: every context of the kubeconfig (or fleet.contexts in config.yaml)")
    parser.add_argument("--namespace", default="kube-system", help="namespace of the etcd pods (default: %(default)s)")
    parser.add_argument("--selector", default="component=etcd", help="label selector (default: %(default)s)")
    parser.add_argument("--readonly", action="store_true", help="hide every mutating action (like k9s --readonly)")
    parser.add_argument(
        "--poll-interval",
        type=_positive,
        default=15.0,
        metavar="SECONDS",
        help="how often etcdctl is run in a member (default: %(default)s)",
    )
    kubeone = parser.add_argument_group("KubeOne (the corruption-checks screen, `c`)")
    kubeone.add_argument("--kubeone", metavar="PATH", help="kubeone binary (default: the context's, else PATH)")
    kubeone.add_argument("--kubeone-manifest", metavar="PATH", help="kubeone.yaml (default: the context's)")
    kubeone.add_argument("--kubeone-tf", metavar="PATH", help="tf.json, terraform output (default: the context's)")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="the ring view (the default when no command is given)",
        description="Open the etcd ring view. Config: $XDG_CONFIG_HOME/etcdtui/config.yaml (docs/config.md).",
    )
    add_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths
    from etcdtui.ui.session import Connection, run_command  # Textual only when the UI opens

    where_flags = ClusterSettings(KubeOnePaths(args.kubeone, args.kubeone_manifest, args.kubeone_tf))
    contexts = list(dict.fromkeys(args.context))
    if args.all_contexts or len(contexts) > 1 or (not contexts and _fleet_configured()):
        return _fleet(args, contexts, where_flags)
    where = Connection(args.kubeconfig, contexts[0] if contexts else None, args.namespace, args.selector,
                       args.poll_interval)
    return run_command(where, readonly=args.readonly, flags=where_flags)


def _fleet_configured() -> bool:
    from etcdtui.engine.fleet_config import FleetConfigError, load_fleet_settings

    try:
        return bool(load_fleet_settings().contexts)
    except FleetConfigError:
        return False  # the UI's config loader reports the bad file


def _fleet(args: argparse.Namespace, contexts: list[str], flags: ClusterSettings) -> int:
    """One context shows the ring view as before; several show the fleet screen first."""
    import sys

    from etcdtui import exitcodes
    from etcdtui.cluster.kube import ClusterError, kubeconfig_contexts
    from etcdtui.engine.fleet_config import FleetConfigError, load_fleet_settings, select_contexts
    from etcdtui.ui.fleet_session import run_fleet_command
    from etcdtui.ui.session import Connection, run_command

    try:
        settings = load_fleet_settings()
        if not contexts:
            available = kubeconfig_contexts(args.kubeconfig)
            contexts = select_contexts(available, settings.contexts) if settings.contexts else available
    except (ClusterError, FleetConfigError) as exc:
        sys.stderr.write(f"etcdtui: {getattr(exc, 'message', None) or exc}\n")
        return exitcodes.UNKNOWN
    if not contexts:
        sys.stderr.write("etcdtui: no context matches fleet.contexts in the config\n")
        return exitcodes.UNKNOWN
    where = Connection(args.kubeconfig, None, args.namespace, args.selector, args.poll_interval)
    if len(contexts) == 1:
        return run_command(Connection(args.kubeconfig, contexts[0], args.namespace, args.selector,
                                      args.poll_interval), readonly=args.readonly, flags=flags)
    return run_fleet_command(where, contexts, settings, readonly=args.readonly, flags=flags)
