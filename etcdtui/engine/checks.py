"""The corruption-checks audit and "enable them with KubeOne" (issue #6; kubeone-procedure §1, §2, §6, §9).

No Textual here: the screen (`etcdtui/ui/screens/checks.py`) calls `ChecksService` and renders its results.

* `audit()`: every etcd pod's flags (core `audit_flags`), its etcd version risk (core `assess_version`) and
  the evidence of its current log (`checks_evidence`), read through the API with a byte budget per member.
* `kubeone_facts()`: the `kubeone` binary (the context's settings, else PATH), `kubeone version`
  run through the runner and parsed (≥ 1.4.1 needed), and the `kubeone.yaml`/`tf.json` paths checked readable.
* `backups()`: KubeOne's backups-restic addon (CronJob `kube-system/etcd-s3-backup`) and its last success.
* `enable()`: `kubeone apply -m M -t T --force-upgrade` in a PTY; KubeOne's plan and prompt go to a callback
  (the dialog), the answer is written back, then the pods are re-read until every member has restarted,
  and the before/after of every member's flags is returned.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from etcdtui.cluster.kube import ClusterConnection, ClusterError, status_error
from etcdtui.cluster.objects import PodInfo, parse_time, pod_from_dict
from etcdtui.cluster.rawapi import get_raw
from etcdtui.cluster.runner import (
    CommandNotFoundError,
    CommandResult,
    CommandSpec,
    OutputBatch,
    PromptEvent,
    RunnerError,
    run_command,
)
from etcdtui.core.flags import FlagsAudit, audit_flags
from etcdtui.core.kubeone import (
    CorruptionCheckSupport,
    KubeOneCluster,
    KubeOneVersion,
    corruption_check_support,
    parse_kubeone_manifest,
    parse_kubeone_version_text,
)
from etcdtui.core.kubeone_output import kubeone_error
from etcdtui.core.versions import EtcdVersion, VersionRisk, assess_version, parse_version
from etcdtui.engine.checks_evidence import LogEvidence, evidence_from_lines, unread
from etcdtui.engine.checks_plan import Plan, parse_plan
from etcdtui.engine.context_settings import KubeOnePaths

LOG_HEAD_BYTES = 1 << 20  # the start of the current run: `enabled corruption checking`, the initial check
LOG_TAIL_LINES = 5000  # the recent end: the last `finished peer corruption check`
LOG_TAIL_BYTES = 2 << 20
API_TIMEOUT = 15.0
VERSION_TIMEOUT = 20.0
RESTART_TIMEOUT = 120.0  # after kubeone exits: every member back, Ready, with its new log
BACKUP_CRONJOB = "etcd-s3-backup"
BACKUP_NAMESPACE = "kube-system"
CONFIGURED = "configured"  # the source of a kubeone path given by a flag or the context's settings
OUTPUT_KEEP_LINES = 400  # lines of kubeone output kept for the plan and the result


# == settings ==============================================================================================
@dataclass(frozen=True)
class KubeOneSettings:
    """Where kubeone and its files are: the context's settings (`engine/context_settings.py`), else PATH."""

    binary: str | None = None
    manifest: str | None = None
    tfjson: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    path_env: str | None = None  # PATH to search (None: this process's)

    @classmethod
    def of(cls, paths: KubeOnePaths) -> KubeOneSettings:
        return cls(paths.binary, paths.manifest, paths.tf)


# == results ===============================================================================================
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


