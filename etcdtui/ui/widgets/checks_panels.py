"""Text of the checks screen's side panels: KubeOne, backups, version risk, and the before/after table."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import DataTable

from etcdtui.core.versions import RiskTier
from etcdtui.engine.checks import BackupStatus, ChecksReport, KubeOneFacts, MemberChange, MemberChecks
from etcdtui.engine.checks_kubeadm import GUIDE_FLAGS, MANIFEST
from etcdtui.ui.widgets.checks_members import compaction_cell, initial_cell, periodic_cell


def kubeone_text(k: KubeOneFacts) -> Text:
    t = Text()
    t.append("KubeOne\n", "bold")
    if k.binary_error:
        t.append("✗ ", "bold red").append(k.binary_error + "\n")
    else:
        t.append(f"binary    {k.binary}", "").append(f"  ({k.binary_source})\n", "dim")
        if k.version_error:
            t.append("✗ ", "bold red").append(f"version: {k.version_error}\n")
        elif k.version is not None and k.support is not None:
            ok = k.support.supported
            t.append(f"version   {k.version.git_version} ")
            t.append("✓ ≥ 1.4.1" if ok else ("? unknown build" if ok is None else "✗ older than 1.4.1"),
                     "green" if ok else ("yellow" if ok is None else "bold red"))
            t.append("\n")
            if not ok:
                t.append(f"          {k.support.reason}\n", "yellow" if ok is None else "red")
    for label, path, source, error in (
        ("manifest", k.manifest, k.manifest_source, k.manifest_error),
        ("tf.json", k.tfjson, k.tfjson_source, k.tfjson_error),
    ):
        t.append(f"{label:<9} ")
        if error:
            t.append("✗ ", "bold red").append(error + "\n")
        elif path:
            t.append(path).append(f"  ({source}, readable)\n", "dim")
        else:
            t.append("not given\n", "dim")
    if k.cluster is not None:
        t.append(f"cluster   {k.cluster.name or '?'} · Kubernetes {k.cluster.kubernetes_version} · "
                 f"{len(k.cluster.hosts)} control-plane host(s)\n", "dim")
    return t


def kubeadm_text() -> Text:
    """The panel in KubeOne's place on a kubeadm cluster: how Enable works, and the durable way."""
    t = Text()
    t.append("kubeadm (no kubeone)\n", "bold")
    t.append(f"Enable edits {MANIFEST} on each node over ssh;\n`kubeadm upgrade` rewrites it. ")
    t.append("The durable way", "bold")
    t.append(", in the ClusterConfiguration\n(kubectl -n kube-system edit cm kubeadm-config):\n")
    t.append("  etcd:\n    local:\n      extraArgs:", "cyan")
    t.append("   # v1beta3; v1beta4: a list of {name, value}\n", "dim")
    for flag in GUIDE_FLAGS:
        name, value = flag.removeprefix("--").split("=", 1)
        shown = f'"{value}"' if value == "true" else value  # YAML: a string, not a boolean
        t.append(f"        {name}: {shown}\n", "cyan")
    t.rstrip()
    return t


def kubeadm_command_text(context: str, readonly: bool) -> Text:
    t = Text()
    if readonly:
        return t.append("read-only: enabling is not offered", "dim")
    t.append("Enable edits  ", "bold").append(f"{MANIFEST} over ssh, node by node")
    t.append(f"   on context {context}", "dim")
    t.append("\nadding ").append(" ".join(GUIDE_FLAGS), "bold")
    t.append("\none member at a time, the leader last: all healthy before each, each back with its flags before "
             "the next; each node's name typed", "dim")
    return t


def _when(value: datetime | None, now: float) -> str:
    if value is None:
        return "never"
    age = max(0, int(now - value.timestamp()))
    stamp = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp} ({age // 3600}h{age % 3600 // 60:02d}m ago)"


def backups_text(b: BackupStatus, now: float, *, kubeadm: bool = False) -> Text:
    t = Text()
    t.append("Backups (KubeOne backups-restic)\n", "bold")
    if kubeadm and not b.deployed:
        # KubeOne's addon is not part of a kubeadm cluster: its absence is not a finding there.
        t.append("- ", "dim").append("no backups-restic CronJob (a KubeOne addon); take snapshots with b in the "
                                     "ring view or `etcdtui backup`, and schedule them\n")
    elif b.deployed is None:
        t.append("? ", "yellow").append(b.detail + "\n")
    elif not b.deployed:
        t.append("✗ ", "yellow").append(b.detail + "\n")
    else:
        t.append("✓ ", "green").append(b.detail + "\n")
        t.append(f"last success   {_when(b.last_success, now)}\n",
                 "yellow" if b.last_success is None or now - b.last_success.timestamp() > 2 * 3600 else "")
        t.append(f"last schedule  {_when(b.last_schedule, now)}\n", "dim")
    return t


def risk_text(members: Sequence[MemberChecks]) -> Text:
    t = Text()
    seen: set[str] = set()
    for m in members:
        summary = m.risk.summary
        if summary in seen:
            continue
        seen.add(summary)
        style = "bold red" if m.risk.tier >= RiskTier.CRITICAL else "yellow" if m.risk.tier >= RiskTier.HIGH else "dim"
        t.append("version risk  ", "bold").append(summary + "\n", style)
    return t


def summary_text(report: ChecksReport) -> Text:
    t = Text()
    if report.error:
        return t.append(f"cannot read the etcd pods: {report.error}", "bold red")
    if not report.members:
        return t.append("no etcd pods found", "yellow")
    on = sum(m.all_on for m in report.members)
    style = "bold green" if on == len(report.members) else "bold red"
    t.append(f"corruption checks on for {on} of {len(report.members)} members", style)
    return t


def command_text(k: KubeOneFacts, context: str, readonly: bool) -> Text:
    t = Text()
    if readonly:
        return t.append("read-only: enabling is not offered", "dim")
    t.append("Enable runs  ", "bold").append(shlex.join(k.command))
    t.append(f"   on context {context}", "dim")
    blockers = k.blockers()
    if blockers:
        t.append("\ncannot enable: ", "bold red").append(blockers[0])
    return t


class BeforeAfterTable(DataTable[Text]):
    DEFAULT_CSS = """
    BeforeAfterTable { height: auto; max-height: 10; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "none"
        for key, label in (("member", "MEMBER"), ("restarted", "RESTARTED"), ("initial", "INITIAL"),
                           ("periodic", "PERIODIC"), ("compaction", "COMPACTION"), ("added", "FLAGS ADDED"),
                           ("logs", "NEW LOG")):
            self.add_column(label, key=key)

    def show(self, changes: Sequence[MemberChange]) -> None:
        self.clear()
        for c in changes:
            self.add_row(
                Text(c.pod),
                Text("yes", "green") if c.restarted else Text("no", "yellow"),
                _pair(c, initial_cell), _pair(c, periodic_cell), _pair(c, compaction_cell),
                Text(" ".join(c.added) or "–", "cyan" if c.added else "dim"),
                _log_note(c.after),
                key=c.pod,
            )


def _pair(c: MemberChange, cell: Callable[[MemberChecks], Text]) -> Text:
    before = cell(c.before) if c.before else Text("?", "dim")
    after = cell(c.after) if c.after else Text("gone", "bold red")
    return Text.assemble(before, " → ", after)


def _log_note(m: MemberChecks | None) -> Text:
    if m is None or not m.logs.read:
        return Text("?", "dim")
    if m.logs.enabled:
        return Text("enabled corruption checking ✓", "green")
    return Text("no 'enabled corruption checking'", "yellow")
