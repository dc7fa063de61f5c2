"""Parse one etcd log line, whatever shape it has, into a `LogRecord`. `parse_line` never raises.

Shapes understood (etcd-facts §0):

* zap JSON (etcd 3.5/3.6, 3.4 with `--logger=zap`): `{"level":…,"ts":…,"caller":…,"msg":…, …}`;
  `ts` is ISO8601 with ms (≤3.5.5) or µs (≥3.5.6), or an epoch number.
* capnslog text (etcd 3.4 default): `2026-11-24 09:28:56.285092 E | etcdserver: text`.
* capnslog raft lines: `raft2026/11/24 09:28:40 INFO: text`.
* grpc-go's own logger: `WARNING: 2026/11/24 09:25:09 [core] grpc: …`.
* Go panic dumps: `panic: …`, `goroutine 1 [running]:` (the stack frames that follow stay "raw").
* Any of the above behind a `kubectl logs --timestamps` prefix (`<RFC3339Nano> `) or a CRI log-file
  prefix (`<RFC3339Nano> stderr F `).
* Any of the above inside the envelopes of `log_wrappers.py` (syslog/journald prefixes, `journalctl -o
  short-iso` and `-o json`, Docker json-file lines), and zap's console encoder (tab-separated).

Anything else (blank lines, truncated JSON, binary garbage, stack frames) is kept as format "raw"
(or "blank"), with the text decoded as UTF-8 with replacement characters.

This is the hot path of a 500 MB scan, so the common case (a zap line) costs one `json.loads` and
no regex; the other shapes are told apart by their first bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from json import loads as _json_loads
from typing import Any

from etcdtui.core.log_wrappers import strip_syslog, unwrap_json, zap_console

# Formats a record can have.
ZAP = "zap"
CAPNSLOG = "capnslog"
GRPC = "grpc"
GO_PANIC = "panic"
BLANK = "blank"
RAW = "raw"

_ZAP_LEVELS = {
    "debug": "debug",
    "info": "info",
    "warn": "warn",
    "warning": "warn",
    "error": "error",
    "dpanic": "panic",
    "panic": "panic",
    "fatal": "fatal",
}
_CAPNSLOG_LETTERS = {"D": "debug", "I": "info", "N": "info", "W": "warn", "E": "error", "C": "fatal"}
_WORD_LEVELS = {
    "DEBUG": "debug",
    "INFO": "info",
    "NOTICE": "info",
    "WARN": "warn",
    "WARNING": "warn",
    "ERROR": "error",
    "PANIC": "panic",
    "FATAL": "fatal",
}
_DIGITS = frozenset("0123456789")


@dataclass(slots=True)
class LogRecord:
    """One log line. `msg` is what the classifier keys on; `raw` is the decoded line without its newline."""

    raw: str
    format: str = RAW
    ts: float | None = None  # epoch seconds; etcd's own `ts` first, else the kubectl/CRI prefix
    level: str | None = None  # debug/info/warn/error/panic/fatal
    msg: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    caller: str | None = None
    logger: str | None = None
    package: str | None = None  # capnslog package (`etcdserver`, `raft`, …)
    prefix_ts: float | None = None  # timestamp from a kubectl/CRI prefix, if any

    def __reduce__(self) -> tuple[type[LogRecord], tuple[Any, ...]]:
        # Records travel from scan workers to the parent: a plain constructor call unpickles several
        # times faster than the generic (Python-level) state restore of a slots dataclass.
        return LogRecord, (self.raw, self.format, self.ts, self.level, self.msg, self.fields, self.caller,
                           self.logger, self.package, self.prefix_ts)


def parse_line(raw: bytes | bytearray | str) -> LogRecord:
    """Parse one line (with or without its trailing newline). Never raises."""
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    else:  # defensive: callers are typed, but a never-raising parser must not trust them
        text = str(raw)
    text = text.rstrip("\r\n")
    try:
        return _parse_text(text)
    except Exception:  # noqa: BLE001 - the contract is "never raises"; keep the line as raw text
        return LogRecord(raw=text)


def _parse_text(text: str) -> LogRecord:
    if not text.strip():
        return LogRecord(raw=text, format=BLANK)
    first = text[0]
    if first == "{":
        return _parse_zap(text, text, None)
    wrapped = strip_syslog(text)
    if wrapped is not None:
        return _inner(text, *wrapped)
    if first in _DIGITS and "\t" in text[:40]:
        console = _parse_zap_console(text)
        if console is not None:
            return console
    body, prefix_ts = _strip_prefix(text)
    if prefix_ts is not None:
        if not body.strip():
            return LogRecord(raw=text, format=BLANK, ts=prefix_ts, prefix_ts=prefix_ts)
        if body[0] == "{":
            return _parse_zap(text, body, prefix_ts)
        record = _parse_plain(text, body)
        record.prefix_ts = prefix_ts
        if record.ts is None:
            record.ts = prefix_ts
        return record
    return _parse_plain(text, text)


def _strip_prefix(text: str) -> tuple[str, float | None]:
    """Remove a `kubectl logs --timestamps` or CRI prefix: `2026-11-24T09:25:52.232123456Z [stderr F ]`."""
    if len(text) < 21 or text[4] != "-" or text[10] != "T" or text[0] not in _DIGITS:
        return text, None
    space = text.find(" ", 19)
    if space < 0:
        return text, None
    ts = parse_timestamp(text[:space])
    if ts is None:
        return text, None
    body = text[space + 1 :]
    # CRI file format: `<ts> <stream> <P|F> <text>`.
    if body.startswith(("stderr ", "stdout ")) and len(body) >= 9 and body[7] in "PF" and body[8:9] in (" ", ""):
        body = body[9:]
    return body, ts


def _parse_zap(raw: str, body: str, prefix_ts: float | None) -> LogRecord:
    try:
        obj = _json_loads(body)
    except ValueError:
        return LogRecord(raw=raw, ts=prefix_ts, prefix_ts=prefix_ts)  # truncated or not JSON: keep as raw
    if isinstance(obj, dict) and "msg" not in obj and "level" not in obj and prefix_ts is None:
        envelope = unwrap_json(obj)  # Docker json-file, `journalctl -o json`
        if envelope is not None:
            return _inner(raw, *envelope)
    if not isinstance(obj, dict) or ("msg" not in obj and "level" not in obj):
        return LogRecord(raw=raw, ts=prefix_ts, prefix_ts=prefix_ts)
    level = obj.pop("level", None)
    ts_value = obj.pop("ts", None)
    msg = obj.pop("msg", "")
    caller = obj.pop("caller", None)
    logger = obj.pop("logger", None)
    ts = _zap_ts(ts_value)
    return LogRecord(
        raw=raw,
        format=ZAP,
        ts=ts if ts is not None else prefix_ts,
        level=_ZAP_LEVELS.get(level.lower()) if isinstance(level, str) else None,
        msg=msg if isinstance(msg, str) else str(msg),
        fields=obj,
        caller=caller if isinstance(caller, str) else None,
        logger=logger if isinstance(logger, str) else None,
        prefix_ts=prefix_ts,
    )


def _inner(raw: str, body: str, envelope_ts: float | None) -> LogRecord:
    """The etcd line inside an envelope, parsed as if alone; the envelope's time fills a missing one."""
    record = _parse_text(body) if body.strip() else LogRecord(raw=body, format=BLANK)
    record.raw = raw
    if envelope_ts is not None:
        record.prefix_ts = envelope_ts
        if record.ts is None:
            record.ts = envelope_ts
    return record


