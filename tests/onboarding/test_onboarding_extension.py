"""The extension's Export Brick helpers (IronPython-safe code, run here under CPython): the command
line for the installed sidecar and a real export through it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from revitpyiot import brick_export

from sidecar.onboarding.brick import import_turtle
from sidecar.simulation.sample_building import build_demo_building as sample_building

ROOT = Path(__file__).resolve().parents[2]


def test_command_for_the_installed_sidecar(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("", encoding="utf-8")
    record = {"sidecar": {"python": str(python), "module": "sidecar"}}
    assert brick_export.brick_command(record, "b.json", "m.ttl") == [
        str(python), "-I", "-m", "sidecar", "brick", "export", "b.json", "--output", "m.ttl"]
    assert brick_export.brick_command(None, "b.json", "m.ttl") is None
    assert brick_export.brick_command({"sidecar": {"python": str(tmp_path / "gone")}}, "b.json", "m.ttl") is None


def test_export_to_file_writes_the_brick_model(tmp_path: Path) -> None:
    building = sample_building()
    target = tmp_path / "model.ttl"
    record = {"sidecar": {"python": sys.executable, "module": "sidecar"}}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ok, message = brick_export.export_to_file(building, str(target), record, isolated=False, env=env)
    assert ok, message
    assert "212 points" in message
    back = import_turtle(target.read_text(encoding="utf-8"))
    assert back == building
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("revitpyiot-brick-*.json")
                if p.stat().st_mtime > target.stat().st_mtime - 60]     # the temporary file is gone

    ok, message = brick_export.export_to_file(building, str(tmp_path / "x.ttl"), None)
    assert not ok and "not installed" in message
