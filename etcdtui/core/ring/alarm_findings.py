"""Active alarms (CORRUPT, NOSPACE, others) as findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from etcdtui.core.defrag_rules import NOSPACE_WAY_OUT
from etcdtui.core.etcdctl import (
    Alarm,
    AlarmType,
    EndpointStatus,
)
from etcdtui.core.findings import Finding, Severity


def alarm_findings(
    listed: Iterable[Alarm], statuses: Sequence[EndpointStatus], names_by_id: Mapping[str, str]
) -> list[Finding]:
    """Active alarms, from `alarm list` and from endpoint status `errors` (either may be missing)."""
    alarms = {(a.member_id, a.alarm) for a in listed}
    alarms |= {(a.member_id, a.alarm) for s in statuses for a in s.alarms}
    out: list[Finding] = []
    for member_id, alarm in sorted(alarms):
        who = names_by_id.get(member_id, member_id) if member_id != "0" else None
        by = f" on member {who}" if who else " (etcd names no member; compare hashes to find it)"
        fields = {"member_id": member_id}
        if alarm is AlarmType.CORRUPT:
            out.append(
                Finding(
                    "corruption.alarm_corrupt",
                    Severity.CRITICAL,
                    f"CORRUPT alarm active{by}: writes are refused",
                    who,
                    fields,
                )
            )
        elif alarm is AlarmType.NOSPACE:
            message = f"NOSPACE alarm active{by}: the database hit its quota, writes are refused; {NOSPACE_WAY_OUT}"
            out.append(Finding("alarm.nospace", Severity.CRITICAL, message, who, fields))
        else:
            out.append(Finding("alarm.other", Severity.WARNING, f"unknown alarm active{by}", who, fields))
    return out
