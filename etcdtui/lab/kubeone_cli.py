"""The lab's `kubeone` executable: `kubeone version` and `kubeone apply` as KubeOne behaves for what etcdtui
uses (kubeone-procedure.md §1, §2): JSON version, manifest and tf.json loading with KubeOne's errors and exit
codes, host probes over real SSH, leader election, the plan text, the TTY-only `Do you want to proceed
(yes/no): ` prompt, logrus-style logs on stderr. The work itself is done by the lab daemon (`kubeone.py`).

Run through `bin/kubeone` (written by `write_kubeone_files`), which passes the lab directory. Its parts:
`kubeone_version` (version JSON, the etcd flags a version sets), `kubeone_manifest` (kubeone.yaml, tf.json),
`kubeone_log` (logrus lines), `kubeone_errors` (errors and exit codes); here: arguments, probes, apply.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncssh

from etcdtui.lab.kubeone_errors import EXIT_DEFAULT, EXIT_SSH, KubeOneError, config_error, runtime_error
from etcdtui.lab.kubeone_log import Logger
from etcdtui.lab.kubeone_manifest import Cluster, Host, load_cluster
from etcdtui.lab.kubeone_version import corruption_flags, git_version, version_json, version_triple
from etcdtui.lab.layout import LabLayout

PROMPT = "Do you want to proceed (yes/no): "
SSH_TIMEOUT = 10.0
APPLY_TIMEOUT = 600.0

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
