"""The lab's `kubeone` executable: `kubeone version` and `kubeone apply` as KubeOne behaves for what etcdtui
uses (kubeone-procedure.md §1, §2): JSON version, manifest and tf.json loading with KubeOne's errors and exit
codes, host probes over real SSH, leader election, the plan text, the TTY-only `Do you want to proceed
(yes/no): ` prompt, logrus-style logs on stderr. The work itself is done by the lab daemon (`kubeone.py`).

Run through `bin/kubeone` (written by `write_kubeone_files`), which passes the lab directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import asyncssh
import yaml

from etcdtui.lab.layout import LabLayout

DEFAULT_VERSION = "1.8.2"
VERSION_ENV = "ETCDTUI_LAB_KUBEONE_VERSION"
VERSION_FILE = "kubeone-version"  # in the lab dir: lets a test or a demo make this kubeone "old"
MACHINE_CONTROLLER = "v1.59.1"
SUPPORTED_API_VERSIONS = {"kubeone.k8c.io/v1beta2", "kubeone.k8c.io/v1beta3"}
PROMPT = "Do you want to proceed (yes/no): "
SSH_TIMEOUT = 10.0
APPLY_TIMEOUT = 600.0

# Exit codes of KubeOne >= 1.5 (pkg/fail/exitcodes.go)
EXIT_DEFAULT, EXIT_RUNTIME, EXIT_SSH, EXIT_CONFIG = 1, 10, 13, 15


class KubeOneError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def runtime_error(op: str, err: str) -> KubeOneError:
    return KubeOneError(f"runtime: {op}\n{err}", EXIT_RUNTIME)


def config_error(message: str) -> KubeOneError:
    return KubeOneError(message, EXIT_CONFIG)


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


# == logging (logrus text formatter) ========================================================================
LEVEL_COLORS = {"debug": 37, "info": 36, "warn": 33, "warning": 33, "error": 31}
_SAFE = re.compile(r"^[A-Za-z0-9\-._/@^+]+$")


class Logger:
    def __init__(self, stream: TextIO, *, verbose: bool) -> None:
        self._stream = stream
        self._verbose = verbose
        self._color = stream.isatty()

    def log(self, level: str, msg: str, **fields: str) -> None:
        if level == "debug" and not self._verbose:
            return
        level = "warning" if level == "warn" else level
        stamp = time.strftime("%H:%M:%S %Z")
        if self._color:
            color = LEVEL_COLORS.get(level, 36)
            line = f"\x1b[{color}m{level.upper()[:4]}\x1b[0m[{stamp}] {msg:<44} "
            line += "".join(f" \x1b[{color}m{k}\x1b[0m={v}" for k, v in fields.items())
        else:
            parts = [f"time={_quote(stamp)}", f"level={level}", f"msg={_quote(msg)}"]
            parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
            line = " ".join(parts)
        self._stream.write(line.rstrip() + "\n")
        self._stream.flush()

    def info(self, msg: str, **fields: str) -> None:
        self.log("info", msg, **fields)

    def warn(self, msg: str, **fields: str) -> None:
        self.log("warn", msg, **fields)

    def error(self, msg: str, **fields: str) -> None:
        self.log("error", msg, **fields)


def _quote(value: str) -> str:
    return value if _SAFE.match(value) else json.dumps(value, ensure_ascii=False)


# == arguments ==============================================================================================
@dataclass
class Options:
    command: str = ""
    args: list[str] = field(default_factory=list)
    manifest: str = "./kubeone.yaml"
    tfjson: str = ""
    verbose: bool = False
    debug: bool = False
    auto_approve: bool = False
    force_upgrade: bool = False


VALUE_FLAGS = {"-m": "manifest", "--manifest": "manifest", "-t": "tfjson", "--tfjson": "tfjson",
               "-c": "", "--credentials": "", "-l": "", "--log-format": "", "-b": "", "--backup": ""}
BOOL_FLAGS = {"-v": "verbose", "--verbose": "verbose", "-d": "debug", "--debug": "debug",
              "-y": "auto_approve", "--auto-approve": "auto_approve", "--force-upgrade": "force_upgrade",
              "--no-init": "", "--force-install": "", "--upgrade-machine-deployments": "",
              "--create-machine-deployments": ""}


def parse_args(argv: list[str]) -> Options:
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg == "--":
            opts.args += argv[i + 1 :]
            break
        if name in VALUE_FLAGS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise KubeOneError(f"flag needs an argument: {arg}", EXIT_DEFAULT)
                value = argv[i]
            if VALUE_FLAGS[name]:
                setattr(opts, VALUE_FLAGS[name], value)
        elif name in BOOL_FLAGS:
            if BOOL_FLAGS[name]:
                setattr(opts, BOOL_FLAGS[name], value.lower() not in {"false", "0"} if eq else True)
        elif arg.startswith("--"):
            raise KubeOneError(f"unknown flag: {name}", EXIT_DEFAULT)
        elif arg.startswith("-") and len(arg) > 1:
            raise KubeOneError(f"unknown shorthand flag: {arg[1]!r} in {arg}".replace('"', "'"), EXIT_DEFAULT)
        elif not opts.command:
            opts.command = arg
        else:
            opts.args.append(arg)
        i += 1
    return opts


# == manifest and terraform output ==========================================================================
@dataclass
class Host:
    hostname: str
    private_address: str
    public_address: str
    ssh_port: int
    ssh_user: str
    ssh_key_file: str
    ssh_host_key: str | None
    bastion: str
    bastion_port: int
    bastion_user: str
    bastion_host_key: str | None


@dataclass
class Cluster:
    name: str
    kubernetes: str
    hosts: list[Host]


def _read(path: str, op: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise runtime_error(op, f"read {path}: is a directory") from None
    except OSError as exc:
        raise runtime_error(op, f"open {path}: {(exc.strerror or str(exc)).lower()}") from None


def load_cluster(manifest_path: str, tf_path: str) -> Cluster:
    raw = _read(manifest_path, "reading cluster configuration")
    if tf_path == "-":
        tf_raw: bytes | None = sys.stdin.buffer.read()
    else:
        tf_raw = _read(tf_path, "reading terraform output file") if tf_path else None
    try:
        manifest = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise config_error(f"configuration unmarshal cluster typeMeta\n{exc}") from None
    if not isinstance(manifest, dict) or not manifest.get("apiVersion") or not manifest.get("kind"):
        raise config_error("apiVersion and kind must be present in the manifest")
    if manifest["kind"] != "KubeOneCluster":
        raise config_error(f'provided object "{manifest["kind"]}" is not KubeOneCluster object')
    if manifest["apiVersion"] not in SUPPORTED_API_VERSIONS:
        raise config_error(f'provided apiVersion "{manifest["apiVersion"]}" is not supported')
    kubernetes = str((manifest.get("versions") or {}).get("kubernetes") or "")
    if not kubernetes:
        raise config_error("versions.kubernetes: Required value: kubernetes version is required")
    hosts = [_host_from_manifest(h) for h in (manifest.get("controlPlane") or {}).get("hosts") or []]
    if tf_raw is not None:
        try:
            tf = json.loads(tf_raw)
        except ValueError as exc:
            raise config_error(f"configuration unmarshalling terraform output\n{exc}") from None
        tf_hosts = _hosts_from_terraform(tf)
        if tf_hosts:
            hosts = tf_hosts  # tf.json control-plane hosts replace the manifest's entirely, like KubeOne
    if not hosts:
        raise config_error("controlPlane.hosts: Required value: no control plane hosts are given")
    return Cluster(str(manifest.get("name") or ""), kubernetes, hosts)


def _host_from_manifest(h: dict[str, Any]) -> Host:
    private = str(h.get("privateAddress") or h.get("publicAddress") or "")
    user = str(h.get("sshUsername") or "root")
    return Host(
        hostname=str(h.get("hostname") or ""),
        private_address=private,
        public_address=str(h.get("publicAddress") or private),
        ssh_port=int(h.get("sshPort") or 22),
        ssh_user=user,
        ssh_key_file=str(h.get("sshPrivateKeyFile") or ""),
        ssh_host_key=h.get("sshHostPublicKey") or None,
        bastion=str(h.get("bastion") or ""),
        bastion_port=int(h.get("bastionPort") or 22),
        bastion_user=str(h.get("bastionUser") or user),
        bastion_host_key=h.get("bastionHostPublicKey") or None,
    )


def _hosts_from_terraform(tf: Any) -> list[Host]:
    try:
        cp = tf["kubeone_hosts"]["value"]["control_plane"]
    except (KeyError, TypeError):
        return []
    private = list(cp.get("private_address") or [])
    public = list(cp.get("public_address") or private)
    names = list(cp.get("hostnames") or [])
    host_keys = list(cp.get("ssh_hosts_keys") or [])
    user = str(cp.get("ssh_user") or "root")
    hosts = []
    for i, addr in enumerate(public):
        hosts.append(Host(
            hostname=names[i] if i < len(names) else "",
            private_address=private[i] if i < len(private) else addr,
            public_address=addr,
            ssh_port=int(cp.get("ssh_port") or 22),
            ssh_user=user,
            ssh_key_file=str(cp.get("ssh_private_key_file") or ""),
            ssh_host_key=host_keys[i] if i < len(host_keys) else None,
            bastion=str(cp.get("bastion") or ""),
            bastion_port=int(cp.get("bastion_port") or 22),
            bastion_user=str(cp.get("bastion_user") or user),
            bastion_host_key=cp.get("bastion_host_key") or None,
        ))
    return hosts


def _out(text: str = "") -> None:
    """KubeOne prints plan and prompt with fmt.Print* to stdout."""
    sys.stdout.write(text + "\n")


# == ssh probes ===============================================================================================
def _known_hosts(key: str | None) -> Any:
    """KubeOne verifies a host key only when one is configured; otherwise it accepts any (§7.2)."""
    if not key:
        return None
    return ([asyncssh.import_public_key(key)], [], [])


async def _probe_host(host: Host) -> str:
    """Connect like KubeOne (through the bastion if any) and return the host's hostname."""
    keys = [host.ssh_key_file] if host.ssh_key_file else ()
    common: dict[str, Any] = {"client_keys": keys, "config": [], "agent_path": None, "connect_timeout": SSH_TIMEOUT}
    tunnel = None
    try:
        if host.bastion:
            tunnel = await asyncssh.connect(
                host.bastion, host.bastion_port, username=host.bastion_user,
                known_hosts=_known_hosts(host.bastion_host_key), **common,
            )
        async with await asyncssh.connect(
            host.public_address, host.ssh_port, username=host.ssh_user, tunnel=tunnel,
            known_hosts=_known_hosts(host.ssh_host_key), **common,
        ) as conn:
            result = await conn.run("hostname -f", check=False, timeout=SSH_TIMEOUT)
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise KubeOneError(
            f"ssh: connection to {host.public_address}:{host.ssh_port}\n{exc or type(exc).__name__}", EXIT_SSH
        ) from None
    finally:
        if tunnel is not None:
            tunnel.close()
    return str(result.stdout or "").strip()


