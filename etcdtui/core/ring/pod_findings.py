"""Findings about one etcd pod: terminating, crash-looping, not running/ready, restarted."""

from __future__ import annotations

from datetime import datetime, timedelta

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.observation import PodObservation
from etcdtui.core.versions import (
    EtcdVersion,
    RiskTier,
    assess_version,
)

RECENT_RESTART = timedelta(hours=1)


def pod_findings(
    pod: PodObservation, name: str, now: datetime | None, version: EtcdVersion | None
) -> list[Finding]:
    out: list[Finding] = []
    last = ""
    if pod.last_termination_reason or pod.last_exit_code is not None:
        last = f"; last exit: {pod.last_termination_reason or 'terminated'} (code {pod.last_exit_code})"
    if pod.deletion_timestamp is not None:
        out.append(Finding("pod.terminating", Severity.WARNING, f"pod {pod.name} is being deleted", name))
    if pod.waiting_reason == "CrashLoopBackOff":
        out.append(
            Finding(
                "pod.crashloop",
                Severity.WARNING,
                f"pod {pod.name} is crash-looping ({pod.restarts} restarts{last}); read its previous logs",
                name,
                {
                    "restarts": pod.restarts,
                    "exit_code": pod.last_exit_code,
                    "reason": pod.last_termination_reason,
                },
            )
        )
    elif pod.phase != "Running":
        why = f" ({pod.waiting_reason})" if pod.waiting_reason else ""
        out.append(
            Finding(
                "pod.not_running",
                Severity.WARNING,
                f"pod {pod.name} is {pod.phase}{why}",
                name,
                {"phase": pod.phase},
            )
        )
    elif not pod.ready:
        out.append(
            Finding("pod.not_ready", Severity.WARNING, f"pod {pod.name} is Running but not Ready", name)
        )
    if pod.restarts > 0 and pod.waiting_reason != "CrashLoopBackOff":
        recent = (
            now is not None
            and pod.last_terminated_at is not None
            and now - pod.last_terminated_at <= RECENT_RESTART
        )
        risky = version is not None and assess_version(version).tier is RiskTier.CRITICAL
        note = (
            "; a crash under load on this etcd version can lose committed writes (etcd #13766)"
            if risky
            else ""
        )
        when = f", last at {pod.last_terminated_at.isoformat()}" if pod.last_terminated_at else ""
        out.append(
            Finding(
                "pod.restarted",
                Severity.WARNING if recent or risky else Severity.INFO,
                f"etcd in pod {pod.name} restarted {pod.restarts} time{'s' if pod.restarts != 1 else ''}{when}{last}{note}",
                name,
                {
                    "restarts": pod.restarts,
                    "exit_code": pod.last_exit_code,
                    "reason": pod.last_termination_reason,
                },
            )
        )
    return out