def _parse_zap_console(raw: str) -> LogRecord | None:
    parsed = zap_console(raw)
    if parsed is None:
        return None
    ts, word, msg, fields, caller, logger = parsed
    level = _ZAP_LEVELS.get(word.lower())
    if level is None:
        return None
    return LogRecord(raw=raw, format=ZAP, ts=ts, level=level, msg=msg, fields=fields, caller=caller, logger=logger)


def _zap_ts(value: object) -> float | None:
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _parse_plain(raw: str, body: str) -> LogRecord:
    first = body[0]
    if first in _DIGITS:
        return _parse_capnslog(raw, body)
    if first == "r" and body.startswith("raft") and len(body) > 24 and body[4] in _DIGITS:
        return _parse_capnslog_raft(raw, body)
    if first in "WIEF" and ": " in body[:9]:
        return _parse_grpc(raw, body)
    if first == "p" and body.startswith("panic: "):
        return LogRecord(raw=raw, format=GO_PANIC, level="panic", msg=body[7:])
    if first == "g" and body.startswith("goroutine ") and body.endswith(":"):
        return LogRecord(raw=raw, format=GO_PANIC, msg=body)
    return LogRecord(raw=raw, msg=body)


def _parse_capnslog(raw: str, body: str) -> LogRecord:
    # `2026-11-24 09:28:56.285092 E | etcdserver: text`: fixed-width date/time, then `L | pkg: `.
    bar = body.find(" | ", 19, 40)
    if bar < 0 or body[4] != "-" or body[10] != " ":
        return LogRecord(raw=raw, msg=body)
    head = body[:bar]
    stamp, _, letter = head.rpartition(" ")
    level = _CAPNSLOG_LETTERS.get(letter)
    if level is None:
        return LogRecord(raw=raw, msg=body)
    ts = _naive_utc(stamp)
    rest = body[bar + 3 :]
    package, sep, text = rest.partition(": ")
    if not sep or " " in package:
        package, text = "", rest
    return LogRecord(raw=raw, format=CAPNSLOG, ts=ts, level=level, msg=text, package=package or None)


def _parse_capnslog_raft(raw: str, body: str) -> LogRecord:
    # `raft2026/11/24 09:28:40 INFO: text` (Go's log package with a "raft" prefix).
    colon = body.find(": ", 24)
    if colon < 0:
        return LogRecord(raw=raw, msg=body)
    level = _WORD_LEVELS.get(body[24:colon])
    if level is None:
        return LogRecord(raw=raw, msg=body)
    ts = _naive_utc(body[4:23].replace("/", "-"))
    return LogRecord(raw=raw, format=CAPNSLOG, ts=ts, level=level, msg=body[colon + 2 :], package="raft")


def _parse_grpc(raw: str, body: str) -> LogRecord:
    # `WARNING: 2026/11/24 09:25:09 [core] grpc: …`
    word, _, rest = body.partition(": ")
    level = _WORD_LEVELS.get(word)
    if level is None or len(rest) < 20 or rest[4] != "/":
        return LogRecord(raw=raw, msg=body)
    ts = _naive_utc(rest[:19].replace("/", "-"))
    return LogRecord(raw=raw, format=GRPC, ts=ts, level=level, msg=rest[20:], package="grpc")


def _naive_utc(stamp: str) -> float | None:
    """capnslog and Go's log package print local time without a zone; etcd containers run in UTC."""
    try:
        return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def parse_timestamp(stamp: str) -> float | None:
    """ISO8601/RFC3339 (any fraction length, `Z` or offset) → epoch seconds; naive means UTC."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
