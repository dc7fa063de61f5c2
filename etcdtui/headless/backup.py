"""`etcdtui backup [-o FILE]`: a verified etcd snapshot from a healthy member, in a local 0600 file.

`etcdtui backup --newest` prints the newest backup etcdtui knows of for the context (the context's snapshots
in its own directory, the context's `backups.dir` from config.yaml, and `--backup-dir` ones, e.g. where a
restic restore lands) and its age; without any kubeconfig, every snapshot in its own directory counts. Exit codes: 0 done; 1 (`--newest`) no backup known;
2 the backup failed or was refused (no healthy member, host key mismatch, FILE exists, not a snapshot);
3 the cluster could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from etcdtui import exitcodes
from etcdtui.headless.output import Output

SAY = Output("backup")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "backup", help="snapshot etcd from a healthy member into a local 0600 file, verified",
        description="Take an etcd snapshot from a healthy member (the leader first): etcdctl snapshot save in its "
                    "pod, streamed over ssh (host keys verified) into a local 0600 file, checked with etcdutl "
                    "snapshot status. Prints the file, its revision, size and sha256.",
        epilog="exit codes: 0 done; 1 (--newest) no backup known; 2 backup failed or refused; 3 cluster unreachable",
    )
    p.add_argument("-o", "--output", metavar="FILE", type=Path,
                   help="where to write the snapshot (must not exist; default: etcdtui's backup directory)")
    p.add_argument("--newest", action="store_true",
                   help="print the newest backup etcdtui knows of for the context, and its age")
    p.add_argument("--backup-dir", metavar="DIR", type=Path, action="append", default=[],
                   help="another directory holding snapshots (e.g. a restic restore); repeatable")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--kubeone-manifest", metavar="M", help="kubeone.yaml (default: the context's settings)")
    p.add_argument("--kubeone-tf", metavar="T", help="tf.json (terraform output -json)")
    p.add_argument("--known-hosts", metavar="FILE", help="known_hosts for the node and bastion host keys "
                   "(default: the context's, else ~/.ssh/known_hosts)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the ring's state (default 30)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.newest:
        return _newest(args)
    if args.output is not None and args.output.exists():
        return SAY.fail(f"{args.output} already exists: choose a new file", exitcodes.CRITICAL)
    from etcdtui.cluster.kube import ClusterError

    try:
        return asyncio.run(_backup(args))
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)


def _newest(args: argparse.Namespace) -> int:
    """Reads files only: the context comes from the kubeconfig without connecting to it."""
    from etcdtui.cluster.kube import ClusterError, kubeconfig_context
    from etcdtui.engine.backup_age import (
        BackupPlace,
        backup_places,
        format_age,
        newest_backup,
        own_backup_dir,
    )
    from etcdtui.engine.context_settings import SettingsError, resolve_settings

    places: list[BackupPlace]
    try:
        context = kubeconfig_context(args.kubeconfig, args.context)
        if context is None:
            if args.context:
                return SAY.fail(f"context {args.context!r}: no kubeconfig (pass --kubeconfig or set KUBECONFIG)",
                                exitcodes.UNKNOWN)
            places, whose = [BackupPlace(own_backup_dir())], " (no kubeconfig: of any context)"
        else:
            places = [*backup_places(context, resolve_settings(context, args.kubeconfig))]
            whose = f" of context {context}"
    except ClusterError as exc:
        return SAY.fail(exc.message, exitcodes.UNKNOWN)
    except SettingsError as exc:
        return SAY.fail(str(exc), exitcodes.UNKNOWN)
    places += [BackupPlace(d) for d in args.backup_dir]
    found = newest_backup(places)
    if found is None:
        looked = ", ".join(str(p.directory) for p in places)
        sys.stdout.write(f"no backup known{whose} (looked in {looked})\n")
        return exitcodes.WARNING
    sys.stdout.write(f"newest backup{whose}: {found.path} ({found.size} bytes), age {format_age(found.age())}\n")
    return exitcodes.OK


async def _backup(args: argparse.Namespace) -> int:
    from etcdtui.cluster.backup import BackupError
    from etcdtui.cluster.kube import ClusterConnection
    from etcdtui.engine.backups import new_own_backup_path, take_backup
    from etcdtui.engine.ring_engine import RingEngine

    conn = await ClusterConnection.open(args.kubeconfig, args.context)
    try:
        engine = RingEngine(conn, poll_interval=max(args.timeout, 15.0))
        async with engine:
            snap = await engine.wait_complete(args.timeout)
        dest = args.output or await asyncio.to_thread(new_own_backup_path, conn.context)
        from etcdtui.engine.context_settings import SettingsError
        from etcdtui.headless.context_flags import resolved

        try:
            settings, ssh, flavour = resolved(args, conn.context)
        except SettingsError as exc:
            return SAY.fail(str(exc), exitcodes.UNKNOWN)
        last = [0.0]

        def progress(size: int, elapsed: float) -> None:
            if size and elapsed - last[0] >= 1.0:
                last[0] = elapsed
                sys.stderr.write(f"  {size} bytes after {elapsed:.0f} s\n")

        try:
            result = await take_backup(conn, snap, kubeone=settings, dest=dest.expanduser().absolute(),
                                       ssh=ssh, on_progress=progress, flavour=flavour)
        except BackupError as exc:
            return SAY.fail(f"backup failed: {exc.message}", exitcodes.CRITICAL)
    finally:
        await conn.close()
    out = sys.stdout.write
    out(f"snapshot of {result.member_pod} (context {conn.context}): {result.path}\n")
    revision = f"revision {result.revision}" if result.revision is not None else "revision unknown (no etcdutl)"
    keys = f", {result.total_keys} keys" if result.total_keys is not None else ""
    out(f"  {revision}{keys}, {result.size} bytes, sha256 {result.sha256}, {result.elapsed:.1f} s\n")
    if not result.remote_removed:
        out(f"  note: {result.remote_path} is still on the node (remove it with sudo rm -f)\n")
    return exitcodes.OK
