"""Discovered points -> proposals (Brick class, quantity, unit, the element each belongs to, with a
confidence) -> a BuildingConfig with the accepted ones bound as sensors.

This is what the review in Revit does with the proposals (accept, reject, edit, then write the IoT
parameters); ``bind`` does the same for a BuildingConfig file, so a building can be monitored
before anyone opens Revit: every accepted point becomes a sensor element at its host's location,
hosted by the equipment or placed in the room it was matched to, with the shared parameters
the extension would write.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shared_schemas.protocol import PARAM_HOST, PARAM_QUANTITY, PARAM_SENSOR_ID, PARAM_SOURCE, PARAM_UNIT
from sidecar.onboarding.classify import PointClassifier, classify
from sidecar.onboarding.discovery import DiscoveredPoint
from sidecar.onboarding.matching import ElementMatcher


@dataclass(slots=True)
class Proposal:
    name: str
    description: str
    source: str
    brick_class: str
    quantity: str
    unit: str
    class_confidence: float
    element: str          # unique_id of the equipment or space; "" when none
    element_kind: str     # "equipment", "space" or "none"
    element_label: str
    match_confidence: float
    match_reason: str
    sensor_id: str

    @property
    def confidence(self) -> float:
        return min(self.class_confidence, self.match_confidence)

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 3)}


def _sensor_id(point: DiscoveredPoint, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", point.name.lower()).strip("-") or "point"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def propose(points: Sequence[DiscoveredPoint], building: dict[str, Any],
            classifier: PointClassifier | None = None) -> list[Proposal]:
    """One proposal per point: what it is (class, quantity, unit) and where it belongs."""
    classes = classify([(p.name, p.description, p.units) for p in points], classifier)
    matcher = ElementMatcher(building)
    labels = {e["unique_id"]: e.get("mark") or e.get("name") or e["unique_id"] for e in building.get("elements", [])}
    labels.update({s["unique_id"]: f"{s['number']} {s['name']}" for s in building.get("spaces", [])})
    taken = {e["sensor"]["sensor_id"] for e in building.get("elements", []) if "sensor" in e}
    out = []
    for point, found in zip(points, classes):
        match = matcher.match(point.name, point.description)
        out.append(Proposal(point.name, point.description, point.source, found.brick_class, found.quantity or "value",
                            found.unit or point.units or "1", round(found.confidence, 3), match.unique_id or "",
                            match.kind, labels.get(match.unique_id or "", ""), round(match.confidence, 3),
                            match.reason, _sensor_id(point, taken)))
    return out


def bind(building: dict[str, Any], proposals: Sequence[Proposal], min_confidence: float = 0.5) -> dict[str, Any]:
    """A copy of ``building`` with every proposal at ``min_confidence`` or above bound as a sensor."""
    elements = {e["unique_id"]: e for e in building.get("elements", [])}
    spaces = {s["unique_id"]: s for s in building.get("spaces", [])}
    bound = dict(building)
    new_elements = list(building.get("elements", []))
    next_id = max([int(e.get("element_id", 0)) for e in new_elements] + [0]) + 1
    for proposal in proposals:
        if proposal.confidence < min_confidence or not proposal.element:
            continue
        host = elements.get(proposal.element)
        space = spaces.get(proposal.element)
        sensor: dict[str, Any] = {"sensor_id": proposal.sensor_id, "quantity": proposal.quantity,
                                  "unit": proposal.unit, "source": proposal.source}
        parameters: dict[str, Any] = {PARAM_SENSOR_ID: proposal.sensor_id, PARAM_QUANTITY: proposal.quantity,
                                      PARAM_UNIT: proposal.unit, PARAM_SOURCE: proposal.source,
                                      "Brick Class": proposal.brick_class, "Description": proposal.description
                                      or proposal.name}
        element: dict[str, Any] = {"unique_id": f"onboarded-{proposal.sensor_id}", "element_id": next_id,
                                   "kind": "sensor", "category": "OST_DataDevices", "family": "RPI_Onboarded Point",
                                   "type": proposal.brick_class, "name": proposal.name}
        next_id += 1
        if host is not None:
            sensor["host"] = host["unique_id"]
            parameters[PARAM_HOST] = host["unique_id"]
            for key in ("level", "space"):
                if key in host:
                    element[key] = host[key]
            element["location"] = list(host.get("location", [0.0, 0.0, 0.0]))
        elif space is not None:
            element["level"] = space["level"]
            element["space"] = space["unique_id"]
            element["location"] = [0.0, 0.0, 0.0]
        else:
            continue
        element["parameters"] = parameters
        element["sensor"] = sensor
        new_elements.append(element)
    bound["elements"] = new_elements
    return bound
