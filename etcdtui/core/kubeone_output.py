"""KubeOne's own reason for a failed command, read off its output (one parser for every kubeone run)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_REASON = 300


def kubeone_error(lines: Sequence[str]) -> str:
    """The last error KubeOne printed, else its last non-empty line; "" for no output.

    `Error: <what>` (v1.5+ prints the cause on the next lines, joined with ` · `), or a logrus line with
    `level=error` / `ERRO[...]` (older releases)."""
    for i in range(len(lines) - 1, -1, -1):
        text = lines[i].strip()
        if text.startswith("Error:"):
            cause = [ln.strip() for ln in lines[i + 1:i + 3] if ln.strip()]
            return " · ".join([text.removeprefix("Error:").strip(), *cause])[:MAX_REASON]
        if "level=error" in text or text.startswith("ERRO"):
            return text[:MAX_REASON]
    return next((ln.strip()[:MAX_REASON] for ln in reversed(lines) if ln.strip()), "")
