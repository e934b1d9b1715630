"""Hand-written accept checks for the records that come in large arrays.

jsonschema spends a few hundred microseconds on each BuildingConfig element or
HealthRecord, which makes a 10,000-element ``configure`` take seconds. These
predicates answer "certainly valid?" for one item in microseconds. They may be
stricter than the schema (a ``False`` only sends that item through jsonschema,
which then reports the precise error or accepts it), but they must never
accept what the schema rejects: ``tests/test_schemas.py`` checks that with
hypothesis. The schemas stay the only definition of the contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

from shared_schemas.protocol import (
    ALERT_STATES,
    ELEMENT_KINDS,
    HEALTH_STATUSES,
    ISA_STATES,
    KIND_SENSOR,
    SEVERITIES,
    SPACE_KINDS,
)

# Same patterns as common.json (jsonschema applies "pattern" with re.search, as here).
QUANTITY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_URI_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

_LIMIT_KEYS = ("low", "high", "low_critical", "high_critical")
_OPTIONAL_ELEMENT_TEXT = ("family", "type", "name", "mark", "level", "space")
_ALERT_TEXT = ("building_id", "message")
_ALERT_OPTIONAL_NUMBERS = ("value", "threshold")
_ALERT_OPTIONAL_TEXT = ("sensor_id", "recommended_action", "change", "acknowledged_by", "ack_note", "shelved_by",
                        "shelve_reason")
_ALERT_OPTIONAL_TIMESTAMPS = ("acknowledged_ts", "shelved_until")


def is_number(value: object) -> TypeGuard[float]:
    """A finite int or float, not a bool (``x - x == 0`` is false for NaN and infinities)."""
    kind = type(value)
    return kind is int or (kind is float and value - value == 0)  # type: ignore[operator]


def is_text(value: object, min_length: int = 0) -> TypeGuard[str]:
    return type(value) is str and len(value) >= min_length


def _is_timestamp(value: object) -> bool:
    return is_number(value) and value >= 0


def _optional_text(record: dict[str, Any], keys: Iterable[str]) -> bool:
    for key in keys:
        if key in record and type(record[key]) is not str:
            return False
    return True


def _location_ok(location: object) -> bool:
    if type(location) is not list and type(location) is not tuple:
        return False
    return len(location) == 3 and all(map(is_number, location))


def _parameters_ok(parameters: object) -> bool:
    if type(parameters) is not dict:
        return False
    for value in parameters.values():
        kind = type(value)
        if kind is str or kind is bool or kind is int:
            continue
        if kind is float and value - value == 0:
            continue
        return False
    return True


def _limits_ok(limits: object) -> bool:
    if type(limits) is not dict:
        return False
    for key in _LIMIT_KEYS:
        if key in limits and not is_number(limits[key]):
            return False
    return True


def sensor_ok(sensor: object) -> bool:
    if type(sensor) is not dict:
        return False
    s: dict[str, Any] = sensor
    if not (is_text(s.get("sensor_id"), 1) and is_text(s.get("unit"), 1)):
        return False
    quantity = s.get("quantity")
    if not (is_text(quantity) and QUANTITY_PATTERN.search(quantity)):
        return False
    if "source" in s:
        source = s["source"]
        if not (is_text(source) and SOURCE_URI_PATTERN.search(source)):
            return False
    if "host" in s and type(s["host"]) is not str:
        return False
    return "limits" not in s or _limits_ok(s["limits"])


def element_ok(element: object) -> bool:
    """Certainly a valid BuildingConfig element (``BuildingConfig.json#/$defs/element``)?"""
    if type(element) is not dict:
        return False
    e: dict[str, Any] = element
    kind = e.get("kind")
    if not (
        is_text(e.get("unique_id"), 1)
        and type(e.get("element_id")) is int
        and kind in ELEMENT_KINDS
        and is_text(e.get("category"), 1)
        and _location_ok(e.get("location"))
        and _parameters_ok(e.get("parameters"))
        and _optional_text(e, _OPTIONAL_ELEMENT_TEXT)
    ):
        return False
    if "sensor" in e:
        return sensor_ok(e["sensor"])
    return kind != KIND_SENSOR


def space_ok(space: object) -> bool:
    """Certainly a valid BuildingConfig space (``BuildingConfig.json#/$defs/space``)?"""
    if type(space) is not dict:
        return False
    s: dict[str, Any] = space
    return (
        is_text(s.get("unique_id"), 1)
        and type(s.get("element_id")) is int
        and is_text(s.get("name"))
        and is_text(s.get("number"))
        and is_text(s.get("level"))
        and s.get("kind") in SPACE_KINDS
        and ("outline" not in s or _outline_ok(s["outline"]))
    )


def _outline_ok(outline: object) -> bool:
    """A space's optional ``outline``: loops of at least three finite ``[x, y]`` points."""
    if type(outline) is not list:
        return False
    for loop in outline:
        if type(loop) is not list or len(loop) < 3:
            return False
        for point in loop:
            if type(point) is not list or len(point) != 2 or not (is_number(point[0]) and is_number(point[1])):
                return False
    return True


def level_ok(level: object) -> bool:
    """Certainly a valid BuildingConfig level (``BuildingConfig.json#/$defs/level``)?"""
    if type(level) is not dict:
        return False
    lv: dict[str, Any] = level
    return is_text(lv.get("unique_id"), 1) and is_text(lv.get("name")) and is_number(lv.get("elevation_m"))


def _probability_ok(value: object) -> bool:
    return is_number(value) and 0 <= value <= 1


def health_record_ok(record: object) -> bool:
    """Certainly a valid HealthRecord?"""
    if type(record) is not dict:
        return False
    r: dict[str, Any] = record
    score = r.get("health_score")
    if not (is_number(score) and 0 <= score <= 100):
        return False
    if "failure_probability" not in r or "ttf_hours" not in r:
        return False
    probability, ttf = r["failure_probability"], r["ttf_hours"]
    if probability is not None and not _probability_ok(probability):
        return False
    if ttf is not None and not (is_number(ttf) and ttf >= 0):
        return False
    drivers = r.get("drivers")
    if type(drivers) is not list and type(drivers) is not tuple:
        return False
    return (
        all(type(d) is str for d in drivers)
        and is_text(r.get("unique_id"), 1)
        and type(r.get("element_id")) is int
        and r.get("status") in HEALTH_STATUSES
        and _is_timestamp(r.get("updated_ts"))
    )


def alert_ok(alert: object) -> bool:
    """Certainly a valid Alert?"""
    if type(alert) is not dict:
        return False
    a: dict[str, Any] = alert
    if not (
        is_text(a.get("alert_id"), 1)
        and is_text(a.get("unique_id"), 1)
        and is_text(a.get("kind"), 1)
        and type(a.get("element_id")) is int
        and a.get("severity") in SEVERITIES
        and a.get("state") in ALERT_STATES
        and _is_timestamp(a.get("raised_ts"))
        and _is_timestamp(a.get("updated_ts"))
        and all(is_text(a.get(key)) for key in _ALERT_TEXT)
        and _optional_text(a, _ALERT_OPTIONAL_TEXT)
    ):
        return False
    for key in _ALERT_OPTIONAL_NUMBERS:
        if key in a and not is_number(a[key]):
            return False
    for key in _ALERT_OPTIONAL_TIMESTAMPS:
        if key in a and not _is_timestamp(a[key]):
            return False
    if ("isa_state" in a and a["isa_state"] not in ISA_STATES) or ("escalated" in a and type(a["escalated"]) is not bool):
        return False
    return "failure_probability" not in a or _probability_ok(a["failure_probability"])


def is_array(value: object) -> bool:
    return type(value) is list or type(value) is tuple


def all_arrays(items: list[Any]) -> bool:
    """Every item a list or tuple (one C-level pass: fast for 100k ingest readings)."""
    return set(map(type, items)) <= {list, tuple}


def all_ok(item_ok: Callable[[object], bool]) -> Callable[[list[Any]], bool]:
    def check(items: list[Any]) -> bool:
        return all(map(item_ok, items))

    return check


def ingest_request_ok(message: object) -> bool:
    """An ``ingest`` request whose envelope and body ``ingest.request.json`` certainly accepts
    (the readings' contents are the sidecar's to check one by one). The sidecar calls it with the
    readings emptied, so it costs a few dictionary look-ups instead of a ~0.3 ms jsonschema pass
    on every ``ingest``: on the way of every alert an ingested reading raises."""
    if type(message) is not dict:
        return False
    body = message.get("body")
    return (type(message.get("v")) is int and message["v"] == 1          # common.json version: const 1
            and message.get("type") == "ingest" and is_text(message.get("id"), 1)
            and _is_timestamp(message.get("ts")) and is_text(message.get("token"))
            and type(body) is dict and type(body.get("readings")) is list
            and set(map(type, body["readings"])) <= {list})   # stricter than the schema: msgpack decodes lists
