"""The one bounded wait: poll until something is there or time runs out.

Used where a caller waits on state another process writes (a retraining run, and the
tests' ``wait_until``), so every wait has a deadline and none spins without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.1) -> T | None:
    """The first result of ``probe`` that is not None or empty, polled every ``interval_s``;
    None once ``timeout_s`` has passed (``probe`` runs at least once)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)
