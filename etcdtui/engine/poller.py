"""One etcdctl poll: member list, endpoint status/health --cluster, alarm list, hashkv at a common revision.

All run in one healthy etcd pod through the exec API. Hashes compare only at one revision R that every
member has, because HashKV at each member's own latest revision differs under any write load (etcd-facts
§5.2). So hashkv runs twice at most: once beside the other four queries at each member's current revision,
which is already comparable when every member answers at the same revision (a quiet ring: the verdict
after one round trip), else again at R, the lowest current revision reported by endpoint status.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from etcdtui.cluster.etcdctl_exec import (
    EtcdctlExec,
    EtcdctlExecError,
    EtcdctlTarget,
    ExecFailure,
    target_from_pod,
)
from etcdtui.cluster.objects import PodInfo
from etcdtui.core import etcdctl as ec
from etcdtui.core.hashes import choose_common_revision, shared_current_revision
from etcdtui.engine import etcdctl_data as data


def exec_candidates(pods: Sequence[PodInfo], prefer: str | None = None) -> list[PodInfo]:
    """Pods worth trying, best first: Running and Ready, then Running; the last good one first of all."""
    usable = [p for p in pods if p.phase == "Running" and not p.deleting and p.command]
    usable.sort(key=lambda p: (p.name != prefer, not p.ready, p.name))
    return usable


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())[:240]
    return ""


class EtcdctlPoller:
    def __init__(self, runner: EtcdctlExec, namespace: str, limit_s: float) -> None:
        self.runner = runner
        self.namespace = namespace
        self.limit_s = limit_s
        self._last_compacts: dict[str, int] = {}

    async def poll(self, target: EtcdctlTarget) -> data.PollResult:
        """Raises EtcdctlExecError when exec itself is impossible; partial etcdctl failures are in `errors`."""
        started = time.monotonic()
        errors: list[str] = []
        stderr: dict[str, str] = {}

        async def run(query: ec.Query, revision: int | None = None, *, speculative: bool = False) -> str:
            argv = ec.etcdctl_argv(
                # etcdctl's own 5 s default, but inside our exec limit: a dead member must not stall the poll.
                target.connection, query, revision=revision, command_timeout_s=max(1.0, min(5.0, self.limit_s - 2))
            )
            result = await self.runner.exec(
                target.pod, target.namespace, argv, container=target.container, limit_s=self.limit_s
            )
            if speculative and result.rc not in (0, None):
                return ""  # the second round asks again and records what fails then
            if result.rc not in (0, None):
                errors.append(f"etcdctl {query.value}: rc={result.rc} {_first_line(result.stderr)}".strip())
                stderr[query.value] = _first_line(result.stderr)
            if not result.stdout.strip() and result.rc not in (0, None) and query is ec.Query.MEMBER_LIST:
                # Not even the member list: etcdctl cannot talk to etcd from this pod (certs, etcd down).
                raise EtcdctlExecError(
                    _classify_etcdctl_failure(result.stderr),
                    f"etcdctl in pod {target.pod} failed: {_first_line(result.stderr) or f'rc={result.rc}'}",
                )
            return result.stdout

        # The independent queries run at once (one exec each); hashkv at a chosen R needs the statuses first.
        try:
            async with asyncio.TaskGroup() as group:
                members_out = group.create_task(run(ec.Query.MEMBER_LIST))
                status_out = group.create_task(run(ec.Query.ENDPOINT_STATUS))
                health_out = group.create_task(run(ec.Query.ENDPOINT_HEALTH))
                alarms_out = group.create_task(run(ec.Query.ALARM_LIST))
                current_out = group.create_task(run(ec.Query.ENDPOINT_HASHKV, speculative=True))
        except* EtcdctlExecError as group_error:
            raise group_error.exceptions[0] from None
        member_list = data.parse_or_none(ec.parse_member_list, members_out.result(), errors)
        statuses = data.parse_or_none(ec.parse_endpoint_status, status_out.result(), errors) or ()
        health = data.parse_or_none(ec.parse_endpoint_health, health_out.result(), errors) or ()
        alarms = data.parse_or_none(ec.parse_alarm_list, alarms_out.result(), errors)
        voters = {s.member_id: s.revision for s in statuses if not s.is_learner}
        hashes = _current_hashes(current_out.result(), voters)
        choice = shared_current_revision(
            [(h.header.revision, h.compact_revision, h.hash_revision) for h in hashes], len(voters)
        )
        if choice.revision is None:
            # Hash at one revision every member has and none has compacted (the core decides which).
            hashes = ()
            choice = choose_common_revision(voters, self._last_compacts)
        common = choice.revision
        if common is not None and not hashes:
            hashes = data.parse_or_none(
                ec.parse_endpoint_hashkv, await run(ec.Query.ENDPOINT_HASHKV, common), errors
            ) or ()
        if hashes:
            self._last_compacts = {h.member_id: h.compact_revision for h in hashes}
        return data.PollResult(
            at=datetime.now(UTC),
            pod=target.pod,
            member_list=member_list,
            statuses=statuses,
            health=health,
            alarms=alarms,
            hashes=hashes,
            common_revision=common,
            common_revision_note=choice.reason,
            errors=tuple(errors),
            stderr=stderr,
            duration=time.monotonic() - started,
        )

    def target(self, pod: PodInfo) -> EtcdctlTarget:
        return target_from_pod(pod.name, self.namespace, pod.command)


def _current_hashes(stdout: str, voters: dict[str, int]) -> tuple[ec.EndpointHash, ...]:
    """The first round's hashes of the voting members; () when they are unusable for any reason."""
    try:
        hashes = ec.parse_endpoint_hashkv(stdout) if stdout.strip() else ()
    except ec.EtcdctlParseError:
        return ()
    return tuple(h for h in hashes if h.member_id in voters)


def _classify_etcdctl_failure(stderr: str) -> ExecFailure:
    lowered = stderr.lower()
    if "no such file" in lowered or ("open " in lowered and (".crt" in lowered or ".key" in lowered)):
        return ExecFailure.NO_CERTS
    return ExecFailure.OTHER
