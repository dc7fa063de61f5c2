"""`etcdtui.cluster` loads `kubernetes.aio` without the synchronous client (0.2 s of CPU per `check`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import json, sys
import etcdtui.cluster.kube, etcdtui.cluster.etcdctl_exec, etcdtui.cluster.rawapi
import kubernetes
from kubernetes.aio import client
print(json.dumps({"sync": sorted(m for m in ("kubernetes.client", "kubernetes.config", "requests", "urllib3")
                                if m in sys.modules),
                  "api_client": client.ApiClient.__module__,
                  "models": kubernetes.aio.client.models.V1Pod.__name__}))
"""


def test_the_sync_client_is_never_imported() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    seen = json.loads(done.stdout)
    assert seen == {"sync": [], "api_client": "kubernetes.aio.client.api_client", "models": "V1Pod"}


def test_a_process_that_imported_kubernetes_keeps_it() -> None:
    probe = "import kubernetes, etcdtui.cluster.kube, sys; print(kubernetes.__version__, 'kubernetes.client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    version, synced = done.stdout.split()
    assert version and synced == "True"


def test_aiohttp_s_unused_default_contexts_trust_nothing_and_the_environment_is_restored() -> None:
    probe = """
import json, os
os.environ["SSL_CERT_DIR"] = "/etc/ssl/certs"
import etcdtui.cluster
import aiohttp.connector as c
print(json.dumps({"aiohttp": c._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
                  "env": [os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")]}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60, env=env)
    assert json.loads(done.stdout) == {"aiohttp": 0, "env": [None, "/etc/ssl/certs"]}
