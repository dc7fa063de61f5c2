"""What the replace procedure exchanges with its caller: settings, questions, outcomes, errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from etcdtui.core.checklist import StepId
from etcdtui.engine.checks import KubeOneSettings
from etcdtui.engine.context_settings import SshSettings
from etcdtui.engine.flavour import NodeSsh

REUSE_POLL_S = 10.0  # steps 1 and 2 may use step 0's poll when it is this recent
VERIFY_TIMEOUT = 180.0
ENABLED_MSG = "enabled corruption checking"
INITIAL_PASSED_MSG = "initial corruption checking passed; no corruption"


class Outcome(enum.StrEnum):
    DONE = "done"  # every step done or skipped: the member is replaced
    FAILED = "failed"  # a step failed (retry resumes there)
    REFUSED = "refused"  # a gate refused
    PAUSED = "paused"  # the operator declined a confirmation; nothing more was changed
    CANCELLED = "cancelled"  # stopped during a running step


@dataclass(frozen=True)
class Question:
    kind: str  # "destructive" | "plan" | "offer" | "backup"
    step: StepId
    title: str
    text: str
    context: str
    expect: str | None = None  # what must be typed (the node name) for a destructive step
    command: tuple[str, ...] = ()


class Interaction(Protocol):
    async def ask(self, question: Question) -> str | None:
        """The answer: the typed text, "yes", "snapshot", "skip: <reason>"; None is no/cancel."""

    def changed(self, step: StepId | None) -> None:
        """The checklist changed (status, output); called on the event loop, must not block."""


@dataclass
class ReplaceSettings:
    node: str
    kubeone: KubeOneSettings
    ssh: SshSettings = SshSettings()  # the context's ssh settings (kubeone: overrides; kubeadm: how nodes are reached)
    state_dir: Path | None = None
    backup_dir: Path | None = None  # where snapshots go (default: the state dir, 0700)
    namespace: str = "kube-system"
    drain_timeout: float = 300.0
    verify_timeout: float = VERIFY_TIMEOUT
    extra: dict[str, Any] = field(default_factory=dict)
    flavour: str | None = None  # kubeone|kubeadm (the context's resolved setting); None: detected

    @property
    def node_ssh(self) -> NodeSsh:
        """kubeadm: how nodes are reached (at their Node's InternalIP) with the context's ssh settings."""
        return NodeSsh.of(self.ssh)


class StepFailed(Exception):
    """One line: why the running step failed."""


class Refused(Exception):
    """One line: a gate refused."""


class Paused(Exception):
    """The operator declined; the step stays pending."""
