"""Corruption evidence from KV hashes at a common revision and from revision divergence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.hashes import (
    HashAgreement,
    HashSample,
    HashVerdict,
    MemberHash,
    RevisionDivergence,
    compare_hashes,
)
from etcdtui.core.ring.observation import MemberObservation, PodObservation


def hash_agreement(members: Sequence[MemberObservation] | None, revision: int | None) -> HashAgreement | None:
    """Hashes at the common revision R, for every started member (unstarted ones have no data)."""
    if members is None or revision is None:
        return None
    samples = [
        HashSample(
            m.member_id,
            m.hashkv.hash if m.hashkv else None,
            m.hashkv.compact_revision if m.hashkv else None,
            m.hashkv.hash_revision if m.hashkv else None,
            None if m.hashkv else (m.hashkv_error or "no hash answer"),
        )
        for m in members
        if m.name
    ]
    return compare_hashes(samples, revision)


def no_majority_finding(agreement: HashAgreement, names_by_id: Mapping[str, str]) -> Finding:
    return Finding(
        "corruption.hash_mismatch",
        Severity.CRITICAL,
        f"members' KV hashes differ at revision {agreement.revision} and no majority hash exists: "
        "data has diverged, the damaged member cannot be named from hashes alone",
        None,
        {
            "revision": agreement.revision,
            "hashes": {names_by_id.get(h.member_id, h.member_id): h.hash for h in agreement.members},
        },
    )


def hash_findings(
    h: MemberHash, agreement: HashAgreement, name: str, pod: PodObservation | None, logs: Sequence[Finding]
) -> list[Finding]:
    if h.verdict is HashVerdict.INCONCLUSIVE:
        return [
            Finding(
                "hash.inconclusive",
                Severity.INFO,
                f"hash of {name} not comparable: {h.reason}",
                name,
                {"revision": agreement.revision},
            )
        ]
    if h.verdict is HashVerdict.DISAGREES and h.member_id in agreement.minority:
        passed = any(f.kind == "check.initial_passed" for f in logs)
        note = ""
        if passed:
            note = "; etcd's initial check passed on this member after its restart, yet its data differs from its peers (etcd #13766 pattern)"
        elif pod is not None and pod.restarts > 0:
            note = f"; this member restarted {pod.restarts} time(s): a crash can lose committed writes on etcd 3.5.0–3.5.2 (etcd #13766)"
        return [
            Finding(
                "corruption.hash_mismatch",
                Severity.CRITICAL,
                f"{name}: KV hash differs from the majority at revision {agreement.revision}{note}",
                name,
                {
                    "revision": agreement.revision,
                    "hash": h.hash,
                    "majority_hash": agreement.majority_hash,
                    "member_id": h.member_id,
                },
            )
        ]
    return []


def divergence_finding(d: RevisionDivergence, member_id: str | None, name: str | None) -> Finding:
    who = f"{name}: " if name else ""
    if d.confirmed:
        return Finding(
            "corruption.revision_divergence",
            Severity.CRITICAL,
            f"{who}{d.summary}: members that applied the same entries hold different data (etcd #13766 pattern)",
            name,
            {"applied_index": d.applied_index, "revisions": dict(d.revisions), "member_id": member_id},
        )
    return Finding(
        "ring.revision_divergence_suspected",
        Severity.INFO,
        f"{who}{d.summary}; rechecking on the next poll",
        name,
        {"applied_index": d.applied_index, "revisions": dict(d.revisions), "member_id": member_id},
    )
