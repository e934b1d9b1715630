"""The onboarding commands as a user runs them: ``python -m sidecar ...`` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shared_schemas.validation import validate_record

ROOT = Path(__file__).resolve().parents[2]


def run_sidecar(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sidecar", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_sample_building_writes_the_configure_body(tmp_path: Path) -> None:
    out = tmp_path / "BUILDING.json"
    done = run_sidecar("sample-building", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "212 sensors" in done.stderr
    building = json.loads(out.read_text(encoding="utf-8"))
    assert building["building_id"] == "harbour-view"
    assert out.read_bytes() == (ROOT / "sidecar" / "data" / "demo_building.json").read_bytes()
    validate_record("BuildingConfig", building)
    stdout = run_sidecar("sample-building", "--seed", "8")
    assert stdout.returncode == 0 and json.loads(stdout.stdout)["building_id"] == "harbour-view"
    assert stdout.stdout != out.read_text(encoding="utf-8")   # another seed, another building


def test_main_help_lists_the_onboarding_commands() -> None:
    done = run_sidecar("--help")
    assert done.returncode == 0
    for command in ("discover", "brick", "sample-building"):
        assert command in done.stdout
