"""A headless command's kubeone and ssh settings for its context: its flags over the context's settings
(config.yaml `contexts.<name>`, the kubeconfig's `etcdtui` extension), resolved as the app resolves them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.context_settings import SshSettings


def resolved(args: argparse.Namespace, context: str) -> tuple[KubeOneSettings, SshSettings]:
    """Raises `SettingsError` (one line) for a bad config.yaml or kubeconfig extension."""
    from etcdtui.engine.checks import KubeOneSettings
    from etcdtui.engine.context_settings import ClusterSettings, KubeOnePaths, SshSettings, resolve_settings

    flags = ClusterSettings(
        KubeOnePaths(getattr(args, "kubeone", None), getattr(args, "kubeone_manifest", None),
                     getattr(args, "kubeone_tf", None)),
        SshSettings(known_hosts=getattr(args, "known_hosts", None)),
    )
    cluster = resolve_settings(context, args.kubeconfig, flags)
    return KubeOneSettings.of(cluster.kubeone), cluster.ssh
