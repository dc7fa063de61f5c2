"""The lab API server's address as its kubeconfig says (kubeone.yaml's apiEndpoint, kubeadm's join command)."""

from __future__ import annotations

import yaml

from etcdtui.lab.layout import LabLayout

DEFAULT_API_PORT = 6443


def api_endpoint(layout: LabLayout) -> tuple[str, int]:
    """The API server address from the lab kubeconfig (written by the daemon), else kubeadm's default."""
    try:
        config = yaml.safe_load(layout.kubeconfig.read_text())
        server = str(config["clusters"][0]["cluster"]["server"])
        hostport = server.split("://", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        return host.strip("[]"), int(port)
    except (OSError, KeyError, IndexError, TypeError, ValueError, yaml.YAMLError):
        return "127.0.0.1", DEFAULT_API_PORT
