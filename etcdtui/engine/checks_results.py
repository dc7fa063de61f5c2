"""What the corruption-checks audit and "Enable" return: per-member checks, the report, the outcome.

Shared by both ways of enabling (`checks_kubeone_enable`: `kubeone apply --force-upgrade`; `checks_kubeadm`:
static pod manifests edited over ssh) and rendered by the checks screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from etcdtui.cluster.runner import CommandResult
from etcdtui.core.flags import FlagsAudit
from etcdtui.core.kubeone import CorruptionCheckSupport, KubeOneCluster, KubeOneVersion
from etcdtui.core.versions import EtcdVersion, VersionRisk
from etcdtui.engine.checks_evidence import LogEvidence
from etcdtui.engine.checks_plan import Plan


@dataclass(frozen=True)
class MemberChecks:
    pod: str
    node: str | None
    uid: str
    ready: bool
    status: str
    started_at: datetime | None
    is_leader: bool | None
    version: EtcdVersion | None
    risk: VersionRisk
    audit: FlagsAudit
    command: tuple[str, ...]
    logs: LogEvidence

    @property
    def compaction_available(self) -> bool:
        """The compaction hash check exists from etcd 3.5.5 (unknown version: assume it does)."""
        return self.version is None or self.version.at_least(3, 5, 5)

    @property
    def all_on(self) -> bool:
        a = self.audit
        return a.initial and a.periodic and (a.compaction or not self.compaction_available)


@dataclass(frozen=True)
class KubeOneFacts:
    binary: str | None
    binary_source: str  # "configured", "PATH", or "" when not found
    binary_error: str | None
    version: KubeOneVersion | None
    version_error: str | None
    support: CorruptionCheckSupport | None
    manifest: str | None
    manifest_source: str
    manifest_error: str | None
    cluster: KubeOneCluster | None
    tfjson: str | None
    tfjson_source: str
    tfjson_error: str | None

    @property
    def command(self) -> tuple[str, ...]:
        """The exact command `enable()` runs."""
        argv = [self.binary or "kubeone", "apply", "-m", self.manifest or "kubeone.yaml"]
        if self.tfjson:
            argv += ["-t", self.tfjson]
        return (*argv, "--force-upgrade")

    def blockers(self) -> list[str]:
        """Why "Enable" cannot run (each one line); empty when it can."""
        problems = [p for p in (self.binary_error, self.version_error, self.manifest_error, self.tfjson_error) if p]
        if not self.binary_error and not self.version_error and self.support is not None and self.support.supported is False:
            problems.append(self.support.reason)
        return problems


@dataclass(frozen=True)
class BackupStatus:
    deployed: bool | None  # None: could not tell
    detail: str
    schedule: str | None = None
    last_success: datetime | None = None
    last_schedule: datetime | None = None


@dataclass(frozen=True)
class ChecksReport:
    members: tuple[MemberChecks, ...]
    kubeone: KubeOneFacts
    backups: BackupStatus
    taken_at: float  # epoch seconds
    error: str | None = None  # the pods could not be listed
    flavour: str = "kubeone"  # how "Enable" works here: `kubeone apply`, or kubeadm's manifests edited over ssh

    @property
    def all_on(self) -> bool:
        return bool(self.members) and all(m.all_on for m in self.members)


class EnableRefused(Exception):
    """One line: why the enable flow did not start."""


@dataclass(frozen=True)
class MemberChange:
    pod: str
    before: MemberChecks | None
    after: MemberChecks | None
    added: tuple[str, ...]  # flags only in the new command line
    removed: tuple[str, ...]
    restarted: bool


ENABLED, DECLINED, FAILED, CANCELLED = "enabled", "declined", "failed", "cancelled"


@dataclass(frozen=True)
class EnableOutcome:
    status: str  # ENABLED / DECLINED / FAILED / CANCELLED
    message: str
    result: CommandResult | None
    plan: Plan | None
    changes: tuple[MemberChange, ...] = ()
    after: ChecksReport | None = None
    output_tail: tuple[str, ...] = ()


OutputCallback = Callable[[Sequence[str]], None]
PlanCallback = Callable[[Plan, str], Awaitable[bool]]  # (plan, the prompt text) -> answer yes?
ProgressCallback = Callable[[str], None]



def flags_of(command: Sequence[str]) -> list[str]:
    return [w for w in command if w.startswith("-")]


def same_commands(before: Sequence[MemberChecks], after: Sequence[MemberChecks]) -> bool:
    return {m.pod: m.command for m in before} == {m.pod: m.command for m in after}


def member_changes(before: Sequence[MemberChecks], after: Sequence[MemberChecks]) -> tuple[MemberChange, ...]:
    old = {m.pod: m for m in before}
    new = {m.pod: m for m in after}
    changes = []
    for pod in sorted(old.keys() | new.keys()):
        b, a = old.get(pod), new.get(pod)
        bf, af = flags_of(b.command if b else ()), flags_of(a.command if a else ())
        restarted = b is None or a is None or (b.uid, b.started_at) != (a.uid, a.started_at)
        changes.append(MemberChange(pod, b, a, tuple(f for f in af if f not in bf), tuple(f for f in bf if f not in af),
                                    restarted))
    return tuple(changes)
