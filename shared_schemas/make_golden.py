"""Regenerate the golden vectors in ``golden/``: one realistic example of every message.

For each example ``<name>`` there are two files: ``<name>.json`` (UTF-8, key order as sent) and
``<name>.msgpack``, the bytes the real ``msgpack.packb`` (default options) makes from that JSON
loaded with its key order preserved. Every example is validated against its schema before it is
written. ``manifest.json`` lists the vectors with their role and type or topic.

Names: ``request.<type>``, ``reply.<type>`` (ok replies), ``reply.error.<code>``, ``event.<topic>``.
The examples cover what codecs get wrong: non-ASCII text (2-, 3- and 4-byte UTF-8), strings longer
than 31 and 255 bytes, maps with more than 15 keys, arrays with more than 15 items, nested maps,
negative integers of every width, integers beyond 32 bits, floats, booleans and nil. Every float
round-trips exactly through JSON (Python writes the shortest repr).

    python -m shared_schemas.make_golden            # rewrite golden/
    python -m shared_schemas.make_golden --check    # exit 1 if golden/ is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgpack

from shared_schemas import validation

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

TOKEN = "k3TQ0s9vX2bYc8LwZr5uNf1AeHq7JdPm4GiVo6Ey"
TS = 1767603600.125
BUILDING = "harbour-view"
EPISODE = "6d76b07e-881e-4162-ae2e-b1547f150524"
AHU_UID = EPISODE + "-0004a7f1"
AHU_ID = 305137
VIB_UID = "1f7296ab-7961-4d92-9d39-d0a89a2ef80f-000546cc"
VIB_ID = 345804
CH_UID = EPISODE + "-0004a83a"
CH_ID = 305210
LEVEL2_UID = "6513270e-269e-4d37-b2a7-4de452e6b438-000022d3"
LEVEL3_UID = "6513270e-269e-4d37-b2a7-4de452e6b438-000045cf"
ROOF_UID = "6513270e-269e-4d37-b2a7-4de452e6b438-00005b49"
BUERO_UID = "8d116ece-1738-47d9-bd9c-172411e20b8f-000331d4"
MEETING_UID = "8d116ece-1738-47d9-bd9c-172411e20b8f-000331e9"
ROOF_PLANT_UID = "8d116ece-1738-47d9-bd9c-172411e20b8f-000331b0"


def _request(kind: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": kind, "id": f"rvt-7f3a-{number:04d}", "ts": TS + number, "token": TOKEN,
            "body": body}


def _reply(kind: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": kind, "id": f"rvt-7f3a-{number:04d}", "ts": TS + number + 0.003,
            "ok": True, "body": body}


def _error(kind: str | None, number: int | None, code: str, message: str, details: Any) -> dict[str, Any]:
    return {"v": 1, "type": kind, "id": None if number is None else f"rvt-7f3a-{number:04d}",
            "ts": TS + 50.5, "ok": False, "body": {},
            "error": {"code": code, "message": message, "details": details}}


def _event(topic: str, seq: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": topic, "id": f"evt-{topic}-{seq:08d}", "ts": TS + 61.75, "seq": seq, "body": body}


def _building() -> dict[str, Any]:
    """A small BuildingConfig (an AHU, one of its sensors, two IAQ sensors)."""
    return {
        "building_id": BUILDING,
        "model": {"title": "Harbour View Office", "path": "C:\\Projects\\HVO\\HVO-ARC-MEP-Central.rvt",
                  "revit_version": "2025", "project_guid": "0a0b8d0e-5f4c-4a8e-9d2b-7c1e3f5a6b70"},
        "exported_ts": 1767603540.5,
        "levels": [
            {"unique_id": "6513270e-269e-4d37-b2a7-4de452e6b438-00000137", "name": "Level B1", "elevation_m": -4.2},
            {"unique_id": LEVEL2_UID, "name": "Level 2", "elevation_m": 4.0},
            {"unique_id": LEVEL3_UID, "name": "Level 3", "elevation_m": 7.6},
            {"unique_id": ROOF_UID, "name": "Roof", "elevation_m": 14.8},
        ],
        "spaces": [
            {"unique_id": BUERO_UID, "element_id": 209364, "name": "Büro 2.14", "number": "2.14",
             "level": LEVEL2_UID, "kind": "room",
             # an L-shaped office around a riser shaft: the outer loop, then the shaft as a hole
             "outline": [[[0.0, 0.0], [8.4, 0.0], [8.4, 3.6], [4.2, 3.6], [4.2, 6.15], [0.0, 6.15]],
                         [[1.0, 1.0], [1.6, 1.0], [1.6, 1.75], [1.0, 1.75]]]},
            {"unique_id": MEETING_UID, "element_id": 209385, "name": "会议室", "number": "3.02",
             "level": LEVEL3_UID, "kind": "room"},
            {"unique_id": ROOF_PLANT_UID, "element_id": 209328, "name": "Roof Plant", "number": "R.01",
             "level": ROOF_UID, "kind": "space"},
        ],
        "elements": [
            {"unique_id": AHU_UID, "element_id": AHU_ID, "kind": "equipment",
             "category": "OST_MechanicalEquipment", "family": "M_Air Handling Unit - Rooftop",
             "type": "9500 L/s Heat Recovery", "name": "Air Handling Unit 01 (Level 1 and Level 2)",
             "mark": "AHU-01", "level": ROOF_UID, "space": ROOF_PLANT_UID, "location": [10.0, 12.0, 14.8],
             "parameters": {
                 "Manufacturer": "Nordvent", "Model": "NV-RT 95", "Serial Number": "NV95-19-0412",
                 "Install Date": "2019-03-14", "Rated Airflow (L/s)": 9500, "Supply Fan Power (kW)": 15.0,
                 "Service Interval (months)": 3, "Is Critical": True, "Reheat": False,
                 "Comments": "Serves Level 1 and Level 2 — Wartung über Dachzugang Nord",
                 "Offset from Host (mm)": -150, "Elevation from Level (mm)": -2400,
                 "Calibration Offset (Pa)": -40000, "Asset Number": 4294967296,
                 "Warranty Ref": -2147483649, "Design Static Pressure (Pa)": 450.5,
                 "Fire Damper Linked": True, "Roof Slope Compensation (deg)": -45}},
            {"unique_id": VIB_UID, "element_id": VIB_ID, "kind": "sensor", "category": "OST_DataDevices",
             "family": "RPI_Vibration Sensor - Magnetic Mount", "type": "Triaxial 0-50 mm/s",
             "name": "AHU-01 Supply Fan Vibration", "mark": "VT-AHU01-SFV", "level": ROOF_UID,
             "space": ROOF_PLANT_UID, "location": [11.2, 11.7, 15.409],
             "parameters": {"IoT Sensor Id": "ahu-01.supply_fan_vibration", "IoT Quantity": "vibration",
                            "IoT Unit": "mm/s", "IoT Source": "sim:", "IoT Host": AHU_UID,
                            "IoT Limit High": 4.5, "IoT Limit High Critical": 7.1},
             "sensor": {"sensor_id": "ahu-01.supply_fan_vibration", "quantity": "vibration", "unit": "mm/s",
                        "source": "sim:", "host": AHU_UID, "limits": {"high": 4.5, "high_critical": 7.1}}},
            {"unique_id": "1f7296ab-7961-4d92-9d39-d0a89a2ef80f-00055183", "element_id": 9007199254740993,
             "kind": "sensor", "category": "OST_DataDevices", "family": "RPI_IAQ Multisensor - Ceiling",
             "type": "CO2 NDIR 0-5000 ppm", "name": "Büro 2.14 CO2", "mark": "AT-2.14-CO2",
             "level": LEVEL2_UID, "space": BUERO_UID, "location": [29.874, 18.02, 6.7],
             "parameters": {"IoT Sensor Id": "room-2-14.co2", "IoT Quantity": "co2", "IoT Unit": "ppm",
                            "IoT Source": "mqtt://127.0.0.1/harbour-view/L2/büro-2.14/co2",
                            "Mounting Height (mm)": 2700},
             "sensor": {"sensor_id": "room-2-14.co2", "quantity": "co2", "unit": "ppm",
                        "source": "mqtt://127.0.0.1/harbour-view/L2/büro-2.14/co2"}},
            {"unique_id": "1f7296ab-7961-4d92-9d39-d0a89a2ef80f-000551a2", "element_id": 348578,
             "kind": "sensor", "category": "OST_DataDevices", "family": "RPI_Room Sensor - Wall",
             "type": "Temperature NTC10k", "name": "会议室 Temperature", "mark": "TT-3.02", "level": LEVEL3_UID,
             "space": MEETING_UID, "location": [24.51, 0.1, 9.1],
             "parameters": {"IoT Sensor Id": "room-3-02.temperature", "IoT Quantity": "temperature",
                            "IoT Unit": "Cel", "Mounting Height (mm)": 1500},
             "sensor": {"sensor_id": "room-3-02.temperature", "quantity": "temperature", "unit": "Cel",
                        "limits": {"low": 19.0, "high": 26.0, "low_critical": -5, "high_critical": 30}}},
        ],
    }


def _alert(state: str, updated: float, **extra: Any) -> dict[str, Any]:
    alert = {
        "alert_id": "al-harbour-view-000127", "building_id": BUILDING, "unique_id": AHU_UID,
        "element_id": AHU_ID, "sensor_id": "ahu-01.supply_fan_vibration", "kind": "limit_high",
        "severity": "critical", "state": state,
        "message": "AHU-01 Supply Fan Vibration 7.9 mm/s is above the critical limit 7.1 mm/s",
        "value": 7.9, "threshold": 7.1, "raised_ts": TS + 12.5, "updated_ts": updated,
        "recommended_action": (
            "Inspect the supply fan of AHU-01 on the roof (Roof Plant R.01): check the fan and motor "
            "bearings for wear and lubrication, the belt tension and alignment, the impeller for dirt "
            "build-up or imbalance, and the anti-vibration mounts. Vibration above ISO 10816-3 zone C/D "
            "(7.1 mm/s) can damage the machine; plan a shutdown of the unit if the level keeps rising. "
            "✅ Log the work order in the CAFM system 🔧."),
        "failure_probability": 0.42,
    }
    alert.update(extra)
    return alert


def _health(score: float, status: str, probability: float | None, ttf: float | None, drivers: list[str],
            unique_id: str = AHU_UID, element_id: int = AHU_ID) -> dict[str, Any]:
    return {"unique_id": unique_id, "element_id": element_id, "health_score": score, "status": status,
            "failure_probability": probability, "ttf_hours": ttf, "drivers": drivers, "updated_ts": TS + 61.5}


def _status_body() -> dict[str, Any]:
    return {"state": "monitoring", "building_id": BUILDING, "sensors": 212, "readings_per_s": 211.8,
            "active_alerts": 3, "uptime_s": 3725.25,
            "sources": {"sim": "running", "ingest": "idle", "mqtt://127.0.0.1:1883": "connecting"}}


def golden_messages() -> dict[str, dict[str, Any]]:
    """Every golden example by name, in the order the files are listed."""
    readings: list[list[Any]] = [
        ["wm-01.flow", TS - 60.0 + i * 3.0, round(0.8 + 0.05 * i, 2)] for i in range(16)
    ]
    readings += [
        ["wm-01.volume", TS - 1.5, 48211],
        ["room-3-02.temperature", TS - 0.5, -12.5],
        ["ahu-01.supply_fan_vibration", TS, 7.9],
        ["unbekannter-sensor.ü", TS, 1.0],
    ]
    health_items = [
        _health(38.5, "critical", 0.42, 96.0, ["supply fan vibration 7.9 mm/s above critical 7.1",
                                               "filter ΔP rising 12 Pa/day"]),
        _health(100, "ok", None, None, [], unique_id=CH_UID, element_id=CH_ID),
        _health(71.25, "watch", 0.08, 1440.5, ["chilled water ΔT 3.1 K below design 5 K"],
                unique_id=EPISODE + "-0004a86b", element_id=305259),
    ]
    messages: dict[str, dict[str, Any]] = {
        "request.hello": _request("hello", 1, {
            "client": "RevitPyIoT.extension", "client_version": "0.1.0", "protocols": [1],
            "revit_version": "2025", "document": "HVO-ARC-MEP-Central – Büro & 会议室"}),
        "request.configure": _request("configure", 2, _building()),
        "request.start": _request("start", 3, {}),
        "request.stop": _request("stop", 4, {}),
        "request.status": _request("status", 5, {}),
        "request.snapshot": _request("snapshot", 6, {"unique_ids": [AHU_UID, CH_UID]}),
        "request.ack": _request("ack", 7, {"alert_id": "al-harbour-view-000127", "user": "Zoë Müller",
                                           "note": "Techniker informiert – 技术员已通知"}),
        "request.ingest": _request("ingest", 8, {"readings": readings}),
        "reply.hello": _reply("hello", 1, {"sidecar_version": "0.1.0", "protocol": 1, "state": "configured",
                                           "building_id": BUILDING}),
        "reply.configure": _reply("configure", 2, {
            "building_id": BUILDING, "elements": 4, "sensors": 3,
            "warnings": [("sensor room-2-14.co2: source mqtt://127.0.0.1/harbour-view/L2/büro-2.14/co2 has no "
                          "configured broker; it stays unknown until one is configured")]}),
        "reply.start": _reply("start", 3, {"state": "monitoring"}),
        "reply.stop": _reply("stop", 4, {"state": "configured"}),
        "reply.status": _reply("status", 5, _status_body()),
        "reply.snapshot": _reply("snapshot", 6, {"health": health_items[:2], "alerts": [_alert("active", TS + 12.5)]}),
        "reply.ack": _reply("ack", 7, {"alert": _alert("acknowledged", TS + 7.0 + 0.003, acknowledged_by="Zoë Müller",
                                                       ack_note="Techniker informiert – 技术员已通知")}),
        "reply.ingest": _reply("ingest", 8, {
            "accepted": 19, "rejected": [{"index": 19, "reason": "unknown sensor 'unbekannter-sensor.ü'"}],
            "rejected_total": 1, "rejected_by_reason": {"unknown sensor 'unbekannter-sensor.ü'": 1}}),
        "request.history": _request("history", 15, {
            "sensor_id": "ahu-01.supply_fan_vibration", "start_ts": TS - 7200.0, "end_ts": TS,
            "resolution": "1m", "max_points": 2000}),
        "reply.history": _reply("history", 15, {
            "sensor_id": "ahu-01.supply_fan_vibration", "resolution": "1m",
            "ts": [TS - 7200.0 + 60.0 * i for i in range(3)], "value": [3.25, 4.5, 7.875],
            "min": [3.0, 4.25, 7.5], "max": [3.5, 4.75, 8.25], "count": [60, 60, 59]}),
        "request.shelve": _request("shelve", 16, {
            "alert_id": "al-harbour-view-000127", "duration_s": 14400.0, "user": "Zoë Müller",
            "reason": "Lager wird morgen getauscht – bearing replaced tomorrow"}),
        "reply.shelve": _reply("shelve", 16, {"alert": _alert(
            "active", TS + 16.003, isa_state="unack_active", change="shelved", escalated=False,
            shelved_until=TS + 16.003 + 14400.0, shelved_by="Zoë Müller",
            shelve_reason="Lager wird morgen getauscht – bearing replaced tomorrow")}),
        "request.unshelve": _request("unshelve", 17, {"alert_id": "al-harbour-view-000127", "user": "Zoë Müller"}),
        "reply.unshelve": _reply("unshelve", 17, {"alert": _alert(
            "acknowledged", TS + 17.003, isa_state="ack_active", change="unshelved", escalated=True,
            acknowledged_by="Zoë Müller", acknowledged_ts=TS + 7.003)}),
        "request.set_limits": _request("set_limits", 18, {
            "sensor_id": "ahu-01.supply_fan_vibration", "limits": {"high": 5.0, "high_critical": 8.0, "low": None}}),
        "reply.set_limits": _reply("set_limits", 18, {
            "sensor_id": "ahu-01.supply_fan_vibration",
            "limits": {"high": 5.0, "high_critical": 8.0, "deadband": 0.3}}),
        "request.workorders": _request("workorders", 19, {"status": "all", "limit": 20}),
        "reply.workorders": _reply("workorders", 19, {"workorders": [{
            "work_order_id": "9b1f0c2d7e4a4f0e8d6c5b4a39281706", "unique_id": AHU_UID, "element_id": AHU_ID,
            "title": "Lüftungsgerät 01: Inspect the air handling unit bearings, tooling and drive train; "
                     "replace worn parts.",
            "status": "closed", "priority": "medium", "failure_probability": 0.74, "ttf_hours": 9.5,
            "recommended_action": "Inspect the air handling unit bearings, tooling and drive train; "
                                  "replace worn parts.",
            "evidence": [("Zuluftventilator vibration (vibration) rising 0.31 mm/s/h toward its critical limit "
                          "7.1 mm/s: ~9.5 h to failure (± 2.1 h), 74% within 24 h"), "failure probability 74%"],
            "created_ts": TS - 3600.0, "due_ts": TS - 3600.0 + 4.75 * 3600.0, "closed_ts": TS - 60.0}]}),
        "reply.error.bad_request": _error("configure", 9, "bad_request",
                                          "body.elements.3.location: expected at least 3 items, got 2",
                                          {"field": "body.elements.3.location"}),
        "reply.error.unauthorized": _error("status", 10, "unauthorized", "missing or wrong token", None),
        "reply.error.unsupported_version": _error("hello", 11, "unsupported_version",
                                                  "protocol version 2 is not supported",
                                                  {"supported": [1], "received": 2}),
        "reply.error.unknown_type": _error("reboot", 12, "unknown_type", "unknown request type 'reboot'",
                                           {"known": ["hello", "configure", "start", "stop", "status",
                                                      "snapshot", "ack", "ingest"]}),
        "reply.error.too_large": _error(None, None, "too_large",
                                        "payload of 70254592 bytes exceeds the limit of 67108864 bytes",
                                        {"size": 70254592, "limit": 67108864}),
        "reply.error.conflict": _error("start", 13, "conflict", "no configuration: send configure first",
                                       {"state": "idle"}),
        "reply.error.internal": _error("snapshot", 14, "internal", "internal error (see the sidecar log)",
                                       {"error_id": "e-5c1d", "retry": True, "attempt": -1}),
        "event.alert": _event("alert", 127, _alert("active", TS + 12.5)),
        "event.health": _event("health", 4096, {"items": health_items}),
        "event.status": _event("status", 65536, _status_body()),
    }
    return messages


def kind_of(name: str) -> tuple[str, str]:
    """(role, type or topic) of a golden vector name: ("request", "hello"), ("event", "alert"), ..."""
    role, _, rest = name.partition(".")
    return role, rest


def validate_golden(name: str, message: dict[str, Any]) -> None:
    role, kind = kind_of(name)
    if role == "request":
        validation.validate_request(message)
    elif role == "reply":
        validation.validate_reply(message)
    elif role == "event":
        validation.validate_event(kind, message)
    else:
        raise ValueError(f"golden vector {name!r} has no known role")


def render(messages: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """File name -> exact file contents for ``golden/``."""
    files: dict[str, bytes] = {}
    manifest = []
    for name, message in messages.items():
        validate_golden(name, message)
        text = json.dumps(message, ensure_ascii=False, indent=2) + "\n"
        reloaded = json.loads(text)  # what a reader of the .json gets, key order preserved
        if reloaded != message:
            raise ValueError(f"{name}: does not round-trip through JSON")
        files[f"{name}.json"] = text.encode("utf-8")
        files[f"{name}.msgpack"] = msgpack.packb(reloaded)
        role, kind = kind_of(name)
        manifest.append({"name": name, "role": role, "kind": kind, "json": f"{name}.json",
                         "msgpack": f"{name}.msgpack"})
    files["manifest.json"] = (json.dumps({"protocol_version": 1, "vectors": manifest}, indent=2) + "\n").encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared_schemas.make_golden", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether golden/ is up to date")
    parser.add_argument("--output", type=Path, default=GOLDEN_DIR, help="folder to write (default: golden/)")
    args = parser.parse_args(argv)
    files = render(golden_messages())
    if args.check:
        stale = [n for n, data in files.items()
                 if not (args.output / n).is_file() or (args.output / n).read_bytes() != data]
        for name in stale:
            print(f"out of date: {args.output / name}")
        return 1 if stale else 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.output / name).write_bytes(data)
    print(f"wrote {len(files)} files to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
