"""The envelopes etcd lines arrive in when people paste them: recognised here, the etcd line inside parsed by
`logline.parse_line` as usual.

* syslog / `journalctl` (default short format): `Jun 13 01:31:30 host etcd[16743]: <line>` (no year: the
  etcd line's own timestamp is used);
* `journalctl -o short-iso`: `2024-06-13T01:31:30+0000 host etcd[16743]: <line>`;
* `journalctl -o json`: `{"MESSAGE": "<line>", "__REALTIME_TIMESTAMP": "<µs>", …}`;
* Docker's json-file driver: `{"log": "<line>\\n", "stream": "stderr", "time": "<RFC3339Nano>"}`;
* zap's console encoder (`go test` output, some distributions): `<ts>\\t<LEVEL>\\t[<logger>\\t][<caller>\\t]<msg>
  [\\t{"k": "v"}]`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from json import loads
from typing import Any

_IDENT = r" \S+ [^\s\[:]+(?:\[\d+\])?: "  # ` host etcd[16743]: ` (the pid is optional)
_SYSLOG = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d" + _IDENT)
_SHORT_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d))" + _IDENT)
_CALLER = re.compile(r"\S+\.go:\d+\Z")


def strip_syslog(text: str) -> tuple[str, float | None] | None:
    """`(the etcd line, the envelope's epoch seconds or None)` for a syslog/journald line, else None."""
    first = text[:1]
    if first.isdigit():
        match = _SHORT_ISO.match(text)
        if match is not None:
            return text[match.end():], _epoch(match.group(1).replace(",", "."))
    elif first.isupper():
        match = _SYSLOG.match(text)
        if match is not None:
            return text[match.end():], None
    return None


def unwrap_json(obj: dict[str, Any]) -> tuple[str, float | None] | None:
    """`(the etcd line, epoch seconds)` for a Docker json-file or `journalctl -o json` record, else None."""
    log = obj.get("log")
    if isinstance(log, str) and "stream" in obj:
        time = obj.get("time")
        return log.rstrip("\r\n"), _epoch(time) if isinstance(time, str) else None
    message = obj.get("MESSAGE")
    if isinstance(message, str):
        realtime = obj.get("__REALTIME_TIMESTAMP")
        ts = int(realtime) / 1e6 if isinstance(realtime, str) and realtime.isdigit() else None
        return message.rstrip("\r\n"), ts
    return None


def zap_console(text: str) -> tuple[float, str, str, dict[str, Any], str | None, str | None] | None:
    """`(ts, LEVEL word, msg, fields, caller, logger)` of a zap console-encoder line, else None."""
    parts = text.split("\t")
    if len(parts) < 3:
        return None
    ts = _epoch(parts[0])
    if ts is None:
        return None
    level, rest = parts[1], parts[2:]
    fields: dict[str, Any] = {}
    if len(rest) > 1 and rest[-1].startswith("{"):
        try:
            decoded = loads(rest[-1])
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            fields, rest = decoded, rest[:-1]
    caller = next((p for p in rest[:-1] if _CALLER.match(p)), None)
    names = [p for p in rest[:-1] if p != caller]
    return ts, level, rest[-1], fields, caller, names[0] if names else None


def _epoch(stamp: str) -> float | None:
    """ISO8601 → epoch seconds (naive means UTC, as in etcd's containers)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
