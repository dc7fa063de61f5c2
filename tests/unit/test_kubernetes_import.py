"""`etcdtui.cluster` loads `kubernetes.aio` without the synchronous client (0.2 s of CPU per `check`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import json, sys
import etcdtui.cluster.kube, etcdtui.cluster.etcdctl_exec, etcdtui.cluster.rawapi
from kubernetes.aio import client
print(json.dumps({"sync": sorted(m for m in ("kubernetes.client", "kubernetes.config", "requests", "urllib3")
                                if m in sys.modules),
                  "api_client": client.ApiClient.__module__}))
"""


def test_the_sync_client_is_never_imported() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    seen = json.loads(done.stdout)
    assert seen == {"sync": [], "api_client": "kubernetes.aio.client.api_client"}


def test_a_process_that_imported_kubernetes_keeps_it() -> None:
    probe = "import kubernetes, etcdtui.cluster.kube, sys; print(kubernetes.__version__, 'kubernetes.client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    version, synced = done.stdout.split()
    assert version and synced == "True"
