"""A headless command's kubeone and ssh settings for its context: its flags over the context's settings
(config.yaml `contexts.<name>`, the kubeconfig's `etcdtui` extension), resolved as the app resolves them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.context_settings import ClusterSettings, SshSettings
    from etcdtui.engine.replace import ReplaceSettings


def flags_of(args: argparse.Namespace) -> ClusterSettings:
    """The command line's share of the context's settings (it wins over config.yaml and the kubeconfig)."""
    from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths, SshSettings

    return ClusterSettings(
        KubeOnePaths(getattr(args, "kubeone", None), getattr(args, "kubeone_manifest", None),
                     getattr(args, "kubeone_tf", None)),
        SshSettings(known_hosts=getattr(args, "known_hosts", None)),
        getattr(args, "flavour", None),
    )


def resolved(args: argparse.Namespace, context: str) -> tuple[KubeOneSettings, SshSettings, str | None]:
    """(kubeone, ssh, flavour setting or None). Raises `SettingsError` (one line) for a bad config.yaml or
    kubeconfig extension."""
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.context_settings import resolve_settings

    cluster = resolve_settings(context, args.kubeconfig, flags_of(args))
    return KubeOneSettings.of(cluster.kubeone), cluster.ssh, cluster.flavour


def replace_settings(args: argparse.Namespace, context: str) -> ReplaceSettings:
    """What the replace checklist uses for `args.node`, resolved for `context` exactly as the app resolves it
    (flavour included). Raises `SettingsError`."""
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.context_settings import resolve_settings
    from etcdtui.engine.replace import ReplaceSettings

    cluster = resolve_settings(context, args.kubeconfig, flags_of(args))
    return ReplaceSettings(node=args.node, kubeone=KubeOneSettings.of(cluster.kubeone), ssh=cluster.ssh,
                           state_dir=getattr(args, "state_dir", None), flavour=cluster.flavour)
