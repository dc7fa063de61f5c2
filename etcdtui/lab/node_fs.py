"""The few file operations a lab node answers over ssh for etcd disaster recovery (etcd's op-guide/recovery and
KubeOne's manual cluster recovery), each on the node's own directory and with real etcd tools:

* `mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/DEST` stops the etcd static pod (the kubelet does
  when its manifest leaves the manifests dir); `mv /etc/kubernetes/SRC /etc/kubernetes/manifests/etcd.yaml`
  starts it again on whatever /var/lib/etcd then holds;
* `mv /var/lib/A /var/lib/B` renames a directory or file under /var/lib (e.g. the old data dir aside and the
  restored one into place);
* `dd of=/var/lib/FILE status=none` writes its stdin to a file (how a snapshot is uploaded);
* `etcdutl snapshot restore|status ...` runs the real etcdutl on the node's paths;
* `test -e PATH` for those paths.

Root only (`sudo`), like the real directories (0700). Nothing else of a node's file system exists in the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

Write = Callable[[str], Awaitable[None]]
COMMANDS = frozenset({"mv", "dd", "etcdutl", "test"})
MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
CHUNK = 256 * 1024
MAX_UPLOAD = 8 * 1024 * 1024 * 1024
ETCDUTL_TIMEOUT = 120.0


class _Refused(Exception):
    pass


def local_path(ring: Ring, node: str, path: str) -> Path:
    """The node path's place in the lab: /var/lib/etcd is the member's data dir, other /var/lib/NAME and
    /etc/kubernetes/NAME live beside it in the node's directory. Anything else is refused."""
    node_dir = ring.layout.node_dir(node)
    if path == "/var/lib/etcd":
        return ring.member(node).data_dir
    for prefix, sub in (("/var/lib/", "var-lib"), ("/etc/kubernetes/", "etc-kubernetes")):
        if path.startswith(prefix):
            rest = path[len(prefix):]
            if rest.startswith("etcd/") and prefix == "/var/lib/":
                tail = rest[len("etcd/"):]
                if all(_NAME.match(p) and p not in (".", "..") for p in tail.split("/")):
                    return ring.member(node).data_dir / tail
            if _NAME.match(rest) and rest not in (".", ".."):
                return node_dir / sub / rest
    raise _Refused(f"{path}: lab nodes only have /var/lib/NAME and /etc/kubernetes/NAME")


async def run(
    ring: Ring, node: str, name: str, args: list[str], *, root: bool, out: Write, err: Write, stdin: Any,
) -> int:
    if not root:
        await err(f"{name}: permission denied (run it with sudo)\n")
        return 1
    try:
        if name == "mv":
            return await _mv(ring, node, args, err)
        if name == "dd":
            return await _dd(ring, node, args, err, stdin)
        if name == "test":
            return _test(ring, node, args)
        return await _etcdutl(ring, node, args, out, err)
    except _Refused as exc:
        await err(f"{name}: {exc}\n")
        return 1


async def _mv(ring: Ring, node: str, args: list[str], err: Write) -> int:
    if len(args) != 2 or any(a.startswith("-") for a in args):
        raise _Refused("usage on lab nodes: mv SRC DEST")
    src, dest = args
    if src == MANIFEST:
        if not ring.static_pod_running(node):
            await err(f"mv: cannot stat '{src}': No such file or directory\n")
            return 1
        target = local_path(ring, node, dest)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_text("# etcd static pod manifest, moved aside by an operator\n" +
                          "\n".join(ring.member(node).command) + "\n")
        await ring.stop_static_pod(node)
        return 0
    if dest == MANIFEST:
        source = local_path(ring, node, src)
        if not source.is_file():
            await err(f"mv: cannot stat '{src}': No such file or directory\n")
            return 1
        source.unlink()
        await ring.start_static_pod(node)
        return 0
    source, target = local_path(ring, node, src), local_path(ring, node, dest)
    if not source.exists():
        await err(f"mv: cannot stat '{src}': No such file or directory\n")
        return 1
    if target.exists():
        await err(f"mv: cannot move '{src}' to '{dest}': Directory not empty\n")
        return 1
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    await asyncio.to_thread(os.replace, source, target)
    return 0


async def _dd(ring: Ring, node: str, args: list[str], err: Write, stdin: Any) -> int:
    options = dict(a.split("=", 1) for a in args if "=" in a)
    if set(options) - {"of", "status", "bs"} or "of" not in options or len(options) != len(args):
        raise _Refused("usage on lab nodes: dd of=/var/lib/FILE [bs=N] [status=none]")
    target = local_path(ring, node, options["of"])
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    total = 0
    try:
        while True:
            chunk = await stdin.read(CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_UPLOAD:
                await err("dd: error writing: No space left on device\n")
                return 1
            await asyncio.to_thread(os.write, fd, chunk)
        await asyncio.to_thread(os.fsync, fd)
    finally:
        os.close(fd)
    if options.get("status") != "none":
        await err(f"{total} bytes copied\n")
    return 0


def _test(ring: Ring, node: str, args: list[str]) -> int:
    if len(args) != 2 or args[0] not in ("-e", "-d", "-f"):
        raise _Refused("usage on lab nodes: test -e|-d|-f PATH")
    if args[1] == MANIFEST:
        return 0 if ring.static_pod_running(node) else 1
    path = local_path(ring, node, args[1])
    ok = {"-e": path.exists, "-d": path.is_dir, "-f": path.is_file}[args[0]]()
    return 0 if ok else 1


def _etcdutl_binary(ring: Ring) -> Path | None:
    candidate = ring.binaries.etcd.with_name("etcdutl")
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


async def _etcdutl(ring: Ring, node: str, args: list[str], out: Write, err: Write) -> int:
    binary = _etcdutl_binary(ring)
    if binary is None:
        await err("bash: etcdutl: command not found\n")
        return 127
    if args[:2] not in (["snapshot", "restore"], ["snapshot", "status"]):
        raise _Refused("lab nodes run `etcdutl snapshot restore|status` only")

    def mapped(arg: str) -> str:
        flag, eq, value = arg.partition("=")
        if eq and value.startswith("/"):
            return f"{flag}={local_path(ring, node, value)}"
        return str(local_path(ring, node, arg)) if arg.startswith("/") else arg

    argv = [str(binary), *[mapped(a) for a in args]]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=str(ring.layout.node_dir(node)),
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), ETCDUTL_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        await err("etcdutl: timed out\n")
        return 124
    node_dir = str(ring.layout.node_dir(node))
    data_dir = str(ring.member(node).data_dir)
    for text, write in ((stdout, out), (stderr, err)):  # show node paths, not the lab's
        shown = text.decode(errors="replace").replace(data_dir, "/var/lib/etcd")
        shown = shown.replace(node_dir + "/var-lib", "/var/lib").replace(node_dir + "/etc-kubernetes", "/etc/kubernetes")
        if shown:
            await write(shown)
    return proc.returncode or 0
