"""Textual UI: renders state and dispatches actions; no etcd knowledge of its own."""
