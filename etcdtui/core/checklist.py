"""Replacing a corrupted member as a checklist: the step model, the state machine, the gates, the journal records.

Pure (no I/O): the engine (`etcdtui.engine.replace`) runs the steps and appends the journal records this module
builds; replaying those records gives back the exact state, so a procedure that died at any step resumes there.
The steps follow kubeone-procedure.md §9. Resume rules:

* a step that was `running` when the process died is re-run (every step is idempotent: drain of a drained node,
  reset of a reset node, delete of a missing node, apply of a joined node);
* a `failed` step is retried; `done` and `skipped` steps stay so;
* only one step runs at a time, in order; a step may start only when every earlier one is done or skipped.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from etcdtui.core.quorum import ReplaceDecision, quorum, replace_gate

OUTPUT_TAIL_LINES = 200  # kept per step in memory and in the journal; older lines are counted, not kept
JOURNAL_VERSION = 1


class StepId(enum.IntEnum):
    CONTEXT = 0
    EVIDENCE = 1
    QUORUM = 2
    BACKUP = 3
    DRAIN = 4
    SSH = 5
    RESET = 6
    DELETE_NODE = 7
    APPLY = 8
    VERIFY = 9


STEP_TITLES: dict[StepId, str] = {
    StepId.CONTEXT: "Context: cluster, kubeone.yaml/tf.json, host mapping, versions",
    StepId.EVIDENCE: "Target and evidence",
    StepId.QUORUM: "Quorum gate",
    StepId.BACKUP: "Backup: etcd snapshot from a healthy member",
    StepId.DRAIN: "Drain the node",
    StepId.SSH: "SSH preflight",
    StepId.RESET: "kubeadm reset on the node",
    StepId.DELETE_NODE: "Delete the Node object",
    StepId.APPLY: "kubeone apply (re-join)",
    StepId.VERIFY: "Verify the ring",
}
# A plain kubeadm cluster re-joins with `kubeadm join` and has no kubeone.yaml: these steps say so.
KUBEADM_TITLES: dict[StepId, str] = {
    StepId.CONTEXT: "Context: cluster, flavour, node addresses, ssh",
    StepId.APPLY: "kubeadm join (re-join)",
}

# Steps that change the cluster: each needs the node name typed, and the quorum gate re-checked just before.
DESTRUCTIVE: frozenset[StepId] = frozenset({StepId.DRAIN, StepId.RESET, StepId.DELETE_NODE, StepId.APPLY})
# Steps an operator may skip, and only with a typed reason.
SKIPPABLE: frozenset[StepId] = frozenset({StepId.BACKUP})


@dataclass(frozen=True)
class StepSpec:
    """A step of a procedure whose steps are decided at run time (the defragment procedure: one per member)."""

    title: str
    destructive: bool = False
    skippable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "destructive": self.destructive, "skippable": self.skippable}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepSpec:
        return cls(str(d.get("title", "")), bool(d.get("destructive")), bool(d.get("skippable")))


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class ChecklistError(Exception):
    """A transition the state machine refuses (a bug in the caller, or a journal that does not replay)."""


@dataclass
class StepState:
    id: int  # a StepId for the replace procedure; the index in `Checklist.steps` for any procedure
    status: StepStatus = StepStatus.PENDING
    commands: list[str] = field(default_factory=list)  # exact commands / API calls, shown before running
    output: list[str] = field(default_factory=list)  # the tail, at most OUTPUT_TAIL_LINES
    dropped_lines: int = 0
    reason: str | None = None  # why skipped/failed, or a note on a done step
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    confirmation: str | None = None  # the text the operator confirmed (destructive steps)
    attempts: int = 0
    interrupted: bool = False  # it was running when the process died: re-run on resume
    spec: StepSpec | None = None  # None: a replace step (StepId)
    title_override: str | None = None  # a replace step's title in the cluster's flavour (KUBEADM_TITLES)

    @property
    def title(self) -> str:
        if self.spec:
            return self.spec.title
        return self.title_override or STEP_TITLES[StepId(self.id)]

    @property
    def destructive(self) -> bool:
        return self.spec.destructive if self.spec else self.id in DESTRUCTIVE

    @property
    def skippable(self) -> bool:
        return self.spec.skippable if self.spec else self.id in SKIPPABLE

    @property
    def settled(self) -> bool:
        return self.status in (StepStatus.DONE, StepStatus.SKIPPED)

    def duration(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else now
        return max(end - self.started_at, 0.0)

    def add_output(self, lines: Iterable[str]) -> None:
        self.output.extend(lines)
        extra = len(self.output) - OUTPUT_TAIL_LINES
        if extra > 0:
            del self.output[:extra]
            self.dropped_lines += extra


@dataclass
class Checklist:
    node: str
    context: str
    server: str = ""
    steps: list[StepState] = field(default_factory=lambda: [StepState(s) for s in StepId])
    created_at: float = 0.0
    finished: bool = False  # the procedure ended (all done, or abandoned by the operator)
    outcome: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # what later steps and resumes need (e.g. N members)
    kind: str = "replace"  # which procedure; any other kind lists its steps in the `begin` record

    @classmethod
    def of_steps(cls, kind: str, node: str, context: str, server: str, specs: Sequence[StepSpec]) -> Checklist:
        return cls(node, context, server, [StepState(i, spec=spec) for i, spec in enumerate(specs)], kind=kind)

    def step(self, step: int) -> StepState:
        return self.steps[int(step)]

    @property
    def running(self) -> StepState | None:
        return next((s for s in self.steps if s.status is StepStatus.RUNNING), None)

    @property
    def complete(self) -> bool:
        return all(s.settled for s in self.steps)

    def next_index(self) -> int | None:
        """The step to run next: the first one neither done nor skipped (a failed one is retried)."""
        for s in self.steps:
            if not s.settled:
                return s.id
        return None

    def next_step(self) -> StepId | None:
        """`next_index` of the replace procedure, as its StepId."""
        index = self.next_index()
        return None if index is None else StepId(index)

    def may_start(self, step: int) -> tuple[bool, str]:
        if self.finished:
            return False, "the procedure has ended"
        running = self.running
        if running is not None:
            return False, f"step {int(running.id)} is still running"
        state = self.step(step)
        if state.settled:
            return False, f"step {int(step)} is already {state.status.value}"
        blocking = [s for s in self.steps[: int(step)] if not s.settled]
        if blocking:
            return False, f"step {int(blocking[0].id)} ({blocking[0].title}) is not done yet"
        return True, ""

    # -- transitions (each returns the journal record that makes it durable) ----------------------
    def start(self, step: int, commands: Sequence[str], now: float, confirmation: str | None = None) -> dict[str, Any]:
        ok, why = self.may_start(step)
        if not ok:
            raise ChecklistError(f"cannot start step {int(step)}: {why}")
        s = self.step(step)
        s.status, s.commands, s.started_at, s.finished_at = StepStatus.RUNNING, list(commands), now, None
        s.reason, s.interrupted = None, False
        s.attempts += 1
        if confirmation is not None:
            s.confirmation = confirmation
        s.output.clear()
        s.dropped_lines = 0
        return self._record(s, now)

    def finish(self, step: int, now: float, note: str | None = None) -> dict[str, Any]:
        s = self._running(step)
        s.status, s.finished_at, s.reason = StepStatus.DONE, now, note
        return self._record(s, now)

    def fail(self, step: int, reason: str, now: float) -> dict[str, Any]:
        s = self._running(step)
        s.status, s.finished_at, s.reason = StepStatus.FAILED, now, reason
        return self._record(s, now)

    def skip(self, step: int, reason: str, now: float) -> dict[str, Any]:
        if not self.step(step).skippable:
            raise ChecklistError(f"step {int(step)} ({self.step(step).title}) cannot be skipped")
        if not reason.strip():
            raise ChecklistError("skipping a step needs a reason")
        s = self.step(step)
        if s.status is StepStatus.RUNNING:
            raise ChecklistError(f"step {int(step)} is running")
        ok, why = self.may_start(step)
        if not ok:
            raise ChecklistError(f"cannot skip step {int(step)}: {why}")
        s.status, s.reason, s.finished_at = StepStatus.SKIPPED, reason.strip(), now
        s.started_at = s.started_at or now
        return self._record(s, now)

    def end(self, outcome: str, now: float) -> dict[str, Any]:
        self.finished, self.outcome = True, outcome
        return {"type": "end", "t": now, "outcome": outcome}

    def note(self, key: str, value: Any, now: float) -> dict[str, Any]:
        self.facts[key] = value
        return {"type": "fact", "t": now, "key": key, "value": value}

    def begin_record(self, now: float) -> dict[str, Any]:
        self.created_at = self.created_at or now
        record: dict[str, Any] = {"type": "begin", "v": JOURNAL_VERSION, "t": now, "node": self.node,
                                  "context": self.context, "server": self.server}
        if self.kind != "replace":
            record["kind"] = self.kind
            record["steps"] = [s.spec.as_dict() if s.spec else {"title": s.title} for s in self.steps]
        return record

    def _running(self, step: int) -> StepState:
        s = self.step(step)
        if s.status is not StepStatus.RUNNING:
            raise ChecklistError(f"step {int(step)} is {s.status.value}, not running")
        return s

    @staticmethod
    def _record(s: StepState, now: float) -> dict[str, Any]:
        return {
            "type": "step", "t": now, "step": int(s.id), "status": s.status.value, "commands": list(s.commands),
            "output_tail": list(s.output), "dropped_lines": s.dropped_lines, "reason": s.reason,
            "started_at": s.started_at, "finished_at": s.finished_at, "confirmation": s.confirmation,
            "attempts": s.attempts,
        }

    def output_record(self, step: int, now: float) -> dict[str, Any]:
        """A progress record: the output tail so far of a running step (written now and then, not per line)."""
        return self._record(self.step(step), now)


# -- the journal: replay ------------------------------------------------------------------------------
def replay(records: Iterable[Mapping[str, Any]]) -> Checklist:
    """Rebuild the checklist from journal records; a step that was running is marked interrupted (re-run)."""
    checklist: Checklist | None = None
    for rec in records:
        kind = rec.get("type")
        if kind == "begin":
            node, context, server = str(rec["node"]), str(rec.get("context", "")), str(rec.get("server", ""))
            if rec.get("kind", "replace") == "replace":
                checklist = Checklist(node=node, context=context, server=server)
            else:
                specs = [StepSpec.from_dict(d) for d in rec.get("steps") or []]
                checklist = Checklist.of_steps(str(rec["kind"]), node, context, server, specs)
            checklist.created_at = float(rec.get("t", 0.0))
        elif checklist is None:
            raise ChecklistError("journal does not start with a `begin` record")
        elif kind == "step":
            try:
                s = checklist.steps[int(rec["step"])]
                s.status = StepStatus(str(rec["status"]))
            except (KeyError, ValueError, IndexError) as exc:
                raise ChecklistError(f"bad step record: {exc}") from None
            s.commands = [str(c) for c in rec.get("commands") or []]
            s.output = [str(c) for c in rec.get("output_tail") or []][-OUTPUT_TAIL_LINES:]
            s.dropped_lines = int(rec.get("dropped_lines") or 0)
            s.reason = rec.get("reason")
            s.started_at = rec.get("started_at")
            s.finished_at = rec.get("finished_at")
            s.confirmation = rec.get("confirmation") or s.confirmation
            s.attempts = int(rec.get("attempts") or s.attempts)
        elif kind == "fact":
            checklist.facts[str(rec.get("key"))] = rec.get("value")
        elif kind == "end":
            checklist.finished, checklist.outcome = True, str(rec.get("outcome", ""))
    if checklist is None:
        raise ChecklistError("empty journal")
    for s in checklist.steps:
        if s.status is StepStatus.RUNNING:
            s.status, s.interrupted = StepStatus.PENDING, True
            s.reason = "interrupted while running: it is re-run (every step is idempotent)"
    return checklist


# -- gates ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemberFacts:
    """What the gates need of one voting or learner member (from the ring engine's latest poll)."""

    name: str  # member name (= node name on kubeadm)
    member_id: str | None
    healthy: bool | None
    is_learner: bool = False
    evidence: tuple[str, ...] = ()  # corruption findings about this member, one line each


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str
    warnings: tuple[str, ...] = ()


def evidence_gate(members: Sequence[MemberFacts], target: str) -> GateResult:
    """Refuse if more than one member is suspect, or another member (not the target) is."""
    suspects = [m for m in members if m.evidence]
    names = ", ".join(m.name for m in suspects)
    if len(suspects) > 1:
        return GateResult("evidence", False, f"refused: {len(suspects)} members are suspect ({names}); this procedure "
                          "replaces exactly one member while the others hold quorum: restore from a backup instead")
    if suspects and suspects[0].name != target:
        return GateResult("evidence", False, f"refused: the evidence points at {suspects[0].name}, not {target}")
    if not any(m.name == target for m in members):
        return GateResult("evidence", False, f"refused: {target} is not an etcd member of this cluster")
    if not suspects:
        return GateResult("evidence", True, f"no corruption evidence against {target}",
                          (f"nothing makes {target} suspect: replacing a healthy member costs fault tolerance "
                           "for nothing",))
    return GateResult("evidence", True, f"{target} is the only suspect: " + "; ".join(suspects[0].evidence[:3]))


def quorum_gate(members: Sequence[MemberFacts], target: str) -> tuple[GateResult, ReplaceDecision]:
    """H ≥ Q(N) and H ≥ Q(N−1), counting voting members only (core/quorum.py)."""
    voting = [m for m in members if not m.is_learner]
    target_member = next((m for m in members if m.name == target), None)
    if target_member is None:
        return _rejoin_gate(voting, target)
    healthy_others = sum(1 for m in voting if m.name != target and m.healthy)
    decision = replace_gate(len(voting), healthy_others,
                            target_is_learner=bool(target_member and target_member.is_learner))
    unhealthy = [m.name for m in voting if m.name != target and not m.healthy]
    detail = decision.reason + (f" (not healthy: {', '.join(unhealthy)})" if unhealthy else "")
    return GateResult("quorum", decision.allowed, detail), decision


def _rejoin_gate(voting: Sequence[MemberFacts], target: str) -> tuple[GateResult, ReplaceDecision]:
    """The target is already removed: the ring of N' members must stay available while it grows to N'+1."""
    n = len(voting)
    healthy = sum(1 for m in voting if m.healthy)
    need = quorum(n + 1) if n else 1
    ok = n >= 2 and healthy >= need and healthy >= quorum(n)
    unhealthy = [m.name for m in voting if not m.healthy]
    detail = (f"{target} is no longer a member; {n} voting members, {healthy} healthy; adding it back needs "
              f"{need} healthy: " + ("safe" if ok else "refused") +
              (f" (not healthy: {', '.join(unhealthy)})" if unhealthy else ""))
    decision = ReplaceDecision(ok, n, healthy, quorum(n) if n else 1, need, max(healthy - need, 0) if ok else 0, detail)
    return GateResult("quorum", ok, detail), decision


CORRUPT_ALARM_NOTE = (
    "a CORRUPT alarm is active: etcd refuses every write (Kubernetes objects cannot change, so drain and "
    "Node deletion fail) until it is disarmed. etcd 3.5 raises it with memberID 0 (it does not name the bad "
    "member). Disarm it only once the bad member is replaced and all hashes agree (step 9 offers it)."
)


def alarm_note(alarms: Sequence[tuple[str, str]]) -> str | None:
    """An explanation of the active alarms, or None when there are none."""
    if not alarms:
        return None
    names = sorted({name for _, name in alarms})
    if "CORRUPT" in names:
        return CORRUPT_ALARM_NOTE
    return f"active alarms: {', '.join(names)} (etcd refuses writes while NOSPACE is set)"


# -- kubeone apply's plan -------------------------------------------------------------------------------
_JOIN = re.compile(r'^\s*\+\s+join control plane node "(?P<host>[^"]+)"')
_INIT = re.compile(r'^\s*\+\s+initialize control plane node "(?P<host>[^"]+)"')


@dataclass(frozen=True)
class JoinPlanCheck:
    ok: bool
    reason: str
    joins: tuple[str, ...]
    actions: tuple[str, ...]  # every `+`/`~`/`!` line of the plan, as printed


def check_join_plan(lines: Sequence[str], target: str) -> JoinPlanCheck:
    """The plan before `Do you want to proceed`: exactly one join of `target`, no initialize."""
    start = max((i for i, ln in enumerate(lines) if "The following actions will be taken:" in ln), default=-1)
    body = [ln.rstrip("\r") for ln in lines[start + 1:]] if start >= 0 else []
    actions = tuple(ln.strip() for ln in body if re.match(r"^\s*[+~!-]\s", ln))
    joins = tuple(m["host"] for m in map(_JOIN.match, body) if m)
    inits = [m["host"] for m in map(_INIT.match, body) if m]
    if start < 0:
        return JoinPlanCheck(False, "KubeOne printed no plan before its prompt", joins, actions)
    if inits:
        return JoinPlanCheck(False, f"the plan initializes a control plane ({', '.join(inits)}): KubeOne thinks "
                             "the cluster is not provisioned", joins, actions)
    if joins != (target,):
        seen = ", ".join(joins) or "none"
        return JoinPlanCheck(False, f'the plan must join exactly control plane node "{target}" (joins: {seen})',
                             joins, actions)
    others = [a for a in actions if not _JOIN.match(a) and "apply embedded" not in a and "apply addons" not in a
              and "machinedeployment" not in a]
    if others:
        return JoinPlanCheck(False, f"the plan does more than the re-join: {others[0]}", joins, actions)
    return JoinPlanCheck(True, f'exactly one join of "{target}", no initialize', joins, actions)