# == the daemon's control API ===============================================================================
def _session(layout: LabLayout) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(path=str(layout.control_socket)),
        timeout=aiohttp.ClientTimeout(total=APPLY_TIMEOUT),
    )


async def _get_state(layout: LabLayout) -> dict[str, Any]:
    try:
        async with _session(layout) as session, session.get("http://lab/kubeone/state") as resp:
            resp.raise_for_status()
            return dict(await resp.json())
    except (aiohttp.ClientError, OSError) as exc:
        raise runtime_error("probing the cluster", f"the etcdtui lab in {layout.root} is not reachable: {exc}") from None


async def _post_apply(layout: LabLayout, body: dict[str, Any], logger: Logger) -> None:
    try:
        async with _session(layout) as session, session.post("http://lab/kubeone/apply", json=body) as resp:
            if resp.status != 200:
                raise runtime_error("reconciling the cluster", (await resp.json()).get("error", resp.reason))
            async for raw in resp.content:
                record = json.loads(raw)
                if record.get("done"):
                    if not record.get("ok"):
                        logger.warn(f"Task failed, error was: {record.get('error')}")
                        raise runtime_error("reconciling the cluster", str(record.get("error")))
                    return
                fields = {k: str(v) for k, v in record.items() if k not in {"level", "msg"}}
                logger.log(str(record.get("level", "info")), str(record.get("msg", "")), **fields)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise runtime_error("reconciling the cluster", f"lost the etcdtui lab: {exc}") from None
    raise runtime_error("reconciling the cluster", "the lab ended the stream without a result")


