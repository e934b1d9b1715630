"""The building the sidecar monitors, built from a BuildingConfig (PROTOCOL.md).

Sensors get a dense index (0..n-1) so the pipeline can keep per-sensor state in numpy arrays;
``limit_arrays`` holds every sensor's effective limits in that order.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.limits import Limits, effective_limits

DEFAULT_SOURCE = "sim:"
# Schemes whose readings arrive by `ingest` only: no source task runs for them.
INGEST_ONLY_SCHEMES = ("ingest",)


class ModelError(ValueError):
    """The BuildingConfig cannot be used; ``field`` names the offending field."""

    def __init__(self, field_path: str, message: str):
        super().__init__(f"{field_path}: {message}")
        self.field = field_path
        self.message = message


@dataclass(frozen=True, slots=True)
class Element:
    unique_id: str
    element_id: int  # -1 when the config had none
    kind: str
    category: str
    name: str
    mark: str
    family: str
    type: str
    level: str
    space: str
    parameters: Mapping[str, Any]

    @property
    def label(self) -> str:
        return self.name or self.mark or self.family or self.category or self.unique_id


@dataclass(frozen=True, slots=True)
class Sensor:
    index: int
    sensor_id: str
    unique_id: str            # the sensor element's own unique_id
    element_id: int  # -1 when the config had none
    quantity: str
    unit: str
    source: str               # the URI, ``sim:`` when the config had none
    scheme: str               # the URI's scheme (``sim``, ``ingest``, ``mqtt``, ...)
    host: str | None          # unique_id of the equipment it measures, when known
    limits: Limits
    label: str                # what humans call it, for messages and drivers

    @property
    def alert_unique_id(self) -> str:
        """Alerts land on the equipment the sensor measures; on the sensor itself otherwise."""
        return self.host or self.unique_id


def source_scheme(uri: str) -> str:
    scheme, sep, _ = uri.partition(":")
    return scheme.lower() if sep else ""


@dataclass(slots=True)
class BuildingModel:
    building_id: str
    title: str
    elements: dict[str, Element]
    sensors: list[Sensor]
    sensor_index: dict[str, int]
    hosted: dict[str, list[int]]          # equipment unique_id -> indices of its sensors
    sensor_of_element: dict[str, int] = field(default_factory=dict)  # sensor element -> its sensor
    warnings: list[str] = field(default_factory=list)
    # Limits of every sensor in index order (nan: no limit), for vectorised checks.
    low: np.ndarray = field(default_factory=lambda: np.empty(0))
    high: np.ndarray = field(default_factory=lambda: np.empty(0))
    low_critical: np.ndarray = field(default_factory=lambda: np.empty(0))
    high_critical: np.ndarray = field(default_factory=lambda: np.empty(0))
    deadband: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def sensor_count(self) -> int:
        return len(self.sensors)

    def sensors_of(self, unique_id: str) -> list[int]:
        """Indices of the sensors that determine ``unique_id``'s health."""
        element = self.elements.get(unique_id)
        if element is None:
            return []
        own = self.sensor_of_element.get(unique_id)
        if own is not None:
            return [own]
        return self.hosted.get(unique_id, [])

    def health_subjects(self) -> list[str]:
        """Elements that get a HealthRecord: every equipment and every sensor element."""
        return [uid for uid, e in self.elements.items()
                if e.kind == protocol.KIND_EQUIPMENT or uid in self.sensor_of_element]

    def subjects_of_sensor(self, index: int) -> tuple[str, ...]:
        """The health subjects a sensor's state feeds: its own element and its host."""
        sensor = self.sensors[index]
        return (sensor.unique_id, sensor.host) if sensor.host else (sensor.unique_id,)

    def sensors_by_scheme(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for sensor in self.sensors:
            groups.setdefault(sensor.scheme, []).append(sensor.index)
        return groups


def _text(raw: Mapping[str, Any], key: str, where: str, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            raise ModelError(f"{where}.{key}", "required")
        return ""
    if not isinstance(value, str):
        raise ModelError(f"{where}.{key}", f"must be a string, got {type(value).__name__}")
    if required and not value:
        raise ModelError(f"{where}.{key}", "must not be empty")
    return value


def _element_id(raw: Mapping[str, Any], where: str) -> int:
    value = raw.get("element_id")
    if value is None:
        return -1  # unknown: the record still travels, keyed by unique_id
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{where}.element_id", f"must be an integer, got {type(value).__name__}")
    return value


def build_model(config: Any) -> BuildingModel:
    """A BuildingModel from a BuildingConfig map; raises ModelError for unusable input and
    collects everything merely odd in ``warnings``."""
    if not isinstance(config, dict):
        raise ModelError("body", "must be a BuildingConfig map")
    building_id = _text(config, "building_id", "body", required=True)
    model_info = config.get("model") or {}
    title = model_info.get("title", "") if isinstance(model_info, dict) else ""
    raw_elements = config.get("elements", [])
    if not isinstance(raw_elements, list):
        raise ModelError("body.elements", "must be a list")
    warnings: list[str] = []
    elements: dict[str, Element] = {}
    sensor_maps: list[tuple[str, Element, dict[str, Any]]] = []
    for i, raw in enumerate(raw_elements):
        where = f"body.elements[{i}]"
        if not isinstance(raw, dict):
            raise ModelError(where, "must be a map")
        unique_id = _text(raw, "unique_id", where, required=True)
        kind = _text(raw, "kind", where, required=True)
        if kind not in protocol.ELEMENT_KINDS:
            raise ModelError(f"{where}.kind", f"must be one of {', '.join(protocol.ELEMENT_KINDS)}, got {kind!r}")
        if unique_id in elements:
            warnings.append(f"element {unique_id}: duplicate unique_id at elements[{i}], ignored")
            continue
        parameters = raw.get("parameters") or {}
        element = Element(
            unique_id=unique_id, element_id=_element_id(raw, where), kind=kind,
            category=_text(raw, "category", where), name=_text(raw, "name", where),
            mark=_text(raw, "mark", where), family=_text(raw, "family", where),
            type=_text(raw, "type", where), level=_text(raw, "level", where),
            space=_text(raw, "space", where),
            parameters=parameters if isinstance(parameters, dict) else {},
        )
        elements[unique_id] = element
        sensor = raw.get("sensor")
        if sensor is not None:
            if not isinstance(sensor, dict):
                raise ModelError(f"{where}.sensor", "must be a map")
            sensor_maps.append((f"{where}.sensor", element, sensor))
            if kind != protocol.KIND_SENSOR:
                warnings.append(f"element {unique_id}: kind {kind!r} carries a sensor map; treated as a sensor")
        elif kind == protocol.KIND_SENSOR:
            warnings.append(f"element {unique_id}: kind 'sensor' without a sensor map; it has no data")

    sensors: list[Sensor] = []
    sensor_index: dict[str, int] = {}
    hosted: dict[str, list[int]] = {}
    for where, element, raw in sensor_maps:
        sensor_id = _text(raw, "sensor_id", where, required=True)
        if sensor_id in sensor_index:
            warnings.append(f"sensor {sensor_id}: duplicate sensor_id on element {element.unique_id}, ignored "
                            f"(first defined on {sensors[sensor_index[sensor_id]].unique_id})")
            continue
        quantity = _text(raw, "quantity", where) or "unknown"
        if quantity not in protocol.QUANTITY_UNITS and not raw.get("limits"):
            warnings.append(f"sensor {sensor_id}: quantity {quantity!r} has no default limits and the sensor "
                            "none of its own: it is recorded but raises no limit alerts")
        unit = _text(raw, "unit", where) or protocol.QUANTITY_UNITS.get(quantity, "")
        source = _text(raw, "source", where) or DEFAULT_SOURCE
        scheme = source_scheme(source)
        if scheme not in protocol.SOURCE_SCHEMES:
            warnings.append(f"sensor {sensor_id}: source {source!r} has an unknown scheme; fed by ingest only")
        host = raw.get("host")
        if host is not None and not isinstance(host, str):
            raise ModelError(f"{where}.host", f"must be a string, got {type(host).__name__}")
        if not host:
            host = None
            if not element.space:  # a room sensor measures its space; one with neither is likely unbound
                warnings.append(f"sensor {sensor_id}: no host equipment and no room/space; its alerts and "
                                "health land on the sensor element")
        elif host not in elements:
            warnings.append(f"sensor {sensor_id}: host {host} is not in the configuration; "
                            "its alerts land on the sensor element")
            host = None
        limits_raw = raw.get("limits")
        if limits_raw is not None and not isinstance(limits_raw, dict):
            raise ModelError(f"{where}.limits", "must be a map")
        label = element.name or element.mark or sensor_id
        limits = effective_limits(quantity, unit, limits_raw, warnings, sensor_id)
        index = len(sensors)
        sensors.append(Sensor(index=index, sensor_id=sensor_id, unique_id=element.unique_id,
                              element_id=element.element_id, quantity=quantity, unit=unit, source=source,
                              scheme=scheme, host=host, limits=limits, label=label))
        sensor_index[sensor_id] = index
        if host:
            hosted.setdefault(host, []).append(index)

    def column(name: str) -> np.ndarray:
        return np.array([getattr(s.limits, name) for s in sensors], dtype=np.float64)

    model = BuildingModel(building_id=building_id, title=str(title), elements=elements, sensors=sensors,
                          sensor_index=sensor_index, hosted=hosted,
                          sensor_of_element={s.unique_id: s.index for s in sensors}, warnings=warnings,
                          low=column("low"), high=column("high"), low_critical=column("low_critical"),
                          high_critical=column("high_critical"), deadband=column("deadband"))
    return model
