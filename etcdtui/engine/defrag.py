"""Defragment the ring one member at a time (followers first, the leader last), journaled and resumable.

The same machinery as the replace procedure: the core's `Checklist` (steps decided at plan time, one per
member, listed in the journal's `begin` record), the journal and the per-cluster lock of `replace_journal.py`
(one surgery per cluster: a defragmentation and a replacement never run together), fresh polls for the gates.

    proc = DefragProcedure(conn, engine, settings, interaction)
    await proc.open()        # lock + journal: resumes an unfinished run, else plans one on a fresh poll
    outcome = await proc.run()
    await proc.close()

Before each member (on a poll made then): no CORRUPT alarm, every voting member healthy, quorum kept with it
paused; if it leads, leadership moves to the healthiest follower first (`etcdctl move-leader`). After it: wait
until it is healthy again and its applied raft index reaches the leader's index of the first poll after.
With a NOSPACE alarm the plan is etcd's way out: compact to the current revision, defragment every member,
`alarm disarm` (docs/defrag.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from etcdtui.cluster.etcdctl_exec import EtcdctlExec, EtcdctlExecError
from etcdtui.cluster.kube import ClusterConnection, ClusterError
from etcdtui.core.checklist import Checklist, StepSpec, StepStatus
from etcdtui.core.defrag_rules import (
    DEFAULT_RULE,
    PlanEntry,
    Rule,
    fragmentation,
    parse_rule,
    pause_gate,
    plan,
)
from etcdtui.engine.checklist_run import ChecklistRun
from etcdtui.engine.replace import Outcome, Paused, Refused, StepFailed, fresh_snapshot
from etcdtui.engine.replace_journal import Journal, JournalError, ProcedureLock
from etcdtui.engine.snapshot import MemberRow, RingSnapshot
from etcdtui.engine.surgery import SurgeryError, etcdctl_in_pod, member_dbs, move_leadership_off, row_of

PROCEDURE = "defrag"


@dataclass(frozen=True)
class DefragQuestion:
    kind: str  # "destructive": type `expect` to go on
    step: int
    title: str
    text: str
    context: str
    expect: str
    command: tuple[str, ...] = ()


class DefragInteraction(Protocol):
    async def ask(self, question: DefragQuestion) -> str | None:
        """The typed answer; None is no/cancel."""

    def changed(self, step: int | None) -> None:
        """The checklist changed; called on the event loop, must not block."""


@dataclass
class DefragSettings:
    rule: str = DEFAULT_RULE
    state_dir: Path | None = None
    namespace: str = "kube-system"
    defrag_timeout: float = 300.0  # one member's `etcdctl defrag` (big databases take minutes)
    catch_up_timeout: float = 180.0


def alarm_names(snap: RingSnapshot) -> list[str]:
    return sorted({name for _, name in snap.alarms})


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


# Step layout: what each step of a planned run does (journaled as the fact "layout").
PLAN, COMPACT, MEMBER, DISARM, VERIFY = "plan", "compact", "member", "disarm", "verify"


def layout_for(entries: Sequence[PlanEntry], nospace: bool) -> list[tuple[StepSpec, dict[str, Any]]]:
    steps: list[tuple[StepSpec, dict[str, Any]]] = [
        (StepSpec("Plan and gates: the rule, followers first and the leader last, no CORRUPT alarm"), {"do": PLAN})]
    if nospace:
        steps.append((StepSpec("Compact the history to the current revision (NOSPACE way out, 1 of 3)",
                               destructive=True), {"do": COMPACT}))
    for e in entries:
        title = f"Defragment {e.name}" + (" (the leader: leadership is moved first)" if e.was_leader else "")
        steps.append((StepSpec(title, destructive=True, skippable=True),
                      {"do": MEMBER, "member": e.name, "member_id": e.member_id, "selected": e.selected,
                       "reason": e.reason, "was_leader": e.was_leader}))
    if nospace:
        steps.append((StepSpec("Disarm the NOSPACE alarm (NOSPACE way out, 3 of 3)", destructive=True),
                      {"do": DISARM}))
    steps.append((StepSpec("Verify: every member healthy and caught up, sizes before and after"), {"do": VERIFY}))
    return steps


class DefragProcedure(ChecklistRun):
    def __init__(self, conn: ClusterConnection, engine: Any, settings: DefragSettings,
                 interaction: DefragInteraction, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.engine = engine
        self.settings = settings
        self.rule: Rule = parse_rule(settings.rule)  # RuleError before anything else
        self.ui = interaction
        journal = Journal.for_cluster(conn.context, conn.server, settings.state_dir, PROCEDURE)
        super().__init__(Checklist.of_steps(PROCEDURE, "", conn.context, conn.server, []), journal,
                         ProcedureLock(journal.directory, journal.key, PROCEDURE), interaction.changed, clock)
        self.resumed = False
        self.entries: list[PlanEntry] = []
        self.nospace = False
        self.snap: RingSnapshot | None = None
        self._exec = EtcdctlExec(conn)

    # -- planning ------------------------------------------------------------------------------------------
    async def evaluate(self) -> RingSnapshot:
        """The plan on a fresh poll, changing nothing (what --dry-run prints and `open` journals)."""
        snap = await fresh_snapshot(self.engine)
        self.snap = snap
        self.nospace = "NOSPACE" in alarm_names(snap)
        self.entries = plan(member_dbs(snap), self.rule, force=self.nospace)
        return snap

    def gate_now(self, snap: RingSnapshot) -> tuple[bool, str]:
        """The ring-wide gate of the plan step: refuse while a CORRUPT alarm is active or the ring is sick."""
        dbs = member_dbs(snap)
        first = next((e.name for e in self.entries if e.selected), None)
        if first is None:
            if "CORRUPT" in alarm_names(snap):
                return False, pause_gate(dbs, "", ["CORRUPT"]).detail
            return True, "no member needs defragmenting under the rule"
        gate = pause_gate(dbs, first, alarm_names(snap))
        return gate.passed, gate.detail

    def plan_lines(self) -> list[str]:
        lines = [f"rule: {self.rule.text}" + ("  (NOSPACE: every member, whatever the rule)" if self.nospace else "")]
        for i, e in enumerate(self.entries, 1):
            lines.append(f"{i}. {e.name} ({e.member_id}){' [leader]' if e.was_leader else ''}: "
                         f"{'defragment' if e.selected else 'skip'} — {e.reason}")
        return lines

    def layout(self) -> list[dict[str, Any]]:
        raw = self.checklist.facts.get("layout")
        return list(raw) if isinstance(raw, list) else []

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Take the cluster's lock; resume its unfinished defragmentation, or plan a new one."""
        await asyncio.to_thread(self.lock.acquire)
        try:
            existing = await asyncio.to_thread(self.journal.load)
            if existing is not None:
                self.checklist, self.resumed = existing, True
                rule = existing.facts.get("rule")
                if isinstance(rule, str):
                    self.rule = parse_rule(rule)
                self.nospace = bool(existing.facts.get("nospace"))
                return
            await self.evaluate()
        except BaseException:
            self.lock.release()
            raise
        steps = layout_for(self.entries, self.nospace)
        self.checklist = Checklist.of_steps(PROCEDURE, "", self.conn.context, self.conn.server,
                                            [spec for spec, _ in steps])
        now = self.clock()
        self.write(self.checklist.begin_record(now))
        self.write(self.checklist.note("rule", self.rule.text, now))
        self.write(self.checklist.note("nospace", self.nospace, now))
        self.write(self.checklist.note("layout", [what for _, what in steps], now))
        assert self.snap is not None
        self.write(self.checklist.note("before", {m.name: [m.db_size, m.db_size_in_use]
                                                   for m in member_dbs(self.snap)}, now))
        await self.flush()

    async def close(self) -> None:
        await self._exec.close()
        await self.close_journal()

    @staticmethod
    def pending_journal(context: str, server: str, state_dir: Path | None = None) -> Checklist | None:
        try:
            return Journal.for_cluster(context, server, state_dir, PROCEDURE).load()
        except JournalError:
            return None

    # -- running -------------------------------------------------------------------------------------------
    async def run(self) -> Outcome:
        while True:
            index = self.checklist.next_index()
            if index is None:
                await self.finish_procedure("defragmented")
                return Outcome.DONE
            outcome = await self.run_step(index)
            if outcome is not None:
                return outcome

    async def run_step(self, index: int) -> Outcome | None:
        what = self.layout()[index]
        runners: dict[str, Callable[[int, dict[str, Any]], Awaitable[None]]] = {
            PLAN: self.step_plan, COMPACT: self.step_compact, MEMBER: self.step_member, DISARM: self.step_disarm,
            VERIFY: self.step_verify}
        try:
            await runners[str(what["do"])](index, what)
        except Paused:
            self.ui.changed(index)
            return Outcome.PAUSED
        except Refused as exc:
            self.fail_step(index, str(exc))
            return Outcome.REFUSED
        except (StepFailed, ClusterError, EtcdctlExecError) as exc:
            self.fail_step(index, getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            return Outcome.FAILED
        except asyncio.CancelledError:
            self.fail_step(index, "stopped by the operator")
            raise
        return None

    async def _confirm(self, index: int, what: str, expect: str, command: Sequence[str] = ()) -> str:
        question = DefragQuestion(
            "destructive", index, f"Step {index}: {self.checklist.step(index).title}",
            f"{what}\n\nContext: {self.conn.context} ({self.conn.server})\nType {expect} to confirm.",
            self.conn.context, expect, tuple(command))
        answer = await self.ui.ask(question)
        if answer is None or answer.strip() != expect:
            raise Paused()
        return f"typed {expect!r} on context {self.conn.context}: {what}"

    # -- etcdctl in a pod ---------------------------------------------------------------------------------------
    async def etcdctl_in(self, row: MemberRow, args: Sequence[str], limit_s: float = 20.0) -> tuple[str, str]:
        """etcdctl `args` in `row`'s own pod, against its own member; (shown, stdout)."""
        try:
            return await etcdctl_in_pod(self._exec, row, self.settings.namespace, args, limit_s)
        except SurgeryError as exc:
            raise StepFailed(str(exc)) from None

    @staticmethod
    def _row(snap: RingSnapshot, name: str) -> MemberRow | None:
        return row_of(snap, name)

    @staticmethod
    def _healthy_row(snap: RingSnapshot, exclude: str | None = None) -> MemberRow:
        rows = [r for r in snap.rows if r.pod and r.healthy and r.member_id and r.member_name != exclude]
        if not rows:
            raise StepFailed("no healthy etcd member to run etcdctl in")
        return sorted(rows, key=lambda r: (not r.is_leader, r.key))[0]

    # == the steps ================================================================================================
    async def step_plan(self, index: int, what: dict[str, Any]) -> None:
        self.start_step(index, ["in a healthy pod: etcdctl member list / endpoint status / endpoint health / alarm list"])
        snap = await fresh_snapshot(self.engine)
        if not self.entries:  # resumed: re-plan on this poll, keep the journaled order
            self.entries = plan(member_dbs(snap), self.rule, force=self.nospace)
        for line in self.plan_lines():
            self.out(index, line)
        ok, detail = self.gate_now(snap)
        self.out(index, f"gate: {detail}")
        if not ok:
            raise Refused(detail)
        chosen = sum(1 for w in self.layout() if w.get("do") == MEMBER and w.get("selected"))
        self.finish_step(index, f"{chosen} of {len(self.entries)} members to defragment, the leader last")

    async def step_compact(self, index: int, what: dict[str, Any]) -> None:
        snap = await fresh_snapshot(self.engine)
        if "CORRUPT" in alarm_names(snap):
            raise Refused(pause_gate(member_dbs(snap), "", ["CORRUPT"]).detail)
        row = self._healthy_row(snap)
        revision = max((r.revision or 0) for r in snap.rows)
        if not revision:
            raise StepFailed("no member reported its revision")
        args = ["compaction", "--physical", str(revision)]
        confirmation = await self._confirm(
            index, f"Compact the key history to revision {revision}: older revisions are dropped for good "
                   "(watchers and reads of older revisions get `compacted`).", self.conn.context, ["etcdctl", *args])
        self.start_step(index, [f"in pod {row.pod_name}: etcdctl {' '.join(args)}"], confirmation)
        await self.flush()
        shown, stdout = await self.etcdctl_in(row, args, limit_s=120.0)
        self.out(index, shown, *stdout.splitlines())
        self.finish_step(index, f"compacted to revision {revision}")

    async def step_member(self, index: int, what: dict[str, Any]) -> None:
        name = str(what["member"])
        if not what.get("selected"):
            self.skip_step(index, f"not needed: {what.get('reason')}")
            return
        snap = await fresh_snapshot(self.engine)
        gate = pause_gate(member_dbs(snap), name, alarm_names(snap))
        if not gate.passed:
            self.start_step(index, ["etcdctl member list / endpoint health / alarm list"])
            self.out(index, f"gate: {gate.detail}")
            raise Refused(gate.detail)
        row = self._row(snap, name)
        if row is None:
            raise StepFailed(f"{name} is no longer a member")
        defrag = ["defrag", f"--command-timeout={int(self.settings.defrag_timeout)}s"]
        commands = [f"in pod {row.pod_name}: etcdctl {' '.join(defrag)}  (its own endpoint only)"]
        if row.is_leader:
            commands.insert(0, f"in pod {row.pod_name}: etcdctl move-leader <healthiest follower>")
        confirmation = await self._confirm(
            index, f"Defragment {name}: it stops serving while its database is rewritten "
                   f"({_mb(row.db_size)}, in use {_mb(row.db_size_in_use)}).", name, ["etcdctl", *defrag])
        self.start_step(index, commands, confirmation)
        await self.flush()  # the confirmation and "running" are on disk before anything changes
        self.out(index, f"gate: {gate.detail}")
        if row.is_leader:
            snap = await self._move_leadership(index, snap, name)
            row = self._row(snap, name) or row
        planned = (self.checklist.facts.get("before") or {}).get(name)
        # The sizes at plan time: a step re-run after a crash must not report its own first run's result as before.
        before = (planned[0], planned[1]) if isinstance(planned, list) and len(planned) == 2 \
            else (row.db_size, row.db_size_in_use)
        started = self.clock()
        shown, stdout = await self._defrag_with_progress(index, row, defrag)
        paused = self.clock() - started
        self.out(index, shown, *stdout.splitlines())
        after, caught = await self._wait_caught_up(index, name)
        frag = fragmentation(*before)
        result = {"before": before[0], "before_in_use": before[1], "after": after.db_size,
                  "after_in_use": after.db_size_in_use, "paused_s": round(paused, 3),
                  "caught_up_s": round(caught, 3), "started": started, "ended": started + paused,
                  "was_leader": bool(what.get("was_leader"))}
        self.note(f"result:{name}", result)
        line = (f"{name}: {_mb(before[0])} → {_mb(after.db_size)} (in use {_mb(after.db_size_in_use)}"
                + (f", was {frag:.0%} fragmented" if frag is not None else "") +
                f"); unavailable {paused:.1f} s; healthy and caught up {caught:.1f} s later")
        self.out(index, line)
        self.finish_step(index, line)

    async def _defrag_with_progress(self, index: int, row: MemberRow, args: list[str]) -> tuple[str, str]:
        async def ticker() -> None:
            t0 = time.monotonic()
            while True:
                await asyncio.sleep(1.0)
                self.out(index, f"defragmenting {row.member_name}… {time.monotonic() - t0:.0f} s")

        tick = asyncio.create_task(ticker())
        try:
            return await self.etcdctl_in(row, args, limit_s=self.settings.defrag_timeout + 10)
        finally:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick

    async def _move_leadership(self, index: int, snap: RingSnapshot, name: str) -> RingSnapshot:
        done = [str(w["member"]) for w, s in zip(self.layout(), self.checklist.steps, strict=False)
                if w.get("do") == MEMBER and s.status is StepStatus.DONE]
        try:
            snap, to = await move_leadership_off(
                self._exec, self.settings.namespace, snap, name, lambda: fresh_snapshot(self.engine),
                lambda line: self.out(index, line), prefer=done, purpose="defragmenting")
        except SurgeryError as exc:
            raise StepFailed(str(exc)) from None
        if to is not None:
            self.note(f"moved_leader:{name}", {"to": to, "t": self.clock()})
        return snap

    async def _wait_caught_up(self, index: int, name: str) -> tuple[MemberRow, float]:
        """Healthy again, and applied up to the leader's raft index of the first poll after the defrag."""
        t0 = time.monotonic()
        # A poll already running when the defragmentation ended may carry the sizes of before: the next one
        # started after it.
        await fresh_snapshot(self.engine)
        mark: int | None = None
        deadline = t0 + self.settings.catch_up_timeout
        why = "not polled yet"
        while time.monotonic() < deadline:
            snap = await fresh_snapshot(self.engine)
            row, leader = self._row(snap, name), snap.leader
            if mark is None and leader is not None and leader.raft_index is not None:
                mark = leader.raft_index
            if row is None:
                why = f"{name} is missing from member list"
            elif not row.healthy:
                why = f"{name} not healthy yet"
            elif mark is None or row.raft_applied_index is None:
                why = "no raft index yet"
            elif row.raft_applied_index < mark:
                why = f"{name} applied {row.raft_applied_index}, the leader was at {mark}"
            else:
                self.out(index, f"{name} healthy, applied raft index {row.raft_applied_index} ≥ {mark}")
                return row, time.monotonic() - t0
            self.out(index, f"waiting: {why}")
            await asyncio.sleep(0.5)
        raise StepFailed(f"{name} did not catch up within {self.settings.catch_up_timeout:.0f} s: {why}")

    async def step_disarm(self, index: int, what: dict[str, Any]) -> None:
        snap = await fresh_snapshot(self.engine)
        sick = [r.member_name or r.key for r in snap.rows if r.member_id and not r.is_learner and not r.healthy]
        if sick or "CORRUPT" in alarm_names(snap):
            raise Refused(f"not disarming: {'not healthy: ' + ', '.join(sick) if sick else 'a CORRUPT alarm is set'}")
        over = [m.name for m in member_dbs(snap) if m.db_size is not None and m.db_size >= m.quota]
        if over:
            raise StepFailed(f"still at or over the quota after defragmenting: {', '.join(over)} (the live data "
                             "itself is too big: delete keys or raise --quota-backend-bytes)")
        row = self._healthy_row(snap)
        args = ["alarm", "disarm"]
        confirmation = await self._confirm(index, "Disarm the NOSPACE alarm: writes are accepted again.",
                                           self.conn.context, ["etcdctl", *args])
        self.start_step(index, [f"in pod {row.pod_name}: etcdctl alarm disarm"], confirmation)
        await self.flush()
        shown, stdout = await self.etcdctl_in(row, args)
        self.out(index, shown, *stdout.splitlines())
        for _ in range(20):
            snap = await fresh_snapshot(self.engine)
            if "NOSPACE" not in alarm_names(snap):
                self.out(index, "alarm list: empty")
                self.finish_step(index, "NOSPACE disarmed")
                return
            await asyncio.sleep(0.5)
        raise StepFailed("NOSPACE is still listed after `alarm disarm`")

    async def step_verify(self, index: int, what: dict[str, Any]) -> None:
        self.start_step(index, ["etcdctl endpoint status / endpoint health / alarm list"])
        snap = await fresh_snapshot(self.engine)
        sick = [r.member_name or r.key for r in snap.rows if r.member_id and not r.is_learner and not r.healthy]
        before = self.checklist.facts.get("before") or {}
        for m in member_dbs(snap):
            result = self.checklist.facts.get(f"result:{m.name}")
            was = before.get(m.name, [None, None])[0] if isinstance(before, dict) else None
            tail = (f"unavailable {result['paused_s']:.1f} s" if isinstance(result, dict) else "not defragmented")
            self.out(index, f"{m.name}: {_mb(was)} → {_mb(m.db_size)} (in use {_mb(m.db_size_in_use)}, quota "
                            f"{_mb(m.quota)}); {tail}")
        if sick:
            raise StepFailed(f"not healthy: {', '.join(sick)}")
        alarms = alarm_names(snap)
        if alarms:
            self.out(index, f"alarms still set: {', '.join(alarms)}")
        self.finish_step(index, "every member healthy" + (f"; alarms: {', '.join(alarms)}" if alarms else "; no alarm"))

