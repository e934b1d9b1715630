"""PipelinePort: what the maintenance engine and the plug-ins may ask of the pipeline, and the
describer hook through which a kind's producer words its alerts."""
from __future__ import annotations

import numpy as np
from alarm_support import Rig
from support.buildings import AHU

from sidecar.alarms.record import KIND_CLOUD_DATA_LOSS, KIND_MAINTENANCE, Alert, Description
from sidecar.port import PipelinePort


def test_the_pipeline_is_the_port() -> None:
    rig = Rig()
    port: PipelinePort = rig.pipeline
    assert port.model is rig.model
    rig.feed("ahu1.sf_vib", [1.0, 2.0, 3.0], t0=rig.now - 3)
    index = rig.model.sensor_index["ahu1.sf_vib"]
    ts, values = port.recent_readings(index, rig.now - 2.5)       # strictly newer than after_ts
    assert values.tolist() == [2.0, 3.0] and ts.tolist() == [rig.now - 2, rig.now - 1]
    values[:] = 0.0                                                # a copy: the ring is untouched
    assert port.recent_readings(index, -np.inf)[1].tolist() == [1.0, 2.0, 3.0]
    assert port.seen_at([index]).tolist() == [rig.now]
    assert np.isneginf(port.seen_at([rig.model.sensor_index["zone.co2"]])).all()


def test_a_condition_raised_through_the_port_is_published_and_clears() -> None:
    rig = Rig()
    alert = rig.pipeline.set_condition(KIND_MAINTENANCE, True, unique_id=AHU, value=0.9, threshold=0.7,
                                       severity="critical")
    assert isinstance(alert, Alert) and alert.unique_id == AHU and alert.condition
    assert [a.kind for a in rig.pipeline.open_alerts([AHU])] == [KIND_MAINTENANCE]
    assert rig.last(kind=KIND_MAINTENANCE)["severity"] == "critical"
    building = rig.pipeline.set_condition(KIND_CLOUD_DATA_LOSS, True, value=12.0, label="Cloud connector x:")
    assert building is not None and building.unique_id == rig.model.building_id and building.element_id == -1
    cleared = rig.pipeline.set_condition(KIND_CLOUD_DATA_LOSS, False, label="Cloud connector x:")
    assert cleared is not None and cleared.isa_state == "unack_rtn"   # waits for an acknowledgement


def test_a_describer_words_its_kind_before_the_change_is_published() -> None:
    rig = Rig()
    asked: list[str] = []

    def describe(alert: Alert) -> Description:
        asked.append(alert.change)
        text = "work order 42 open" if alert.condition else "work order 42 closed"
        return Description(text, "Replace the bearing.", 0.9)

    rig.pipeline.describe_kind(KIND_MAINTENANCE, describe)
    rig.pipeline.set_condition(KIND_MAINTENANCE, True, unique_id=AHU, value=0.9)
    raised = rig.last(kind=KIND_MAINTENANCE)
    assert (raised["message"], raised["recommended_action"], raised["failure_probability"]) == \
        ("work order 42 open", "Replace the bearing.", 0.9)
    rig.pipeline.set_condition(KIND_MAINTENANCE, False, unique_id=AHU, value=0.1)
    assert rig.last(kind=KIND_MAINTENANCE)["message"] == "work order 42 closed"
    assert asked == ["raised", "returned"]
    # Other kinds keep the engine's own texts.
    rig.feed("ahu1.sf_vib", [5.2])
    assert "5.2 mm/s > 4.5 mm/s" in rig.last(kind="limit_high")["message"]
