"""Small BuildingConfigs for tests (PROTOCOL.md shape)."""
from __future__ import annotations

import copy
from typing import Any

AHU = "aaaaaaaa-0000-0000-0000-000000000001-00001000"
ZONE_SENSOR = "aaaaaaaa-0000-0000-0000-000000000001-00002001"
PUMP = "aaaaaaaa-0000-0000-0000-000000000001-00001001"


def sensor_element(unique_id: str, element_id: int, name: str, sensor: dict[str, Any]) -> dict[str, Any]:
    return {"unique_id": unique_id, "element_id": element_id, "kind": "sensor", "category": "Data Devices",
            "family": "Test Sensor", "name": name, "level": "L1", "location": [1.0, 2.0, 3.0],
            "parameters": {"IoT Sensor Id": sensor["sensor_id"]}, "sensor": sensor}


def equipment(unique_id: str, element_id: int, name: str, category: str = "Mechanical Equipment") -> dict[str, Any]:
    return {"unique_id": unique_id, "element_id": element_id, "kind": "equipment", "category": category,
            "family": "Air Handling Unit" if "AHU" in name else "Pump", "name": name, "mark": name,
            "level": "L1", "location": [0.0, 0.0, 0.0], "parameters": {"Serial": "X1"}}


def small_building(source: str = "ingest:", building_id: str = "test-building") -> dict[str, Any]:
    """An AHU with supply-fan vibration and supply temperature sensors, a pump with vibration,
    and a zone CO2 sensor without host. Every sensor fed by ``source``."""
    elements = [
        equipment(AHU, 1000, "AHU-1"),
        equipment(PUMP, 1001, "CHWP-1"),
        sensor_element(AHU[:-4] + "2000", 2000, "AHU-1 Supply Fan Vibration",
                       {"sensor_id": "ahu1.sf_vib", "quantity": "vibration", "unit": "mm/s", "source": source,
                        "host": AHU}),
        sensor_element(AHU[:-4] + "2002", 2002, "AHU-1 Supply Air Temperature",
                       {"sensor_id": "ahu1.sat", "quantity": "temperature", "unit": "Cel", "source": source,
                        "host": AHU, "limits": {"low": 10.0, "high": 18.0, "low_critical": 6.0,
                                                "high_critical": 24.0}}),
        sensor_element(PUMP[:-4] + "2003", 2003, "CHWP-1 Vibration",
                       {"sensor_id": "chwp1.vib", "quantity": "vibration", "unit": "mm/s", "source": source,
                        "host": PUMP}),
        sensor_element(ZONE_SENSOR, 2001, "Office 1.01 CO2",
                       {"sensor_id": "zone.co2", "quantity": "co2", "unit": "ppm", "source": source}),
    ]
    return {"building_id": building_id, "model": {"title": "Test building"}, "exported_ts": 1767603600.0,
            "levels": [{"unique_id": "lvl-1", "name": "L1", "elevation_m": 0.0}],
            "spaces": [{"unique_id": "sp-1", "element_id": 300, "name": "Office", "number": "1.01",
                        "level": "lvl-1", "kind": "room"}],
            "elements": elements}


def with_elements(building: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(building)
    result["elements"].extend(extra)
    return result
