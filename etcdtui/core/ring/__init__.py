"""Ring evaluation: one verdict for the etcd ring from pods, nodes, etcdctl answers and log findings.

`assess(observation)` is pure. The verdict follows rules an SRE expects, not the worst finding severity:
any corruption evidence → CORRUPTION; fewer alive voting members than quorum → QUORUM_LOST; no data at all →
UNKNOWN; any warning → WARNING; else HEALTHY. The verdict answers "is the ring healthy now": a risky etcd
version (3.5.0–3.5.2) is a CRITICAL *finding*, shown everywhere (header, row, `--json`, the
`etcdtui_member_version_risk` metric), but it does not change the verdict — the ring is at risk, not
corrupted, and a ring repaired on such a version is HEALTHY until it shows trouble again. Exit codes come
from `RingAssessment.status` (the verdict), not from the worst finding.


Where things live: `observation` (the input model), `join` (pods ↔ members ↔ nodes), one module per
family of finding rules (`pod_findings`, `member_findings`, `node_findings`, `leader`, `quorum_count`,
`alarm_findings`, `hash_findings`, `version_findings`, `history`), `row` (one member row), `verdict`,
`assessment` (the output model) and `assess` (the rules applied in order). A new finding rule
goes in the module of its family and is called from `row.build_row` (per member) or `assess.assess` (ring).
"""

from etcdtui.core.ring.assess import assess
from etcdtui.core.ring.assessment import MemberAssessment, RingAssessment
from etcdtui.core.ring.history import live_cross_check_clean, settle_log_findings
from etcdtui.core.ring.observation import (
    MemberObservation,
    NodeObservation,
    PodObservation,
    RingObservation,
    members_from_etcdctl,
    previous_status_of,
)
from etcdtui.core.ring.verdict import Verdict

__all__ = [
    "MemberObservation",
    "MemberAssessment",
    "NodeObservation",
    "PodObservation",
    "RingAssessment",
    "RingObservation",
    "Verdict",
    "assess",
    "live_cross_check_clean",
    "members_from_etcdctl",
    "previous_status_of",
    "settle_log_findings",
]
