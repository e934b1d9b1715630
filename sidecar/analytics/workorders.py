"""Maintenance work orders raised automatically when failure probability reaches the threshold.

``WorkOrderLog`` appends one JSON object per line to ``workorders.jsonl`` in the data directory
(append-only, fsync'd: a crash never loses an accepted order) and does not raise a second open
order for the same equipment while one is open. The service sends the returned ``WorkOrder`` to
the notification channels.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

WORK_ORDER_THRESHOLD = 0.7


@dataclass
class WorkOrder:
    work_order_id: str
    unique_id: str
    failure_probability: float
    recommended_action: str
    evidence: list[str]
    due_ts: float
    created_ts: float
    priority: str
    status: str = "open"
    ttf_hours: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def due_in_hours(p: float, ttf_hours: float | None) -> float:
    """Due date: half the estimated time to failure, else by probability (24 h at p >= 0.9, 72 h
    at 0.8, a week below)."""
    if ttf_hours is not None and ttf_hours > 0:
        return max(1.0, 0.5 * ttf_hours)
    return 24.0 if p >= 0.9 else 72.0 if p >= 0.8 else 168.0


def recommend_action(drivers: list[str], equipment_kind: str = "equipment") -> str:
    text = " ".join(drivers).lower()
    if "fc13" in text or "fc7" in text:
        return f"Inspect the {equipment_kind} coil valves and actuators; verify capacity against set point."
    if "fc2" in text or "fc3" in text or "fc8" in text or "fc10" in text:
        return f"Check the {equipment_kind} mixed/outdoor/return air sensors and the economiser dampers."
    if "fc1" in text:
        return f"Check the {equipment_kind} supply fan, belts and duct static pressure sensor."
    if "temperature" in text or "heat" in text:
        return f"Inspect the {equipment_kind} for overheating: cooling, lubrication, load."
    if "vibration" in text or "torque" in text or "wear" in text:
        return f"Inspect the {equipment_kind} bearings, tooling and drive train; replace worn parts."
    return f"Inspect the {equipment_kind}; the evidence is listed in this work order."


class WorkOrderLog:
    def __init__(self, path: Path, threshold: float = WORK_ORDER_THRESHOLD) -> None:
        self.path = Path(path)
        self.threshold = threshold
        self.open_: dict[str, WorkOrder] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    order = WorkOrder(**rec)
                except (ValueError, TypeError):
                    continue  # a torn last line from a crash must not stop the service
                if order.status == "open":
                    self.open_[order.unique_id] = order
                else:
                    self.open_.pop(order.unique_id, None)

    def _append(self, order: WorkOrder) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self.path.open("rb") as check:
                check.seek(-1, os.SEEK_END)
                torn = check.read(1) != b"\n"
        with self.path.open("a", encoding="utf-8") as fh:
            if torn:  # finish a line a crash left half-written, so this record stays parseable
                fh.write("\n")
            fh.write(json.dumps(asdict(order), default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def consider(self, unique_id: str, failure_probability: float, drivers: list[str],
                 ttf_hours: float | None = None, equipment_kind: str = "equipment",
                 now: float | None = None) -> WorkOrder | None:
        """Raise (and log) a work order if ``p >= threshold`` and none is open for the equipment."""
        if failure_probability < self.threshold or unique_id in self.open_:
            return None
        now = time.time() if now is None else now
        order = WorkOrder(
            work_order_id=uuid.uuid4().hex, unique_id=unique_id,
            failure_probability=round(float(failure_probability), 4),
            recommended_action=recommend_action(drivers, equipment_kind),
            evidence=list(drivers) + [f"failure probability {failure_probability:.0%}"],
            due_ts=now + 3600.0 * due_in_hours(failure_probability, ttf_hours), created_ts=now,
            priority="high" if failure_probability >= 0.9 else "medium", ttf_hours=ttf_hours)
        self._append(order)
        self.open_[unique_id] = order
        return order

    def close(self, unique_id: str, now: float | None = None) -> WorkOrder | None:
        order = self.open_.pop(unique_id, None)
        if order is None:
            return None
        closed = WorkOrder(**{**asdict(order), "status": "closed"})
        closed.extra = {"closed_ts": time.time() if now is None else now}
        self._append(closed)
        return closed
