"""Shared helpers of the analytics benchmarks: data location, CLI runner, machine description."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("REVITPYIOT_EVAL_DATA", REPO.parent / "shared" / "data"))


def run_cli(*argv: str) -> None:
    """Run the product's own command line (``python -m sidecar.analytics.offline.cli``) in a subprocess."""
    cmd = [sys.executable, "-m", "sidecar.analytics.offline.cli", *argv]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def emit(figures: dict) -> None:
    """Last line of every benchmark: its figures as JSON."""
    print(json.dumps(figures, sort_keys=True))
