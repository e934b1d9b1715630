"""The Export Brick button in the fake Revit: the model is read a few elements per idle call, the
installed sidecar's CPython writes the Turtle on a worker thread, the result shows in the output,
and the click itself never holds Revit's UI thread."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest


@pytest.fixture
def building(fake_revit):
    import ext_building
    return ext_building.build(fake_revit, floors=2, link_floors=1)


def test_export_brick_writes_the_model_without_holding_revit(fake_revit, building, tmp_path: Path) -> None:
    from revitpyiot import launcher
    data = Path(os.environ["REVITPYIOT_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    # The installer's record: the sidecar's interpreter (here this venv's, which has the sidecar).
    (data / launcher.INSTALL_RECORD_NAME).write_text(json.dumps(
        {"sidecar": {"python": sys.executable, "module": "sidecar"}}), encoding="utf-8")
    target = tmp_path / "model.ttl"
    fake_revit.answer(lambda shown: str(target) if shown["file_ext"] == "ttl" else None)
    out = fake_revit.run_button("Export Brick")
    assert out.block_ms < 1000            # the click only asks for the file and queues the work
    fake_revit.pump_until(lambda: "Brick model written" in out.text() or "did not complete" in out.text(),
                          timeout_s=120)
    assert "Brick model written" in out.text(), out.text()
    turtle = target.read_text(encoding="utf-8")
    assert "https://brickschema.org/schema/Brick#" in turtle
    from revitpyiot import protocol as P
    sensor_id = building.sensors[1].LookupParameter(P.PARAM_SENSOR_ID)._value
    assert sensor_id in turtle                      # the sensor is a point of the model
