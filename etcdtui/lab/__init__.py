"""The local lab: a real etcd ring behind a Kubernetes-compatible API, ssh nodes and a kubeone."""