# == apply ====================================================================================================
def _confirm(auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not (os.isatty(sys.stdin.fileno()) and os.isatty(sys.stdout.fileno())):
        raise runtime_error("terminal detecting", "not running in the terminal")
    sys.stdout.write(PROMPT)
    sys.stdout.flush()
    line = sys.stdin.readline()
    _out()
    return line.strip("\n") == "yes"


def _kver(v: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v or "")[:3])


async def apply(opts: Options, layout: LabLayout, git: str) -> int:
    cluster = load_cluster(opts.manifest, opts.tfjson)
    logger = Logger(sys.stderr, verbose=opts.verbose)
    logger.info("Determine hostname...")
    names = await asyncio.gather(*(_probe_host(h) for h in cluster.hosts))
    for host, name in zip(cluster.hosts, names, strict=True):
        host.hostname = host.hostname or name
    logger.info("Determine operating system...")
    logger.info("Running host probes...")
    state = await _get_state(layout)
    lab = {h["hostname"]: h for h in state["hosts"]}
    unknown = [h.hostname for h in cluster.hosts if h.hostname not in lab]
    if unknown:
        raise config_error(f'host "{unknown[0]}" is not a node of this lab (lab nodes: {", ".join(lab)})')
    live = [lab[h.hostname] for h in cluster.hosts]
    logger.info("Electing cluster leader...")
    leader = next((h for h, s in zip(cluster.hosts, live, strict=True) if s["node_exists"] and s["healthy"]), None)
    if leader is None:
        logger.error("Failed to elect leader.")
        logger.error("Quorum is mostly like lost, manual cluster repair might be needed.")
        raise runtime_error("leader election", "quorum mostly like lost")
    logger.info(f'Elected leader "{leader.hostname}"...')
    logger.info("Running cluster probes...")

    broken = [h.hostname for h, s in zip(cluster.hosts, live, strict=True) if s["node_exists"] and not (s["healthy"] and s["node_ready"])]
    missing = [h for h, s in zip(cluster.hosts, live, strict=True) if not s["node_exists"]]
    highest = max((s["kubelet_version"] for s in live if s["node_exists"] and s["kubelet_version"]), key=_kver, default=None)
    if broken or missing:
        for name in broken:
            logger.error(f'Host "{name}" is broken and needs to be manually removed')
        if broken:
            logger.warn("Hosts must be removed in a correct order to preserve the Etcd quorum.")
            logger.warn("Loss of the Etcd quorum can cause loss of all data!!!")
            logger.warn("After removing the recommended hosts, run 'kubeone apply' before removing any other host.")
        if highest and _kver(cluster.kubernetes) > _kver(highest):
            logger.error("Repair and upgrade are not supported at the same time!")
            logger.warn(f"Requested version: {cluster.kubernetes}")
            logger.warn(f"Highest version: {highest}")
            logger.warn(f"Use version {highest} to repair the cluster, then run apply with the new version")
            raise config_error("repair and upgrade are not supported at the same time")
        if missing:
            return await _apply_install(opts, layout, cluster, missing, logger)
        raise config_error("broken host(s) found, remove it manually")
    return await _apply_upgrade(opts, layout, cluster, leader, live, logger, git)


