"""Where `kubeone` and its files are, and whether it can enable the corruption checks (kubeone-procedure §1).

The binary (the context's settings, else PATH), `kubeone version` run through the runner and parsed (≥ 1.4.1
needed), and the `kubeone.yaml`/`tf.json` paths checked readable, the manifest parsed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from etcdtui.cluster.runner import CommandNotFoundError, CommandSpec, RunnerError, run_command
from etcdtui.core.kubeone import (
    KubeOneCluster,
    KubeOneVersion,
    corruption_check_support,
    parse_kubeone_manifest,
    parse_kubeone_version_text,
)
from etcdtui.engine.checks_results import KubeOneFacts
from etcdtui.engine.context_settings import KubeOnePaths

VERSION_TIMEOUT = 20.0
CONFIGURED = "configured"  # the source of a kubeone path given by a flag or the context's settings


@dataclass(frozen=True)
class KubeOneSettings:
    """Where kubeone and its files are: the context's settings (`engine/context_settings.py`), else PATH."""

    binary: str | None = None
    manifest: str | None = None
    tfjson: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    path_env: str | None = None  # PATH to search (None: this process's)

    @classmethod
    def of(cls, paths: KubeOnePaths) -> KubeOneSettings:
        return cls(paths.binary, paths.manifest, paths.tf)


class KubeOneTool:
    """The `kubeone` of one context's settings."""

    def __init__(self, settings: KubeOneSettings) -> None:
        self.settings = settings

    def _find_binary(self) -> tuple[str | None, str, str | None]:
        s = self.settings
        if s.binary:
            path = Path(s.binary)
            if "/" not in s.binary:
                found = shutil.which(s.binary, path=s.path_env)
                return (found, CONFIGURED, None) if found else (None, CONFIGURED, f"kubeone: {s.binary} not found on PATH")
            if not path.is_file():
                return None, CONFIGURED, f"kubeone: {s.binary}: no such file"
            if not os.access(path, os.X_OK):
                return None, CONFIGURED, f"kubeone: {s.binary} is not executable"
            return str(path), CONFIGURED, None
        found = shutil.which("kubeone", path=s.path_env)
        if found:
            return found, "PATH", None
        return None, "", "kubeone not found: install KubeOne 1.4.1 or later, or pass --kubeone PATH"

    def _file(self, configured: str | None, what: str) -> tuple[str | None, str, str | None]:
        if not configured:
            key = "manifest" if what == "kubeone.yaml" else "tf"
            return None, "", (f"{what}: not configured (pass --kubeone-{key}, or set contexts.<name>.kubeone.{key} "
                              "in config.yaml)")
        path, source = Path(configured), CONFIGURED
        try:
            with path.open("rb") as fh:
                fh.read(1)
        except OSError as exc:
            return str(path), source, f"{what} {path}: {exc.strerror or exc}"
        return str(path), source, None

    async def facts(self) -> KubeOneFacts:
        s = self.settings
        binary, binary_source, binary_error = await asyncio.to_thread(self._find_binary)
        version = support = None
        version_error = None
        if binary is not None:
            version, version_error = await self._version(binary)
            support = corruption_check_support(version) if version is not None else None
        manifest, m_source, m_error = await asyncio.to_thread(
            self._file, s.manifest, "kubeone.yaml")
        cluster = None
        if manifest and not m_error:
            cluster, m_error = await asyncio.to_thread(_load_manifest, manifest)
        tf, tf_source, tf_error = await asyncio.to_thread(self._file, s.tfjson, "tf.json")
        if tf is None:
            tf_error = None  # tf.json is optional: kubeone.yaml may carry the hosts
        return KubeOneFacts(binary, binary_source, binary_error, version, version_error, support, manifest, m_source,
                            m_error, cluster, tf, tf_source, tf_error)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.settings.path_env is not None:
            env["PATH"] = self.settings.path_env
        env.update(self.settings.extra_env)
        return env

    async def _version(self, binary: str) -> tuple[KubeOneVersion | None, str | None]:
        lines: list[str] = []
        spec = CommandSpec((binary, "version"), env=self.env(), merge_stderr=True, no_color=True)
        try:
            result = await asyncio.wait_for(
                run_command(spec, on_batch=lambda b: lines.extend(b.lines[:200])), VERSION_TIMEOUT
            )
        except TimeoutError:
            return None, f"`{binary} version` did not answer within {VERSION_TIMEOUT:.0f} s"
        except (CommandNotFoundError, RunnerError) as exc:
            return None, f"kubeone: {exc}"
        text = "\n".join(lines)
        if not result.ok:
            last = next((ln for ln in reversed(lines) if ln.strip()), "")
            return None, f"{result.describe()}" + (f": {last.strip()}" if last else "")
        try:
            return parse_kubeone_version_text(text), None
        except ValueError as exc:
            return None, f"{binary}: {exc}"


def _load_manifest(path: str) -> tuple[KubeOneCluster | None, str | None]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        return parse_kubeone_manifest(doc), None
    except OSError as exc:
        return None, f"kubeone.yaml {path}: {exc.strerror or exc}"
    except yaml.YAMLError:
        return None, f"kubeone.yaml {path}: not valid YAML"
    except ValueError as exc:
        return None, f"{path}: {exc}"

