"""Waiting for what another process does."""

from __future__ import annotations

import time
from typing import Callable


def wait_for(what: Callable, timeout: float = 60.0, message: str = "condition"):
    """``what()`` once it is true (polled every 0.2 s); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.2)