async def _apply_install(opts: Options, layout: LabLayout, cluster: Cluster, missing: list[Host], logger: Logger) -> int:
    _out("The following actions will be taken: ")
    _out("Run with --verbose flag for more information.")
    for host in missing:
        _out(f'\t+ join control plane node "{host.hostname}" ({host.private_address}) using {cluster.kubernetes}')
    _out()
    sys.stdout.flush()
    if not _confirm(opts.auto_approve):
        logger.info("Operation canceled.")
        return 0
    logger.info("Installing prerequisites...")
    logger.info("Generating kubeadm config file...")
    logger.info("Uploading config files...")
    await _post_apply(layout, {"action": "join", "nodes": [h.hostname for h in missing]}, logger)
    return 0


async def _apply_upgrade(
    opts: Options, layout: LabLayout, cluster: Cluster, leader: Host, live: list[dict[str, Any]], logger: Logger, git: str
) -> int:
    kubelets = [s["kubelet_version"] for s in live]
    if any(_kver(cluster.kubernetes) < _kver(k) for k in kubelets):
        logger.error("Upgrade not allowed: cluster downgrades are disallowed")
        raise config_error("cluster downgrades are disallowed")
    if any(_kver(cluster.kubernetes) > _kver(k) for k in kubelets):
        raise config_error(f"the etcdtui lab cannot upgrade Kubernetes (it runs {kubelets[0]}; "
                           f"set versions.kubernetes to {str(kubelets[0]).removeprefix('v')})")
    _out("The following actions will be taken: ")
    if not opts.verbose:
        _out("Run with --verbose flag for more information.")
    _out()
    if not opts.force_upgrade:
        sys.stdout.flush()
        logger.info("Nothing to do: every control plane host is in the cluster, healthy and at the requested version.")
        return 0
    order = [leader] + [h for h in cluster.hosts if h is not leader]
    by_name = {s["hostname"]: s for s in live}
    for host in order:
        _out(f'\t~ force upgrade control plane node "{host.hostname}" ({host.private_address}): '
              f'{by_name[host.hostname]["kubelet_version"]} -> {cluster.kubernetes}')
    _out()
    sys.stdout.flush()
    if not _confirm(opts.auto_approve):
        logger.info("Operation canceled.")
        return 0
    logger.info("Generating kubeadm config file...")
    logger.info("Uploading config files...")
    body = {"action": "force-upgrade", "nodes": [h.hostname for h in order], "flags": corruption_flags(git)}
    await _post_apply(layout, body, logger)
    return 0


