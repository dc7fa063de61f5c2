"""KubeOne's errors as the lab's kubeone reports them: the message and KubeOne's exit code (pkg/fail/exitcodes.go)."""

from __future__ import annotations

# Exit codes of KubeOne >= 1.5 (pkg/fail/exitcodes.go)
EXIT_DEFAULT, EXIT_RUNTIME, EXIT_SSH, EXIT_CONFIG = 1, 10, 13, 15


class KubeOneError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def runtime_error(op: str, err: str) -> KubeOneError:
    return KubeOneError(f"runtime: {op}\n{err}", EXIT_RUNTIME)


def config_error(message: str) -> KubeOneError:
    return KubeOneError(message, EXIT_CONFIG)
