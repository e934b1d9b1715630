"""Waiting in tests: poll a condition until it holds, stop a child process for good."""
from __future__ import annotations

import asyncio
import subprocess
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


def stop_process(process: subprocess.Popen[Any] | None, grace_s: float = 5.0) -> None:
    """Terminate a child process if it still runs; kill it if it does not stop within ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace_s)
