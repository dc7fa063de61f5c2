"""Adapters to the outside world (Kubernetes API, etcdctl via exec, ssh, local commands). No Textual."""
