"""Per-context cluster settings: where kubeone and its files are, and how to reach the nodes over ssh.

One schema, read from two places that an operator controls, merged in this order (first wins):

1. command-line flags (`--kubeone`, `--kubeone-manifest`, `--kubeone-tf`, `--known-hosts`, `--flavour`);
2. `contexts.<name>.kubeone.*` / `.ssh.*` / `.flavour` in `config.yaml` (docs/config.md);
3. the kubeconfig context's own extension named `etcdtui` (kubectl keeps extensions; `etcdtui lab up`
   writes its settings there, see docs/notes/lab-context-settings.md);
4. top-level `kubeone.*` in `config.yaml`; then the defaults (`kubeone` on PATH, `~/.ssh/known_hosts`).

    contexts:
    - name: prod-eu-1
      context:
        cluster: prod-eu-1
        user: admin
        extensions:
        - name: etcdtui
          extension:
            kubeone: {binary: /opt/kubeone, manifest: /srv/prod/kubeone.yaml, tf: /srv/prod/tf.json}
            ssh: {known_hosts: /srv/prod/known_hosts, user: ubuntu, bastion: ops@bastion.example:2222}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from etcdtui.engine.config_file import ConfigFileError, read_config_file

EXTENSION = "etcdtui"
FLAVOURS = ("kubeone", "kubeadm")
KEYS = ("kubeone", "ssh", "flavour", "backups")  # of contexts.<name> (config.yaml) and of the kubeconfig extension
DEFAULT_BACKUP_MAX_AGE_HOURS = 24.0


class SettingsError(ValueError):
    """One line, fit for stderr."""


@dataclass(frozen=True)
class KubeOnePaths:
    binary: str | None = None
    manifest: str | None = None
    tf: str | None = None

    def over(self, base: KubeOnePaths) -> KubeOnePaths:
        return KubeOnePaths(self.binary or base.binary, self.manifest or base.manifest, self.tf or base.tf)


@dataclass(frozen=True)
class SshSettings:
    known_hosts: str | None = None  # host keys of the nodes and the bastion (default ~/.ssh/known_hosts)
    user: str | None = None  # overrides kubeone.yaml's sshUsername
    bastion: str | None = None  # `[user@]host[:port]`, overrides kubeone.yaml's bastion
    port: int | None = None  # the nodes' sshd port (kubeadm: no kubeone.yaml says it; default 22)
    identity_file: str | None = None  # private key (default: ssh-agent and the ~/.ssh keys)

    def over(self, base: SshSettings) -> SshSettings:
        return SshSettings(self.known_hosts or base.known_hosts, self.user or base.user, self.bastion or base.bastion,
                           self.port or base.port, self.identity_file or base.identity_file)

    def bastion_hop(self) -> tuple[str | None, str, int]:
        """(user, host, port) of `bastion` (port 22 unless given)."""
        assert self.bastion
        user, _, rest = self.bastion.rpartition("@")
        host, _, port = rest.partition(":")
        return user or None, host, int(port) if port else 22


@dataclass(frozen=True)
class BackupSettings:
    dir: str | None = None  # another directory holding this cluster's snapshots (e.g. where a restic restore lands)
    max_age_hours: float | None = None  # the ring view warns when the newest backup is older (default 24)

    def over(self, base: BackupSettings) -> BackupSettings:
        return BackupSettings(self.dir or base.dir, self.max_age_hours or base.max_age_hours)

    @property
    def max_age_s(self) -> float:
        return (self.max_age_hours or DEFAULT_BACKUP_MAX_AGE_HOURS) * 3600.0


@dataclass(frozen=True)
class ClusterSettings:
    kubeone: KubeOnePaths = KubeOnePaths()
    ssh: SshSettings = SshSettings()
    flavour: str | None = None  # kubeone|kubeadm (etcdtui.engine.flavour decides when None)
    backups: BackupSettings = BackupSettings()

    def over(self, base: ClusterSettings) -> ClusterSettings:
        return ClusterSettings(self.kubeone.over(base.kubeone), self.ssh.over(base.ssh),
                               self.flavour or base.flavour, self.backups.over(base.backups))


def parse_cluster_settings(value: Any, where: str) -> ClusterSettings:
    """`{kubeone: {binary, manifest, tf}, ssh: {known_hosts, user, bastion, port, identity_file},
    flavour: kubeone|kubeadm}`; raises `SettingsError`."""
    if value is None:
        return ClusterSettings()
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping with kubeone, ssh, flavour and/or backups")
    unknown = set(value) - set(KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    flavour = value.get("flavour")
    if flavour is not None and flavour not in FLAVOURS:
        raise SettingsError(f"{where}.flavour must be kubeone or kubeadm, not {flavour!r}")
    kubeone = _strings(value.get("kubeone"), f"{where}.kubeone", ("binary", "manifest", "tf"), paths=True)
    raw_ssh = value.get("ssh")
    raw_port = raw_ssh.get("port") if isinstance(raw_ssh, Mapping) else None
    if raw_port is not None and (isinstance(raw_port, bool) or not isinstance(raw_port, int)
                                 or not 0 < raw_port < 65536):
        raise SettingsError(f"{where}.ssh.port must be a port number, not {raw_port!r}")
    ssh_port: int | None = raw_port
    ssh_strings = {k: v for k, v in raw_ssh.items() if k != "port"} if isinstance(raw_ssh, Mapping) else raw_ssh
    ssh = _strings(ssh_strings, f"{where}.ssh", ("known_hosts", "user", "bastion", "identity_file"), paths=False)
    for key in ("known_hosts", "identity_file"):
        if ssh.get(key):
            ssh[key] = os.path.expanduser(str(ssh[key]))
    bastion = ssh.get("bastion")
    if bastion:
        host_port = bastion.rpartition("@")[2]
        host, _, port = host_port.partition(":")
        if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise SettingsError(f"{where}.ssh.bastion: expected [user@]host[:port], got {bastion!r}")
    return ClusterSettings(KubeOnePaths(**kubeone),
                           SshSettings(ssh["known_hosts"], ssh["user"], ssh["bastion"], ssh_port, ssh["identity_file"]),
                           flavour, parse_backup_settings(value.get("backups"), f"{where}.backups"))


def parse_backup_settings(value: Any, where: str) -> BackupSettings:
    """`{dir: PATH, max_age_hours: NUMBER}`; raises `SettingsError`."""
    if value is None:
        return BackupSettings()
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping with dir and/or max_age_hours")
    unknown = set(value) - {"dir", "max_age_hours"}
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    hours = value.get("max_age_hours")
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0):
        raise SettingsError(f"{where}.max_age_hours must be a positive number of hours, not {hours!r}")
    directory = _strings({"dir": value.get("dir")}, where, ("dir",), paths=True)["dir"]
    return BackupSettings(directory, float(hours) if hours is not None else None)


def parse_kubeone_paths(value: Any, where: str) -> KubeOnePaths:
    return KubeOnePaths(**_strings(value, where, ("binary", "manifest", "tf"), paths=True))


def _strings(value: Any, where: str, keys: tuple[str, ...], *, paths: bool) -> dict[str, str | None]:
    if value is None:
        return dict.fromkeys(keys)
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping with {', '.join(keys)}")
    unknown = set(value) - set(keys)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    out: dict[str, str | None] = {}
    for key in keys:
        item = value.get(key)
        if item is not None and not isinstance(item, str):
            raise SettingsError(f"{where}.{key} must be {'a path' if paths else 'a string'}")
        out[key] = (os.path.expanduser(item) if paths else item) if item else None
    return out


def from_kubeconfig(kubeconfig: str | None, context: str | None = None) -> ClusterSettings:
    """The `etcdtui` extension of `context` (default: the current context) in the kubeconfig, files in
    kubectl's order; empty when absent.

    Relative paths in the extension are relative to the kubeconfig file that holds it, as kubectl resolves
    the certificate paths of a kubeconfig.
    """
    for path in _kubeconfig_paths(kubeconfig):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue  # the connection reports a broken kubeconfig; settings are only looked up in good ones
        if context is None and isinstance(doc, dict) and isinstance(doc.get("current-context"), str):
            context = doc["current-context"]
        for item in (doc or {}).get("contexts") or [] if isinstance(doc, dict) else []:
            if not isinstance(item, dict) or item.get("name") != context:
                continue
            extensions = (item.get("context") or {}).get("extensions") or []
            for ext in extensions if isinstance(extensions, list) else []:
                if isinstance(ext, dict) and ext.get("name") == EXTENSION:
                    found = parse_cluster_settings(ext.get("extension"), f"kubeconfig {path}: context {context}")
                    return _relative_to(found, path.parent)
            return ClusterSettings()
    return ClusterSettings()


def settings_for_context(
    context: str,
    kubeconfig: str | None,
    *,
    flags: ClusterSettings | None = None,
    configured: ClusterSettings | None = None,
    fallback: ClusterSettings | None = None,
) -> ClusterSettings:
    """The one resolution, for every command and every context, a lab's included (order in the docstring)."""
    empty = ClusterSettings()
    return ((flags or empty).over(configured or empty).over(from_kubeconfig(kubeconfig, context))
            .over(fallback or empty))


