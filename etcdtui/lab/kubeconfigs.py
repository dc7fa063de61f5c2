"""`etcdtui lab kubeconfig [--all]`: one lab's kubeconfig, or one kubeconfig holding every running lab's context.

Running labs are found where `lab up` puts them by default (`lab` and `labs/NAME` under the state
directory); a lab started with `--dir` elsewhere is shown with `--dir`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from etcdtui import exitcodes
from etcdtui.lab.lab_process import is_lab_process, read_pid
from etcdtui.lab.layout import DEFAULT_NAME, LabLayout, default_lab_dir, labs_dir, layout_of


def running_labs() -> list[LabLayout]:
    """Labs in the default places whose daemon is alive and ready, default lab first, then by name."""
    candidates = [default_lab_dir(DEFAULT_NAME)]
    if labs_dir().is_dir():
        candidates += sorted(p for p in labs_dir().iterdir() if p.is_dir())
    found = []
    for root in candidates:
        layout = LabLayout(root)
        pid = read_pid(layout)
        if pid is not None and is_lab_process(pid) and layout.state_file.exists() and layout.kubeconfig.exists():
            found.append(layout)
    return found


def merged_kubeconfig(paths: list[Path]) -> dict[str, Any]:
    """kubectl's merge of several kubeconfigs (first definition of a name wins); current = the first's."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [],
                              "current-context": "", "preferences": {}}
    seen: dict[str, set[str]] = {"clusters": set(), "users": set(), "contexts": set()}
    for path in paths:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("clusters", "users", "contexts"):
            for item in doc.get(key) or []:
                if item.get("name") not in seen[key]:
                    seen[key].add(item.get("name"))
                    merged[key].append(item)
        if not merged["current-context"] and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    if args.all:
        layouts = running_labs()
        if not layouts:
            sys.stderr.write("etcdtui lab kubeconfig: no running lab (start one with: etcdtui lab up [--name NAME])\n")
            return exitcodes.WARNING
    else:
        layouts = [layout_of(args.dir, getattr(args, "name", None))]
        if not layouts[0].kubeconfig.exists():
            sys.stderr.write(f"etcdtui lab kubeconfig: no running lab in {layouts[0].root}\n")
            return exitcodes.WARNING
    try:
        doc = merged_kubeconfig([layout.kubeconfig for layout in layouts])
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        sys.stderr.write(f"etcdtui lab kubeconfig: cannot read a lab's kubeconfig: {type(exc).__name__}\n")
        return exitcodes.WARNING
    sys.stdout.write(yaml.safe_dump(doc, sort_keys=False))
    return exitcodes.OK


def add_kubeconfig_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], dir_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    p = sub.add_parser("kubeconfig", help="print the lab's kubeconfig; --all: every running lab's contexts in one",
                       description="Print a lab's kubeconfig (it holds a token: keep the output private). With "
                                   "--all, one kubeconfig with the context of every running lab, e.g. "
                                   "`etcdtui lab kubeconfig --all > fleet.kubeconfig; "
                                   "etcdtui check --all-contexts --kubeconfig fleet.kubeconfig`.")
    dir_option(p)
    p.add_argument("--all", action="store_true", help="every running lab (default places), merged")
    p.set_defaults(handler=cmd_kubeconfig)
