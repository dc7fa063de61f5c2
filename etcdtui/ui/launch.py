"""`etcdtui ui` (and plain `etcdtui`): open the ring view on a cluster."""

from __future__ import annotations

import argparse


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
    parser.add_argument("--context", help="kubeconfig context (default: the current context)")
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
    kubeone.add_argument("--kubeone", metavar="PATH", help="kubeone binary (default: the lab's, else kubeone on PATH)")
    kubeone.add_argument("--kubeone-manifest", metavar="PATH", help="kubeone.yaml (default: the lab's)")
    kubeone.add_argument("--kubeone-tf", metavar="PATH", help="tf.json, terraform output (default: the lab's)")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="the ring view (the default when no command is given)",
        description="Open the etcd ring view. Config: $XDG_CONFIG_HOME/etcdtui/config.yaml (docs/config.md).",
    )
    add_arguments(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from etcdtui.ui.session import Connection, KubeOneFlags, run_command  # Textual only when the UI opens

    where = Connection(args.kubeconfig, args.context, args.namespace, args.selector, args.poll_interval)
    return run_command(where, readonly=args.readonly,
                       kubeone=KubeOneFlags(args.kubeone, args.kubeone_manifest, args.kubeone_tf))
