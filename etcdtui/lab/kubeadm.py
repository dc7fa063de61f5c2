"""`kubeadm` on a lab node: `reset` really resets the node (etcd member removed, process stopped, data wiped,
static pod gone, kubelet stopped) and prints what kubeadm prints; `version` answers like kubeadm.

Output follows kubeadm's shape (kubeone-procedure.md §4.1): `[...]` lines on stdout, klog `W` warnings on
stderr, exit 0 even when the member removal failed (kubeadm only warns), exit 2 when not root.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from etcdtui.lab.kube_objects import KUBELET_VERSION
from etcdtui.lab.kubeadm_output import ReadLine, Write, klog_warning

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

log = logging.getLogger(__name__)

KUBEADM_PATH = "/usr/bin/kubeadm"
ETCD_DATA_DIR = "/var/lib/etcd"
REMOVE_FIRST_DELAY = 0.25
REMOVE_MAX_DELAY = 1.0
REMOVE_PATIENCE = 15.0  # kubeadm retries member removal with backoff before giving up
STEP_PAUSE = 0.05  # lets a streaming client see the lines arrive one by one, as from the real tool


# Resets of one node must not interleave (two ssh sessions at once).
_locks: dict[str, asyncio.Lock] = {}

MANUAL_CLEANUP_NOTE = """
The reset process does not perform cleanup of CNI plugin configuration,
network filtering rules and kubeconfig files.

For information on how to perform this cleanup manually, please see:
    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/

