"""Fleet pieces without a cluster: exit-code ordering, context selection, the `fleet:` config section, merged
lab kubeconfigs, and the lab's port picking with real sockets occupying ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from etcdtui import exitcodes
from etcdtui.engine.fleet_config import FleetConfigError, FleetSettings, parse_fleet, select_contexts
from etcdtui.headless.check_fleet import worst_code
from etcdtui.lab import ports
from etcdtui.lab.kubeconfigs import merged_kubeconfig


def test_worst_code_orders_critical_unknown_warning_ok() -> None:
    ok, warn, crit, unk = exitcodes.OK, exitcodes.WARNING, exitcodes.CRITICAL, exitcodes.UNKNOWN
    assert worst_code([ok, warn]) == warn
    assert worst_code([warn, unk, ok]) == unk
    assert worst_code([unk, crit, warn]) == crit
    assert worst_code([ok]) == ok


def test_select_contexts_by_name_and_glob_keeps_kubeconfig_order() -> None:
    available = ["prod-b", "staging", "prod-a", "dev"]
    assert select_contexts(available, ["prod-*", "dev"]) == ["prod-b", "prod-a", "dev"]
    assert select_contexts(available, ["nope"]) == []


def test_fleet_section_parses_and_refuses_bad_values() -> None:
    assert parse_fleet(None) == FleetSettings()
    assert parse_fleet({"contexts": "prod-*", "concurrency": 4, "timeout": 12}) == FleetSettings(("prod-*",), 4, 12.0)
    for bad in ({"concurrency": 0}, {"concurrency": True}, {"timeout": -1}, {"contexts": [1]}, {"other": 1}):
        with pytest.raises(FleetConfigError):
            parse_fleet(bad)


def test_merged_kubeconfig_keeps_every_lab_context_first_wins(tmp_path: Path) -> None:
    def lab(name: str, server: str) -> Path:
        path = tmp_path / f"{name}-{server.rsplit('/', 1)[-1]}"
        path.write_text(yaml.safe_dump({
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "users": [{"name": f"{name}-admin", "user": {"token": "t"}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
            "current-context": name}))
        return path

    merged = merged_kubeconfig([lab("etcdtui-lab", "https://a"), lab("etcdtui-b", "https://b"),
                                lab("etcdtui-lab", "https://dup-lab")])
    assert [c["name"] for c in merged["contexts"]] == ["etcdtui-lab", "etcdtui-b"]
    assert merged["clusters"][0]["cluster"]["server"] == "https://a"
    assert merged["current-context"] == "etcdtui-lab"


def test_lab_ports_come_from_outside_the_ephemeral_range() -> None:
    low, high = ports.ephemeral_range()
    picked = [ports.free_port("127.0.0.1") for _ in range(50)]
    assert not [p for p in picked if low <= p <= high]


def test_free_port_skips_ports_taken_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Occupy all but one port of a small window: the pick must be the one left, never a taken one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    window = range(base, base + 8)
    held: list[socket.socket] = []
    try:
        for port in window:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
        free = held.pop()
        left = free.getsockname()[1]
        free.close()
        monkeypatch.setattr(ports, "lab_port_range", lambda: (window.start, window.stop - 1))
        assert {ports.free_port("127.0.0.1") for _ in range(20)} == {left}
        held.append(socket.socket())
        held[-1].bind(("127.0.0.1", left))
        with pytest.raises(ports.PortInUse):
            ports.free_port("127.0.0.1", tries=30)
    finally:
        for sock in held:
            sock.close()

