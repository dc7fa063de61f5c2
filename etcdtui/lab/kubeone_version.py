"""The lab kubeone's version: git version string, `kubeone version` JSON, and the etcd flags that version sets."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

DEFAULT_VERSION = "1.8.2"
VERSION_ENV = "ETCDTUI_LAB_KUBEONE_VERSION"
VERSION_FILE = "kubeone-version"  # in the lab dir: lets a test or a demo make this kubeone "old"
MACHINE_CONTROLLER = "v1.59.1"

# == version ================================================================================================
def git_version(lab_dir: Path) -> str:
    value = os.environ.get(VERSION_ENV, "").strip()
    if not value:
        try:
            value = (lab_dir / VERSION_FILE).read_text().strip()
        except OSError:
            value = ""
    return value or DEFAULT_VERSION


def version_triple(git: str) -> tuple[int, int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", git)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def version_json(git: str) -> str:
    triple = version_triple(git)
    mc = version_triple(MACHINE_CONTROLLER)
    assert mc is not None
    info = {
        "kubeone": {
            "major": str(triple[0]) if triple else "",
            "minor": str(triple[1]) if triple else "",
            "gitVersion": git,
            "gitCommit": "0e5ea0d6b4a31e9ffd2f2b0eb6c0a7f3a1ad2b1c",
            "gitTreeState": "",
            "buildDate": "2024-06-14T10:12:08Z",
            "goVersion": "go1.22.4",
            "compiler": "gc",
            "platform": "linux/amd64",
        },
        "machine_controller": {
            "major": str(mc[0]),
            "minor": str(mc[1]),
            "gitVersion": MACHINE_CONTROLLER,
            "gitCommit": "",
            "gitTreeState": "",
            "buildDate": "",
            "goVersion": "",
            "compiler": "",
            "platform": "linux/amd64",
        },
    }
    return json.dumps(info, indent=2) + "\n"


def corruption_flags(git: str) -> list[str]:
    """The etcd flags this KubeOne version renders into the kubeadm config (§2.6; k8s < 1.31 path)."""
    v = version_triple(git)
    if v is None:
        return []
    basic = (1, 3, 4) <= v < (1, 4, 0) or v >= (1, 4, 1)
    if not basic:
        return []
    flags = ["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=240m"]
    compact = (1, 4, 12) <= v < (1, 5, 0) or v >= (1, 5, 4)
    if compact:
        flags.append("--experimental-compact-hash-check-enabled=true")
    return flags
