"""How a headless command speaks: one line on stderr prefixed with the command for a failure, live lines on stdout.

    say = Output("recover")
    return say.fail("snapshot missing", exitcodes.CRITICAL)   # "etcdtui recover: snapshot missing", returns 2
    say.out("== restore")                                      # flushed at once (runbooks follow it live)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    command: str  # the subcommand name, e.g. "replace"

    def fail(self, message: str, code: int) -> int:
        """Write the failure line; returns `code` so a caller can `return say.fail(...)`."""
        sys.stderr.write(f"etcdtui {self.command}: {message.rstrip()}\n")
        return code

    def wrong_context(self, confirm: str, context: str, code: int) -> int:
        """`--confirm` must name the context a destructive run acts on; said before anything changes."""
        return self.fail(f"--confirm {confirm!r} is not the current context {context!r}: nothing changed", code)

    def out(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
