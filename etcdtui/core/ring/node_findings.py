"""Findings about nodes: NotReady, cordoned, control-plane nodes without etcd."""

from __future__ import annotations

from collections.abc import Mapping

from etcdtui.core.findings import Finding, Severity
from etcdtui.core.ring.observation import NodeObservation, RingObservation


def node_findings(node: NodeObservation, name: str) -> list[Finding]:
    out: list[Finding] = []
    if node.ready is False:
        out.append(Finding("node.not_ready", Severity.WARNING, f"node {node.name} is NotReady", name))
    if node.unschedulable:
        out.append(
            Finding("node.cordoned", Severity.INFO, f"node {node.name} is cordoned (unschedulable)", name)
        )
    return out


def orphan_node_findings(obs: RingObservation, names_by_id: Mapping[str, str]) -> list[Finding]:
    """Control-plane nodes without an etcd pod (or member named after them)."""
    pod_nodes = {p.node for p in obs.pods}
    member_names = set(names_by_id.values())
    return [
        Finding("node.no_etcd_pod", Severity.WARNING, f"control-plane node {n.name} has no etcd pod", n.name)
        for n in obs.nodes
        if n.control_plane and n.name not in pod_nodes and n.name not in member_names
    ]
