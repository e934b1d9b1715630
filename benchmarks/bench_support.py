"""What the benchmark scripts share: a free port, the ``--quick`` command line, the machine line."""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
from collections.abc import Callable, Coroutine
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_quick_or_full(doc: str, main_async: Callable[[bool], Coroutine[Any, Any, Any]]) -> Any:
    """Parse ``--quick`` (fewer, shorter runs) and run ``main_async(quick)``; its figures."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    return asyncio.run(main_async(args.quick))


def machine_line(versions: str) -> str:
    """The first line every benchmark prints: platform, CPUs, Python, then ``versions``."""
    return f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {versions}"
