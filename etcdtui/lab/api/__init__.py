"""The lab's Kubernetes-compatible API server, split by concern (see `etcdtui.lab.apiserver`)."""
