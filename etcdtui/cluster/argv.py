"""One check for every command etcdtui runs, locally or over ssh: an argv list, never a shell string."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def checked_argv(argv: Sequence[str], error: Callable[[str], Exception], what: str = "a command") -> tuple[str, ...]:
    """`argv` as a tuple; raises `error(message)` for a string, an empty list or an argument with NUL."""
    if isinstance(argv, str) or not argv:
        raise error(f"{what} is a non-empty list of arguments, never a shell string")
    for arg in argv:
        if not isinstance(arg, str) or "\x00" in arg:
            raise error(f"invalid argument {arg!r} in {what} {list(argv)!r}")
    return tuple(argv)