"""
CLEANUP_LINES = [
    "[reset] Stopping the kubelet service\n",
    '[reset] Unmounting mounted directories in "/var/lib/kubelet"\n',
    "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]\n",
    "[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf "
    "/etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf]\n",
]
NOT_ROOT = (
    "[preflight] Running pre-flight checks\n"
    "error execution phase preflight: [preflight] Some fatal errors occurred:\n"
    "\t[ERROR IsPrivilegedUser]: user is not running as root\n"
    "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n"
    "To see the stack trace of this error execute with --v=5 or higher\n"
)


async def kubeadm_main(
    ring: Ring, node: str, args: list[str], *, root: bool, out: Write, err: Write, read_line: ReadLine
) -> int:
    if args[:1] == ["version"]:
        return await _version(args[1:], out, err)
    if args[:1] == ["reset"]:
        flags = args[1:]
        unknown = [a for a in flags if a not in {"--force", "-f"} and not a.startswith("--v=")]
        if unknown:
            await err(f'unknown flag: {unknown[0]}\nTo see the stack trace of this error execute with --v=5 or higher\n')
            return 1
        return await reset(ring, node, force="--force" in flags or "-f" in flags, root=root, out=out, err=err, read_line=read_line)
    if args[:1] in (["token"], ["join"]) or args[:3] == ["init", "phase", "upload-certs"]:
        from etcdtui.lab import kubeadm_join  # noqa: PLC0415 - imports this module

        if args[0] == "token":
            return await kubeadm_join.token(ring, args[1:], root=root, out=out, err=err)
        if args[0] == "join":
            return await kubeadm_join.join(ring, node, args[1:], root=root, out=out, err=err)
        return await kubeadm_join.upload_certs(ring, args[3:], root=root, out=out, err=err)
    sub = args[0] if args else ""
    if not sub:
        await out("Usage:\n  kubeadm [command]\n\nAvailable Commands:\n  reset       Performs a best effort revert of changes made to this host by 'kubeadm init' or 'kubeadm join'\n  version     Print the version of kubeadm\n")
        return 0
    await err(f'unknown command "{sub}" for "kubeadm"\nTo see the stack trace of this error execute with --v=5 or higher\n')
    return 1


async def _version(args: list[str], out: Write, err: Write) -> int:
    if args in (["-o", "short"], ["--output=short"], ["-oshort"], ["--output", "short"]):
        await out(KUBELET_VERSION + "\n")
        return 0
    if args:
        await err(f"error: invalid output format: {' '.join(args)}\n")
        return 1
    await out(
        f'kubeadm version: &version.Info{{Major:"1", Minor:"{KUBELET_VERSION.split(".")[1]}", '
        f'GitVersion:"{KUBELET_VERSION}", GitTreeState:"clean", GoVersion:"go1.21.9", Compiler:"gc", Platform:"linux/amd64"}}\n'
    )
    return 0


async def reset(ring: Ring, node: str, *, force: bool, root: bool, out: Write, err: Write, read_line: ReadLine) -> int:
    if not force:
        await err(klog_warning("reset.go:124", "[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted."))
        await out("[reset] Are you sure you want to proceed? [y/N]: ")
        answer = (await read_line()).strip().lower()
        if answer not in {"y", "yes"}:
            await err("error execution phase preflight: won't proceed; the user didn't answer (Y|y) in order to continue\n"
                      "To see the stack trace of this error execute with --v=5 or higher\n")
            return 1
    if not root:
        await err(NOT_ROOT)
        return 2
    lock = _locks.setdefault(node, asyncio.Lock())
    async with lock:
        return await _reset_locked(ring, node, out, err)


async def _reset_locked(ring: Ring, node: str, out: Write, err: Write) -> int:
    started = time.monotonic()
    from etcdtui.lab.kubeadm_join import forget_half_join, is_half_joined  # noqa: PLC0415 - imports this module

    # A half-done join wrote the etcd manifest and announced the member: reset removes it like a joined one.
    already_reset = ring.member(node).reset and not is_half_joined(ring, node)
    forget_half_join(ring, node)
    if already_reset:
        # admin.conf and the etcd manifest are gone: kubeadm can read no config and finds no member to remove.
        await err(klog_warning("reset.go:124", "[reset] Unable to fetch the kubeadm-config ConfigMap from cluster: failed to get config map: "
                               "open /etc/kubernetes/admin.conf: no such file or directory"))
        await out("[reset] No kubeadm config, using etcd pod spec to get data directory\n")
        await out("[preflight] Running pre-flight checks\n")
        await out(f"[reset] No etcd member to remove: node \"{node}\" has no local etcd member\n")
    else:
        await out('[reset] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n')
        await out("[reset] Use 'kubeadm init phase upload-config --config your-config.yaml' to re-upload it.\n")
        await asyncio.sleep(STEP_PAUSE)
        await out("[preflight] Running pre-flight checks\n")
        await _remove_member(ring, node, err)
        await ring.stop_and_wipe(node)
    await out(f"[reset] Deleted contents of the etcd data directory: {ETCD_DATA_DIR}\n")
    for line in CLEANUP_LINES:
        await asyncio.sleep(STEP_PAUSE)
        await out(line)
    await out(MANUAL_CLEANUP_NOTE)
    log.info("kubeadm reset on %s done in %.1fs (already reset: %s)", node, time.monotonic() - started, already_reset)
    return 0


async def _remove_member(ring: Ring, node: str, err: Write) -> None:
    """kubeadm removes the local member through the cluster, retrying with backoff (etcd refuses
    reconfiguration until every member has been connected for a few seconds); on failure it only warns."""
    delay, deadline = REMOVE_FIRST_DELAY, time.monotonic() + REMOVE_PATIENCE
    while True:
        try:
            removed = await ring.remove_member(node)
            break
        except Exception as exc:
            if time.monotonic() + delay < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, REMOVE_MAX_DELAY)
                continue
            reason = one_line(str(exc))
            log.warning("kubeadm reset: member removal for %s failed: %s", node, reason)
            await err(klog_warning("removeetcdmember.go:106", f"[reset] Failed to remove etcd member: {reason}, please manually remove this etcd member using etcdctl"))
            return
    if not removed:
        log.info("kubeadm reset: %s was not an etcd member", node)


def one_line(message: str) -> str:
    """The last meaningful line of a multi-line error (etcdctl ends with `Error: <reason>`)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    last = lines[-1].removeprefix("Error: ")
    return last if len(lines) == 1 else f"{lines[0].split(':', 1)[0]}: {last}"
