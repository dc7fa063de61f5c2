"""Joining pods to etcd members and to nodes: by name, then advertised URL, then a unique IP."""

from __future__ import annotations

from collections.abc import Sequence

from etcdtui.core.etcd_command import parse_command
from etcdtui.core.ring.observation import MemberObservation, NodeObservation, PodObservation
from etcdtui.core.ring.urls import url_hosts, url_key


def pod_urls(pod: PodObservation) -> set[str]:
    cmd = parse_command(pod.command)
    urls: set[str] = set()
    for name in ("advertise-client-urls", "initial-advertise-peer-urls"):
        urls |= {url_key(u) for u in (cmd.get(name) or "").split(",") if u.strip()}
    return urls


def pair_pods_with_members(
    pods: Sequence[PodObservation], members: Sequence[MemberObservation]
) -> list[tuple[PodObservation | None, MemberObservation | None]]:
    """Pod ↔ member by name (kubeadm names the member after the node), then advertised URL, then a unique IP."""
    free_pods = list(pods)
    pairs: list[tuple[PodObservation | None, MemberObservation | None]] = []
    unmatched: list[MemberObservation] = []

    def take(match: PodObservation) -> PodObservation:
        free_pods.remove(match)
        return match

    for m in members:
        pod = next(
            (
                p
                for p in free_pods
                if m.name and (p.node == m.name or p.name == m.name or p.name == f"etcd-{m.name}")
            ),
            None,
        )
        if pod is None:
            keys = {url_key(u) for u in m.client_urls + m.peer_urls}
            pod = next((p for p in free_pods if keys & pod_urls(p)), None)
        if pod is not None:
            pairs.append((take(pod), m))
        else:
            unmatched.append(m)
    for m in unmatched:
        # Last resort, for pods whose command advertises no URL: a hostNetwork pod's IP is its member's URL host.
        hosts = url_hosts(m.client_urls + m.peer_urls)
        candidates = [p for p in free_pods if not pod_urls(p) and hosts & {p.host_ip, p.pod_ip}]
        if len(candidates) == 1:
            pairs.append((take(candidates[0]), m))
        else:
            pairs.append((None, m))
    pairs.extend((p, None) for p in free_pods)
    return pairs


def node_for(
    pod: PodObservation | None, member: MemberObservation | None, nodes: Sequence[NodeObservation]
) -> NodeObservation | None:
    by_name = {n.name: n for n in nodes}
    if pod is not None and pod.node in by_name:
        return by_name[pod.node]
    if member is not None:
        if member.name in by_name:
            return by_name[member.name]
        hosts = url_hosts(member.peer_urls + member.client_urls)
        matches = [n for n in nodes if hosts & set(n.ips)]
        if len(matches) == 1:
            return matches[0]
    return None


# --- per-row findings ---------------------------------------------------------------------------


def row_name(pod: PodObservation | None, m: MemberObservation | None) -> str:
    """The member's name, else the node's (kubeadm names members after nodes), else the pod's or the ID."""
    if m is not None and m.name:
        return m.name
    if pod is not None:
        return pod.node or pod.name
    return m.member_id if m is not None else "?"