def _relative_to(s: ClusterSettings, base: Path) -> ClusterSettings:
    def fix(path: str | None, command: bool = False) -> str | None:
        if not path or os.path.isabs(path) or (command and "/" not in path):
            return path  # absolute, or a bare command name looked up on PATH
        return str(base / path)

    k, h = s.kubeone, s.ssh
    return ClusterSettings(KubeOnePaths(fix(k.binary, command=True), fix(k.manifest), fix(k.tf)),
                           SshSettings(fix(h.known_hosts), h.user, h.bastion, h.port, fix(h.identity_file)),
                           s.flavour, BackupSettings(fix(s.backups.dir), s.backups.max_age_hours))


def _kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = [Path(p).expanduser() for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return env or [Path("~/.kube/config").expanduser()]


@dataclass(frozen=True)
class ConfiguredClusters:
    """config.yaml's share of the settings: `contexts.<name>.{kubeone,ssh,flavour}` and the top-level
    `kubeone` (the default for every context, applied last)."""

    contexts: Mapping[str, ClusterSettings] = field(default_factory=dict)
    kubeone: KubeOnePaths = KubeOnePaths()

    def cluster_for(self, context: str) -> ClusterSettings:
        return self.contexts.get(context, ClusterSettings())

    def settings_for(self, context: str, kubeconfig: str | None,
                     flags: ClusterSettings | None = None) -> ClusterSettings:
        return settings_for_context(context, kubeconfig, flags=flags, configured=self.cluster_for(context),
                                    fallback=ClusterSettings(kubeone=self.kubeone))


def configured_clusters(data: Mapping[str, Any], where: str) -> ConfiguredClusters:
    """From config.yaml's top-level mapping; raises `SettingsError`. Other keys of a context are left to
    their own layer (the UI's `accent` and `readonly`)."""
    contexts_raw = data.get("contexts") or {}
    if not isinstance(contexts_raw, Mapping):
        raise SettingsError(f"{where}: contexts must be a mapping of context name to settings")
    contexts = {}
    for name, entry in contexts_raw.items():
        entry = {} if entry is None else entry
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where}: contexts.{name} must be a mapping")
        contexts[str(name)] = parse_cluster_settings({k: entry[k] for k in KEYS if k in entry},
                                                     f"{where}: contexts.{name}")
    return ConfiguredClusters(contexts, parse_kubeone_paths(data.get("kubeone"), f"{where}: kubeone"))


def resolve_settings(context: str, kubeconfig: str | None, flags: ClusterSettings | None = None,
                     path: Path | None = None) -> ClusterSettings:
    """`settings_for_context` with config.yaml's share, for commands without the UI; raises `SettingsError`."""
    try:
        where, data = read_config_file(path)
    except ConfigFileError as exc:
        raise SettingsError(str(exc)) from None
    return configured_clusters(data, str(where)).settings_for(context, kubeconfig, flags)
