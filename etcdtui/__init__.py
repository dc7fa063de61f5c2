"""etcdtui: the etcd ring of a kubeadm/KubeOne cluster at a glance, and the tools to repair it."""

__version__ = "0.1.0"
