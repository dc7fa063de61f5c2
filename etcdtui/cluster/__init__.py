"""Adapters to the outside world (Kubernetes API, etcdctl via exec, ssh, local commands). No Textual."""

from etcdtui.cluster.kubernetes_import import load_aio_only

load_aio_only()
