"""The cyclic garbage collector paused while a command starts, and what startup built frozen afterwards.

Starting the ring view imports ~1,500 modules and builds the first screen: hundreds of thousands of objects
that live as long as the process. While they are created the collector runs again and again over the same
survivors, ~100 ms of CPU of a ~0.8 s start (measured with `benchmarks/startup.py`: 821 → 728 ms median).
Reference counting still frees everything that is not in a cycle meanwhile. `resume()` moves the survivors
to the permanent generation (`gc.freeze`, so later collections never scan them again) and turns the
collector back on.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Idempotent; a no-op unless `pause()` turned the collector off."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
