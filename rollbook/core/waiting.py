"""Bounded polling: wait for a condition, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Call `check` until it returns a truthy value or `timeout` seconds pass; return the last."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
