"""KubeOne's log lines on stderr (logrus text formatter: time, level in colour on a TTY, quoted fields)."""

from __future__ import annotations

import json
import re
import time
from typing import TextIO

# == logging (logrus text formatter) ========================================================================
LEVEL_COLORS = {"debug": 37, "info": 36, "warn": 33, "warning": 33, "error": 31}
_SAFE = re.compile(r"^[A-Za-z0-9\-._/@^+]+$")


class Logger:
    def __init__(self, stream: TextIO, *, verbose: bool) -> None:
        self._stream = stream
        self._verbose = verbose
        self._color = stream.isatty()

    def log(self, level: str, msg: str, **fields: str) -> None:
        if level == "debug" and not self._verbose:
            return
        level = "warning" if level == "warn" else level
        stamp = time.strftime("%H:%M:%S %Z")
        if self._color:
            color = LEVEL_COLORS.get(level, 36)
            line = f"\x1b[{color}m{level.upper()[:4]}\x1b[0m[{stamp}] {msg:<44} "
            line += "".join(f" \x1b[{color}m{k}\x1b[0m={v}" for k, v in fields.items())
        else:
            parts = [f"time={_quote(stamp)}", f"level={level}", f"msg={_quote(msg)}"]
            parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
            line = " ".join(parts)
        self._stream.write(line.rstrip() + "\n")
        self._stream.flush()

    def info(self, msg: str, **fields: str) -> None:
        self.log("info", msg, **fields)

    def warn(self, msg: str, **fields: str) -> None:
        self.log("warn", msg, **fields)

    def error(self, msg: str, **fields: str) -> None:
        self.log("error", msg, **fields)


def _quote(value: str) -> str:
    return value if _SAFE.match(value) else json.dumps(value, ensure_ascii=False)
