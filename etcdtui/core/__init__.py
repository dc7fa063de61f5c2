"""Pure etcd knowledge: no Textual, no kubernetes, no asyncssh, no I/O beyond what callers hand in."""
