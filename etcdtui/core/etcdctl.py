"""etcdctl `-w json` outputs as typed records, and the etcdctl argv for each query (etcd-facts §5).

Every protobuf field is omitempty: an absent key means zero/false/empty. Member IDs come as decimal uint64
JSON numbers (or hex strings with `--hex`); they are normalised here to lowercase hex without leading
zeros, the way etcd logs them. etcdctl drops failed endpoints from the JSON arrays and exits 1, so parse
stdout even when the exit code is not 0.
"""

from __future__ import annotations

import enum
import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from etcdtui.core import ids
from etcdtui.core.etcd_command import parse_command


class EtcdctlParseError(ValueError):
    """etcdctl output that is not the JSON shape expected for the command."""


def _member_id(value: Any, where: str) -> str:
    """Lowercase hex member ID from a JSON number (decimal uint64) or a `--hex` string (`etcdtui.core.ids`)."""
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise EtcdctlParseError(f"{where}: member ID must be a number or hex string, got {value!r}")
    try:
        return ids.normalize(value)
    except ValueError as exc:
        raise EtcdctlParseError(f"{where}: {exc}") from None


def _opt_member_id(value: Any, where: str) -> str:
    return "0" if value is None else _member_id(value, where)


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        # etcdctl's JSON prints int64 as numbers; a string would be protojson, which etcdctl does not use
        raise EtcdctlParseError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise EtcdctlParseError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _bool(obj: dict[str, Any], key: str, where: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise EtcdctlParseError(f"{where}.{key}: expected true/false, got {value!r}")
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EtcdctlParseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EtcdctlParseError(f"{where}: expected a list of strings")
    return tuple(value)


def _load(text: str | bytes, command: str) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    stripped = text.strip()
    if not stripped:
        raise EtcdctlParseError(f"etcdctl {command}: empty output")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        first = stripped.splitlines()[0][:120]
        raise EtcdctlParseError(f"etcdctl {command}: output is not JSON ({exc.msg}): {first!r}") from None


def _load_array(text: str | bytes, command: str) -> list[Any]:
    data = _load(text, command)
    if data is None:  # a nil Go slice: every endpoint failed
        return []
    if not isinstance(data, list):
        raise EtcdctlParseError(f"etcdctl {command}: expected a JSON array, got {type(data).__name__}")
    return data


# --- header -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    cluster_id: str
    member_id: str  # the member that answered
    revision: int
    raft_term: int


def _header(value: Any, where: str) -> Header:
    obj = _obj(value, where)
    return Header(
        cluster_id=_opt_member_id(obj.get("cluster_id"), f"{where}.cluster_id"),
        member_id=_opt_member_id(obj.get("member_id"), f"{where}.member_id"),
        revision=_int(obj, "revision", where),
        raft_term=_int(obj, "raft_term", where),
    )


# --- member list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    member_id: str
    name: str  # "" for a member that has not started yet
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool

    @property
    def started(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True)
class MemberList:
    header: Header
    members: tuple[Member, ...]


def parse_member_list(text: str | bytes) -> MemberList:
    """`etcdctl member list -w json` (also `--hex`, whose 3.5 JSON misspells `clientURLS`)."""
    data = _obj(_load(text, "member list"), "member list")
    raw_members = data.get("members") or []
    if not isinstance(raw_members, list):
        raise EtcdctlParseError("member list: `members` is not a list")
    members = []
    for i, raw in enumerate(raw_members):
        where = f"member list: members[{i}]"
        m = _obj(raw, where)
        if "ID" not in m:
            raise EtcdctlParseError(f"{where}: no ID")
        client_key = "clientURLs" if "clientURLs" in m else "clientURLS"
        members.append(
            Member(
                member_id=_member_id(m["ID"], f"{where}.ID"),
                name=_str(m, "name", where),
                peer_urls=_str_list(m.get("peerURLs"), f"{where}.peerURLs"),
                client_urls=_str_list(m.get(client_key), f"{where}.{client_key}"),
                is_learner=_bool(m, "isLearner", where),
            )
        )
    return MemberList(_header(data.get("header"), "member list: header"), tuple(members))


# --- alarms -------------------------------------------------------------------------------------


class AlarmType(enum.StrEnum):
    NONE = "NONE"
    NOSPACE = "NOSPACE"
    CORRUPT = "CORRUPT"
    UNKNOWN = "UNKNOWN"


_ALARM_ENUM = {0: AlarmType.NONE, 1: AlarmType.NOSPACE, 2: AlarmType.CORRUPT}


@dataclass(frozen=True)
class Alarm:
    member_id: str  # "0" when etcd did not name a member (CORRUPT in 3.4.23+/3.5.7+)
    alarm: AlarmType
    raw: str = ""


def parse_alarm_list(text: str | bytes) -> tuple[Alarm, ...]:
    """`etcdctl alarm list -w json`: `{"header":…,"alarms":[{"memberID":…,"alarm":2}]}`; no key = no alarm."""
    data = _obj(_load(text, "alarm list"), "alarm list")
    raw_alarms = data.get("alarms") or []
    if not isinstance(raw_alarms, list):
        raise EtcdctlParseError("alarm list: `alarms` is not a list")
    alarms = []
    for i, raw in enumerate(raw_alarms):
        where = f"alarm list: alarms[{i}]"
        a = _obj(raw, where)
        code = _int(a, "alarm", where)
        alarms.append(
            Alarm(
                _opt_member_id(a.get("memberID"), f"{where}.memberID"),
                _ALARM_ENUM.get(code, AlarmType.UNKNOWN),
                str(code),
            )
        )
    return tuple(a for a in alarms if a.alarm is not AlarmType.NONE)


def parse_status_error(text: str) -> Alarm | None:
    """An endpoint status `errors` entry: `alarm:CORRUPT ` or `memberID:407288052626896413 alarm:NOSPACE `."""
    member, kind = "0", None
    for part in text.split():
        key, _, value = part.partition(":")
        if key == "memberID":
            try:
                member = format(int(value), "x")
            except ValueError:
                return None
        elif key == "alarm":
            kind = value
    if kind is None:
        return None
    try:
        alarm = AlarmType(kind)
    except ValueError:
        alarm = AlarmType.UNKNOWN
    return Alarm(member, alarm, text)


# --- endpoint status ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointStatus:
    endpoint: str
    header: Header
    version: str
    db_size: int
    db_size_in_use: int
    leader: str  # hex; "0" = no leader known
    raft_index: int
    raft_term: int
    raft_applied_index: int
    errors: tuple[str, ...]
    is_learner: bool
    storage_version: str = ""  # 3.6+
    db_size_quota: int = 0  # 3.6+

    @property
    def member_id(self) -> str:
        return self.header.member_id

    @property
    def revision(self) -> int:
        return self.header.revision

    @property
    def is_leader(self) -> bool:
        return self.leader != "0" and self.leader == self.header.member_id

    @property
    def alarms(self) -> tuple[Alarm, ...]:
        return tuple(a for a in (parse_status_error(e) for e in self.errors) if a is not None)


def parse_endpoint_status(text: str | bytes) -> tuple[EndpointStatus, ...]:
    """`etcdctl endpoint status [--cluster] -w json`: `[{"Endpoint": …, "Status": {…}}]`."""
    result = []
    for i, raw in enumerate(_load_array(text, "endpoint status")):
        where = f"endpoint status: [{i}]"
        entry = _obj(raw, where)
        st = _obj(entry.get("Status"), f"{where}.Status")
        result.append(
            EndpointStatus(
                endpoint=_str(entry, "Endpoint", where),
                header=_header(st.get("header"), f"{where}.Status.header"),
                version=_str(st, "version", where),
                db_size=_int(st, "dbSize", where),
                db_size_in_use=_int(st, "dbSizeInUse", where),
                leader=_opt_member_id(st.get("leader"), f"{where}.Status.leader"),
                raft_index=_int(st, "raftIndex", where),
                raft_term=_int(st, "raftTerm", where),
                raft_applied_index=_int(st, "raftAppliedIndex", where),
                errors=_str_list(st.get("errors"), f"{where}.Status.errors"),
                is_learner=_bool(st, "isLearner", where),
                storage_version=_str(st, "storageVersion", where),
                db_size_quota=_int(st, "dbSizeQuota", where),
            )
        )
    return tuple(result)


# --- endpoint health ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    healthy: bool
    took: str
    error: str

    @property
    def only_alarm(self) -> bool:
        """Unhealthy only because an alarm is active (etcdctl ≥ 3.5): the member itself answers."""
        return not self.healthy and self.error.startswith("Active Alarm(s):")


def parse_endpoint_health(text: str | bytes) -> tuple[EndpointHealth, ...]:
    """`etcdctl endpoint health [--cluster] -w json`: lowercase keys, `error` only when unhealthy."""
    result = []
    for i, raw in enumerate(_load_array(text, "endpoint health")):
        where = f"endpoint health: [{i}]"
        entry = _obj(raw, where)
        result.append(
            EndpointHealth(
                endpoint=_str(entry, "endpoint", where),
                healthy=_bool(entry, "health", where),
                took=_str(entry, "took", where),
                error=_str(entry, "error", where),
            )
        )
    return tuple(result)


# --- endpoint hashkv ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointHash:
    endpoint: str
    header: Header  # header.revision is the member's current revision, not the hashed one
    hash: int
    compact_revision: int
    hash_revision: int | None  # 3.6+ reports the revision it hashed at; None before

    @property
    def member_id(self) -> str:
        return self.header.member_id


def parse_endpoint_hashkv(text: str | bytes) -> tuple[EndpointHash, ...]:
    """`etcdctl endpoint hashkv [--cluster] [--rev=R] -w json`: `[{"Endpoint": …, "HashKV": {…}}]`."""
    result = []
    for i, raw in enumerate(_load_array(text, "endpoint hashkv")):
        where = f"endpoint hashkv: [{i}]"
        entry = _obj(raw, where)
        hk = _obj(entry.get("HashKV"), f"{where}.HashKV")
        result.append(
            EndpointHash(
                endpoint=_str(entry, "Endpoint", where),
                header=_header(hk.get("header"), f"{where}.HashKV.header"),
                hash=_int(hk, "hash", where),
                compact_revision=_int(hk, "compact_revision", where),
                hash_revision=_int(hk, "hash_revision", where) if "hash_revision" in hk else None,
            )
        )
    return tuple(result)


# --- argv ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtcdctlConnection:
    """How to reach the local member from inside its own pod, with the pod's own certificates."""

    endpoint: str
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None

    def global_flags(self) -> list[str]:
        flags = [f"--endpoints={self.endpoint}"]
        if self.cacert:
            flags.append(f"--cacert={self.cacert}")
        if self.cert and self.key:
            flags += [f"--cert={self.cert}", f"--key={self.key}"]
        return flags


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def _split_urls(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def _local_client_url(listen: list[str], advertise: list[str]) -> str:
    for url in listen:
        if urlsplit(url).hostname in _LOOPBACK_HOSTS:
            return url
    for url in listen:
        parts = urlsplit(url)
        if parts.hostname in _WILDCARD_HOSTS:
            netloc = f"127.0.0.1:{parts.port}" if parts.port else "127.0.0.1"
            return urlunsplit((parts.scheme, netloc, "", "", ""))
    if advertise:
        return advertise[0]
    if listen:
        return listen[0]
    return "http://127.0.0.1:2379"  # etcd's default listen-client-urls


def connection_from_command(
    command: Sequence[str], existing_files: Sequence[str] | None = None
) -> EtcdctlConnection:
    """The etcdctl endpoint and certificates for exec'ing into an etcd pod, from the pod's command line.

    Client certificate: kubeadm's `healthcheck-client.{crt,key}` next to `--trusted-ca-file` is preferred
    (a pure client cert); the member's `--cert-file/--key-file` works too (kubeadm server certs carry
    ClientAuth). Pass `existing_files` when known so a missing healthcheck cert falls back to the server cert.
    """
    cmd = parse_command(command)
    endpoint = _local_client_url(
        _split_urls(cmd.get("listen-client-urls")), _split_urls(cmd.get("advertise-client-urls"))
    )
    if urlsplit(endpoint).scheme != "https":
        return EtcdctlConnection(endpoint)
    cacert = cmd.get("trusted-ca-file") or None
    cert, key = cmd.get("cert-file") or None, cmd.get("key-file") or None
    if cacert:
        pki = posixpath.dirname(cacert)
        hc_cert, hc_key = (
            posixpath.join(pki, "healthcheck-client.crt"),
            posixpath.join(pki, "healthcheck-client.key"),
        )
        if existing_files is None or (hc_cert in existing_files and hc_key in existing_files):
            cert, key = hc_cert, hc_key
    return EtcdctlConnection(endpoint, cacert, cert, key)


class Query(enum.StrEnum):
    MEMBER_LIST = "member list"
    ENDPOINT_STATUS = "endpoint status"
    ENDPOINT_HEALTH = "endpoint health"
    ENDPOINT_HASHKV = "endpoint hashkv"
    ALARM_LIST = "alarm list"


def etcdctl_argv(
    conn: EtcdctlConnection,
    query: Query,
    *,
    cluster: bool = True,
    revision: int | None = None,
    binary: str = "etcdctl",
    command_timeout_s: float = 5.0,
) -> list[str]:
    """argv for one query, e.g. `etcdctl --endpoints=… --cacert=… --cert=… --key=… endpoint status --cluster -w json`."""
    argv = [binary, *conn.global_flags(), f"--command-timeout={command_timeout_s:g}s", *query.value.split()]
    if cluster and query in (Query.ENDPOINT_STATUS, Query.ENDPOINT_HEALTH, Query.ENDPOINT_HASHKV):
        argv.append("--cluster")
    if query is Query.ENDPOINT_HASHKV and revision is not None:
        if revision < 0:
            raise ValueError(f"hashkv revision must be >= 0, got {revision}")
        argv.append(f"--rev={revision}")
    argv += ["-w", "json"]
    return argv