# == the service ===========================================================================================
class ChecksService:
    def __init__(
        self,
        conn: ClusterConnection,
        settings: KubeOneSettings,
        *,
        namespace: str = "kube-system",
        selector: str = "component=etcd",
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.namespace = namespace
        self.selector = selector

    @property
    def context(self) -> str:
        return self.conn.context

    # -- audit -------------------------------------------------------------------------------------------
    async def report(self, hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> ChecksReport:
        """Everything the screen shows. `hints`: pod → (is_leader, etcd version) from the ring engine."""
        members_task = asyncio.ensure_future(self.audit(hints))
        kubeone, backups = await asyncio.gather(self.kubeone_facts(), self.backups())
        try:
            members, error = await members_task, None
        except ClusterError as exc:
            members, error = [], exc.message
        return ChecksReport(tuple(members), kubeone, backups, time.time(), error)

    async def list_pods(self) -> list[PodInfo]:
        doing = f"list pods in namespace {self.namespace}"
        try:
            resp = await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods", {"namespace": self.namespace},
                                 [("labelSelector", self.selector)], API_TIMEOUT)
            try:
                body = await resp.read()
                if resp.status != 200:
                    raise status_error(resp.status, self.conn.server, doing, "list pods")
            finally:
                resp.release()
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport error becomes one line
            raise self.conn.error(exc, doing, "list pods") from None
        items = json.loads(body).get("items") or []
        return sorted((pod_from_dict(item) for item in items), key=lambda p: p.name)

    async def audit(self, hints: Mapping[str, tuple[bool | None, str | None]] | None = None) -> list[MemberChecks]:
        pods = await self.list_pods()
        hints = hints or {}
        logs = await asyncio.gather(*(self.read_evidence(p.name) for p in pods))
        return [self._member(p, ev, *hints.get(p.name, (None, None))) for p, ev in zip(pods, logs, strict=True)]

    def _member(self, pod: PodInfo, logs: LogEvidence, is_leader: bool | None, version_text: str | None) -> MemberChecks:
        version = parse_version(version_text) or parse_version(pod.image_version)
        if is_leader is None and logs.periodic_passes:
            is_leader = True  # only the leader logs `finished peer corruption check`
        return MemberChecks(
            pod=pod.name, node=pod.node, uid=pod.uid, ready=pod.ready, status=pod.status_text,
            started_at=pod.started_at, is_leader=is_leader, version=version, risk=assess_version(version),
            audit=audit_flags(pod.command, version, member=pod.name), command=pod.command, logs=logs,
        )

    async def read_evidence(self, pod: str) -> LogEvidence:
        """The current container's log: its first MiB and its last lines, never more than 3 MiB in all."""
        try:
            head, head_full = await self._read_log(pod, [("limitBytes", LOG_HEAD_BYTES)], LOG_HEAD_BYTES)
            if head_full:
                return evidence_from_lines(pod, head.splitlines())
            tail, _ = await self._read_log(pod, [("tailLines", LOG_TAIL_LINES)], LOG_TAIL_BYTES)
        except ClusterError as exc:
            return unread(exc.message)
        start = evidence_from_lines(pod, _complete_lines(head), truncated=True)
        recent = evidence_from_lines(pod, tail.splitlines()[1:], truncated=True)  # first line may be cut
        return LogEvidence(
            read=True, lines=start.lines + recent.lines, truncated=True, enabled=start.enabled or recent.enabled,
            enabled_interval=start.enabled_interval or recent.enabled_interval, initial=start.initial,
            initial_detail=start.initial_detail, periodic_last_ts=recent.periodic_last_ts or start.periodic_last_ts,
            periodic_last_peers=recent.periodic_last_peers if recent.periodic_passes else start.periodic_last_peers,
            periodic_passes=max(start.periodic_passes, recent.periodic_passes),
            periodic_vacuous=max(start.periodic_vacuous, recent.periodic_vacuous),
        )

    async def _read_log(self, pod: str, query: list[tuple[str, Any]], budget: int) -> tuple[bytes, bool]:
        """(bytes, whole) where `whole` says the log ended before `budget` bytes."""
        doing = f"get the log of pod {self.namespace}/{pod}"
        try:
            resp = await get_raw(self.conn.api, "/api/v1/namespaces/{namespace}/pods/{name}/log",
                                 {"namespace": self.namespace, "name": pod}, query, API_TIMEOUT)
            try:
                if resp.status != 200:
                    raise status_error(resp.status, self.conn.server, doing, "get pods/log")
                chunks: list[bytes] = []
                size = 0
                while size < budget:
                    chunk = await resp.content.read(min(256 * 1024, budget - size))
                    if not chunk:
                        return b"".join(chunks), True
                    chunks.append(chunk)
                    size += len(chunk)
                return b"".join(chunks), False
            finally:
                resp.release()
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.conn.error(exc, doing, "get pods/log") from None

    # -- backups -----------------------------------------------------------------------------------------
    async def backups(self) -> BackupStatus:
        doing = f"get cronjob {BACKUP_NAMESPACE}/{BACKUP_CRONJOB}"
        try:
            resp = await get_raw(self.conn.api, "/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}",
                                 {"namespace": BACKUP_NAMESPACE, "name": BACKUP_CRONJOB}, [], API_TIMEOUT)
            try:
                body, status = await resp.read(), resp.status
            finally:
                resp.release()
        except Exception as exc:  # noqa: BLE001
            return BackupStatus(None, f"cannot tell: {self.conn.error(exc, doing, 'get cronjobs').message}")
        if status == 404:
            return BackupStatus(False, f"not deployed (no CronJob {BACKUP_NAMESPACE}/{BACKUP_CRONJOB}): "
                                       "KubeOne's backups-restic addon is off; take an etcd snapshot before surgery")
        if status != 200:
            return BackupStatus(None, f"cannot tell: {status_error(status, self.conn.server, doing, 'get cronjobs').message}")
        obj = json.loads(body)
        spec, st = obj.get("spec") or {}, obj.get("status") or {}
        last_ok, last_run = parse_time(st.get("lastSuccessfulTime")), parse_time(st.get("lastScheduleTime"))
        label = ((obj.get("metadata") or {}).get("labels") or {}).get("kubeone.io/addon")
        suspended = " (suspended)" if spec.get("suspend") else ""
        origin = "backups-restic addon" if label == "backups-restic" else "CronJob"
        detail = f"{origin} deployed{suspended}, schedule {spec.get('schedule', '?')}"
        return BackupStatus(True, detail, spec.get("schedule"), last_ok, last_run)

    # -- kubeone -----------------------------------------------------------------------------------------
    def _find_binary(self) -> tuple[str | None, str, str | None]:
        s = self.settings
        if s.binary:
            path = Path(s.binary)
            if "/" not in s.binary:
                found = shutil.which(s.binary, path=s.path_env)
                return (found, CONFIGURED, None) if found else (None, CONFIGURED, f"kubeone: {s.binary} not found on PATH")
            if not path.is_file():
                return None, CONFIGURED, f"kubeone: {s.binary}: no such file"
            if not os.access(path, os.X_OK):
                return None, CONFIGURED, f"kubeone: {s.binary} is not executable"
            return str(path), CONFIGURED, None
        found = shutil.which("kubeone", path=s.path_env)
        if found:
            return found, "PATH", None
        return None, "", "kubeone not found: install KubeOne 1.4.1 or later, or pass --kubeone PATH"

    def _file(self, configured: str | None, what: str) -> tuple[str | None, str, str | None]:
        if not configured:
            key = "manifest" if what == "kubeone.yaml" else "tf"
            return None, "", (f"{what}: not configured (pass --kubeone-{key}, or set contexts.<name>.kubeone.{key} "
                              "in config.yaml)")
        path, source = Path(configured), CONFIGURED
        try:
            with path.open("rb") as fh:
                fh.read(1)
        except OSError as exc:
            return str(path), source, f"{what} {path}: {exc.strerror or exc}"
        return str(path), source, None

    async def kubeone_facts(self) -> KubeOneFacts:
        s = self.settings
        binary, binary_source, binary_error = await asyncio.to_thread(self._find_binary)
        version = support = None
        version_error = None
        if binary is not None:
            version, version_error = await self._version(binary)
            support = corruption_check_support(version) if version is not None else None
        manifest, m_source, m_error = await asyncio.to_thread(
            self._file, s.manifest, "kubeone.yaml")
        cluster = None
        if manifest and not m_error:
            cluster, m_error = await asyncio.to_thread(_load_manifest, manifest)
        tf, tf_source, tf_error = await asyncio.to_thread(self._file, s.tfjson, "tf.json")
        if tf is None:
            tf_error = None  # tf.json is optional: kubeone.yaml may carry the hosts
        return KubeOneFacts(binary, binary_source, binary_error, version, version_error, support, manifest, m_source,
                            m_error, cluster, tf, tf_source, tf_error)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.settings.path_env is not None:
            env["PATH"] = self.settings.path_env
        env.update(self.settings.extra_env)
        return env

    async def _version(self, binary: str) -> tuple[KubeOneVersion | None, str | None]:
        lines: list[str] = []
        spec = CommandSpec((binary, "version"), env=self._env(), merge_stderr=True, no_color=True)
        try:
            result = await asyncio.wait_for(
                run_command(spec, on_batch=lambda b: lines.extend(b.lines[:200])), VERSION_TIMEOUT
            )
        except TimeoutError:
            return None, f"`{binary} version` did not answer within {VERSION_TIMEOUT:.0f} s"
        except (CommandNotFoundError, RunnerError) as exc:
            return None, f"kubeone: {exc}"
        text = "\n".join(lines)
        if not result.ok:
            last = next((ln for ln in reversed(lines) if ln.strip()), "")
            return None, f"{result.describe()}" + (f": {last.strip()}" if last else "")
        try:
            return parse_kubeone_version_text(text), None
        except ValueError as exc:
            return None, f"{binary}: {exc}"

    # -- enable ------------------------------------------------------------------------------------------
    async def enable(
        self,
        *,
        on_output: OutputCallback,
        on_plan: PlanCallback,
        on_progress: ProgressCallback,
        hints: Mapping[str, tuple[bool | None, str | None]] | None = None,
        restart_timeout: float = RESTART_TIMEOUT,
    ) -> EnableOutcome:
        """Run `kubeone apply … --force-upgrade`; raises EnableRefused (one line) when it cannot start."""
        facts = await self.kubeone_facts()
        blockers = facts.blockers()
        if blockers:
            raise EnableRefused(blockers[0])
        before = await self.audit(hints)
        kept: list[str] = []
        plan_seen: list[Plan] = []
        answers: list[str] = []
        started = time.monotonic()
        on_progress(f"running {facts.command[0]} apply (KubeOne computes its plan)")

        def batch(b: OutputBatch) -> None:
            if b.dropped_bytes:
                kept.append(f"[{b.dropped_bytes} bytes of output dropped]")
            kept.extend(b.lines)
            del kept[:-OUTPUT_KEEP_LINES]
            on_output(b.lines)

        async def prompt(ev: PromptEvent) -> str | None:
            plan = parse_plan(kept)
            plan_seen.append(plan)
            on_progress("waiting for your answer to KubeOne's prompt")
            yes = await on_plan(plan, ev.text)
            on_progress("KubeOne is restarting the members one by one (cordon, restart, uncordon)" if yes
                        else "answered no: waiting for KubeOne to exit")
            answers.append("yes" if yes else "no")
            return answers[-1]

        spec = CommandSpec(facts.command, pty=True, env=self._env(), no_color=True)
        try:
            result = await run_command(spec, on_batch=batch, on_prompt=prompt)
        except (CommandNotFoundError, RunnerError) as exc:
            raise EnableRefused(f"cannot run kubeone: {exc}") from None
        plan = plan_seen[-1] if plan_seen else None
        tail = tuple(kept[-40:])
        canceled = any("Operation canceled" in line for line in kept)
        if result.cancelled:
            return EnableOutcome(CANCELLED, f"kubeone was stopped: {result.describe()}", result, plan, output_tail=tail)
        if not result.ok:
            last = kubeone_error(kept)
            return EnableOutcome(FAILED, f"kubeone failed (exit code {result.exit_code}){': ' + last if last else ''}",
                                 result, plan, output_tail=tail)
        if canceled or answers[-1:] == ["no"]:
            after_pods = await self.audit(hints)
            same = _same_commands(before, after_pods)
            note = "the cluster is unchanged: every etcd command line is as before" if same else \
                "WARNING: an etcd command line changed anyway"
            return EnableOutcome(DECLINED, f"KubeOne's plan was declined (Operation canceled.): {note}", result, plan,
                                 _changes(before, after_pods), output_tail=tail)
        if plan is None:
            return EnableOutcome(FAILED, "kubeone exited without asking for confirmation: nothing was applied",
                                 result, None, output_tail=tail)
        on_progress("kubeone finished: waiting for every member to be back with its new flags")
        # The leader may have moved during the restarts: keep only the versions from the hints.
        fresh = {pod: (None, version) for pod, (_, version) in (hints or {}).items()}
        after = await self._wait_restarted(before, fresh, restart_timeout, on_progress, started)
        report = ChecksReport(tuple(after), facts, await self.backups(), time.time())
        changes = _changes(before, after)
        if report.all_on:
            message = (f"corruption checks are on for all {len(after)} members "
                       f"(kubeone took {result.duration_s:.0f} s)")
            return EnableOutcome(ENABLED, message, result, plan, changes, report, tail)
        off = [m.pod for m in after if not m.all_on]
        return EnableOutcome(FAILED, f"kubeone succeeded but checks are still off on {', '.join(off)}", result, plan,
                             changes, report, tail)

    async def _wait_restarted(
        self, before: Sequence[MemberChecks], hints: Mapping[str, tuple[bool | None, str | None]] | None,
        patience: float, on_progress: ProgressCallback, started: float,
    ) -> list[MemberChecks]:
        """Until every pod is Ready in a new run whose log shows `enabled corruption checking` (or timeout)."""
        old_uids = {m.pod: (m.uid, m.started_at) for m in before}
        deadline = time.monotonic() + patience
        while True:
            after = await self.audit(hints)
            waiting = [m.pod for m in after if not (m.ready and (m.uid, m.started_at) != old_uids.get(m.pod)
                                                   and (m.logs.enabled or not m.audit.periodic))]
            if not waiting or time.monotonic() > deadline:
                return after
            on_progress(f"waiting for {', '.join(waiting)} (ready, new log) · {time.monotonic() - started:.0f} s")
            await asyncio.sleep(1.0)


def _load_manifest(path: str) -> tuple[KubeOneCluster | None, str | None]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        return parse_kubeone_manifest(doc), None
    except OSError as exc:
        return None, f"kubeone.yaml {path}: {exc.strerror or exc}"
    except yaml.YAMLError:
        return None, f"kubeone.yaml {path}: not valid YAML"
    except ValueError as exc:
        return None, f"{path}: {exc}"


def _complete_lines(block: bytes) -> list[bytes]:
    lines = block.splitlines()
    return lines if block.endswith(b"\n") else lines[:-1]


def _flags(command: Sequence[str]) -> list[str]:
    return [w for w in command if w.startswith("-")]


def _same_commands(before: Sequence[MemberChecks], after: Sequence[MemberChecks]) -> bool:
    return {m.pod: m.command for m in before} == {m.pod: m.command for m in after}


def _changes(before: Sequence[MemberChecks], after: Sequence[MemberChecks]) -> tuple[MemberChange, ...]:
    old = {m.pod: m for m in before}
    new = {m.pod: m for m in after}
    changes = []
    for pod in sorted(old.keys() | new.keys()):
        b, a = old.get(pod), new.get(pod)
        bf, af = _flags(b.command if b else ()), _flags(a.command if a else ())
        restarted = b is None or a is None or (b.uid, b.started_at) != (a.uid, a.started_at)
        changes.append(MemberChange(pod, b, a, tuple(f for f in af if f not in bf), tuple(f for f in bf if f not in af),
                                    restarted))
    return tuple(changes)
