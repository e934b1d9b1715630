"""Waiting in tests: poll a condition until it holds."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def eventually(check: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition",
                     interval_s: float = 0.02) -> Any:
    """Call ``check`` every ``interval_s`` until it returns something truthy, and return that;
    an AssertionError naming ``what`` (and the last result) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s; last: {result!r}")
        await asyncio.sleep(interval_s)

