"""The exact commands and API calls of each step (shown before a step runs, and by --dry-run)."""

from __future__ import annotations

import shlex
from pathlib import Path

from etcdtui.core.checklist import StepId
from etcdtui.engine.replace.model import ENABLED_MSG
from etcdtui.engine.replace_context import ReplaceContext


def step_commands(step: StepId, ctx: ReplaceContext | None, n: str, ns: str, healthy: str, backup_dir: Path) -> list[str]:
    """The exact commands and API calls of a step (shown before it runs, and by --dry-run)."""
    kubeone = ctx.kubeone if ctx else None
    ssh = ""
    if ctx and ctx.ssh:
        jump = f"-J {ctx.ssh.bastion.user}@{ctx.ssh.bastion.address} " if ctx.ssh.bastion else ""
        ssh = f"ssh {jump}{ctx.ssh.hop.user}@{ctx.ssh.hop.address}"
    apply = apply_argv(ctx)
    table: dict[StepId, list[str]] = {
        StepId.CONTEXT: ["GET /api/v1/nodes, GET /api/v1/namespaces/kube-system/pods?labelSelector=component=etcd",
                         f"{kubeone.binary if kubeone and kubeone.binary else 'kubeone'} version",
                         "read kubeone.yaml and tf.json"],
        StepId.EVIDENCE: [f"in pod {healthy}: etcdctl member list / endpoint status --cluster / endpoint health "
                          "--cluster / endpoint hashkv --cluster / alarm list (-w json)"],
        StepId.QUORUM: [f"in pod {healthy}: etcdctl member list / endpoint health --cluster -w json"],
        StepId.BACKUP: [f"in pod {healthy}: etcdctl snapshot save /var/lib/etcd/etcdtui-<ts>.db",
                        f"ssh to its node: sudo -n cat /var/lib/etcd/etcdtui-<ts>.db > {backup_dir}/<file> "
                        "(0600); sudo -n rm -f it"],
        StepId.DRAIN: [f"kubectl drain --ignore-daemonsets --delete-emptydir-data {n}  (native: PATCH "
                       f"/api/v1/nodes/{n} spec.unschedulable=true, POST pods/eviction per pod, 5 s retry on 429)"],
        StepId.SSH: [f"{ssh or 'ssh <node>'}: hostname; hostname -f; hostname -I; sudo -n true; command -v kubeadm"],
        StepId.RESET: [f"in pod etcd-{n}: etcdctl move-leader <healthiest follower>  (only if {n} leads)",
                       f"{ssh or 'ssh <node>'} sudo kubeadm reset --force",
                       f"in pod {healthy}: etcdctl member list -w json  (the member must be gone; else offer "
                       "etcdctl member remove <id>; an orphaned learner of the node: the same)"],
        StepId.DELETE_NODE: [f"kubectl delete node {n}  (DELETE /api/v1/nodes/{n})"],
        StepId.APPLY: [shlex.join(apply) + "  (in a pseudo-terminal; answered in the app)"],
        StepId.VERIFY: [f"GET /api/v1/nodes/{n} (Ready), GET /api/v1/namespaces/{ns}/pods/etcd-{n} (Running)",
                        f"in pod {healthy}: etcdctl member list / endpoint health / endpoint hashkv --cluster / "
                        "alarm list", f"GET /api/v1/namespaces/{ns}/pods/etcd-{n}/log (msg: {ENABLED_MSG!r})"],
    }
    return table[step]


def apply_argv(ctx: ReplaceContext | None) -> list[str]:
    """`kubeone apply` with the context's binary, manifest and tf.json."""
    k = ctx.kubeone if ctx else None
    argv = [(k.binary if k and k.binary else "kubeone"), "apply", "-m", (k.manifest if k and k.manifest
                                                                         else "kubeone.yaml")]
    if k and k.tfjson:
        argv += ["-t", k.tfjson]
    return argv