# == entry point ============================================================================================
USAGE = """kubeone (etcdtui lab) is a reduced KubeOne: enough of `version` and `apply` for the lab.

Usage:
  kubeone [command]

Available Commands:
  apply       Reconcile the cluster
  version     Print the version information

Flags:
  -m, --manifest string   Path to the KubeOne config (default "./kubeone.yaml")
  -t, --tfjson string     Source for terraform output in JSON - to read from stdin
  -v, --verbose           verbose output
"""


def _report(err: KubeOneError, git: str) -> int:
    v = version_triple(git)
    if v is not None and v < (1, 5, 0):
        _out(str(err))  # KubeOne 1.4.x prints the error to stdout and exits with -1 (255)
        return 255
    sys.stderr.write(f"Error: {err}\n")
    return err.code


def main(argv: list[str] | None = None, *, lab_dir: str | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    layout = LabLayout(Path(lab_dir or os.environ.get("ETCDTUI_LAB_DIR") or "."))
    git = git_version(layout.root)
    try:
        opts = parse_args(args)
        if opts.command in {"", "help"} or "-h" in args or "--help" in args:
            sys.stdout.write(USAGE)
            return 0
        if opts.command == "version":
            if opts.args:
                raise KubeOneError(f'unknown command "{opts.args[0]}" for "kubeone version"', EXIT_DEFAULT)
            sys.stdout.write(version_json(git))
            return 0
        if opts.command == "apply":
            return asyncio.run(apply(opts, layout, git))
        raise KubeOneError(f'unknown command "{opts.command}" for "kubeone"\nRun \'kubeone --help\' for usage.', EXIT_DEFAULT)
    except KubeOneError as err:
        return _report(err, git)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--lab-dir":
        sys.exit(main(sys.argv[3:], lab_dir=sys.argv[2]))
    sys.exit(main())
