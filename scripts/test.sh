#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, then runs the whole suite:
# unit, integration (real etcd, real HTTP through the kubernetes client, real sshd, real Prometheus and
# Alertmanager) and UI (Pilot, snapshots).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  need=""
  for pkg in openssh-server openssh-client sudo prometheus prometheus-alertmanager; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
  done
  if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
fi
python3 -c "import etcdtui, pytest_asyncio, pytest_textual_snapshot, pytest_timeout" 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check -e '.[test]'

exec python3 -m pytest -q -p no:cacheprovider "$@"
