"""Argument types the headless commands share (argparse turns their errors into one line and exit 3)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def seconds(low: float, high: float, *, low_allowed: bool = True) -> Callable[[str], float]:
    """A number of seconds in [low, high] (or (low, high] when `low_allowed` is false)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (low <= value if low_allowed else low < value) or value > high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g} seconds: {text}")
        return value

    return parse
